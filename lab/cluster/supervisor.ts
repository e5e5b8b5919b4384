// The detached process `kube-router-lab up` starts: runs the lab cluster (cluster.ts) until SIGTERM/SIGINT,
// then tears it down. Its options arrive as one JSON argument; its phase and pids are in lab.json.
import { logger } from '../../src/observe/log.ts';
import { startCluster, type RunningCluster } from './cluster.ts';
import { clusterPaths, readClusterRecord, writeClusterRecord, type ClusterOptions } from './layout.ts';

const log = logger('lab-supervisor');

async function supervise(options: ClusterOptions): Promise<number> {
  // listening before start-up: a signal that arrives while starting stops the cluster right after it is up
  const stop = new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  let cluster: RunningCluster;
  try {
    cluster = await startCluster(options);
  } catch (e) {
    const paths = clusterPaths(options.stateDir);
    const record = readClusterRecord(paths);
    if (record) writeClusterRecord(paths, { ...record, phase: 'failed', error: (e as Error).message });
    log.error({ error: (e as Error).message }, 'lab cluster failed to start');
    return 1;
  }
  const signal = await stop;
  log.info({ signal }, 'stopping the lab cluster');
  await cluster.stop();
  return 0;
}

const options = JSON.parse(process.argv[2] ?? '{}') as ClusterOptions;
// a bug in a lab part must not leave a supervisor that looks alive: record it and exit (`down` cleans up)
process.on('uncaughtException', (e) => {
  log.fatal({ err: e }, 'lab supervisor crashed');
  const paths = clusterPaths(options.stateDir);
  const record = readClusterRecord(paths);
  if (record) writeClusterRecord(paths, { ...record, phase: 'failed', error: `supervisor crashed: ${e.message}` });
  process.exit(1);
});
process.exitCode = await supervise(options);
process.exit();
