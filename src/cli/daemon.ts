// The daemon's life: start-up in upstream's order (health server, caches, node identity, metrics, controllers),
// then run until SIGTERM/SIGINT and shut everything down cleanly. Kernel state is left in place on exit.
import type { Node } from 'kubernetes-types/core/v1.js';
import type { Options } from '../config/options.ts';
import { VERSION } from './version.ts';
import { KubeClient } from '../kube/client.ts';
import { ClusterCache, type ResourceName } from '../kube/cluster-cache.ts';
import { loadClientConfig } from '../kube/kubeconfig.ts';
import { bestNodeIP, nodeName, primaryNodeIP } from '../kube/node-identity.ts';
import { EventRecorder } from '../observe/events.ts';
import { HealthRegistry, startHealthServer, startMetricsServer, type ServerHandle } from '../observe/health.ts';
import { PPROF_PORT, startProfilingServer } from '../observe/profiling.ts';
import { logger } from '../observe/log.ts';
import { metrics } from '../observe/metrics.ts';
import { ControllerRunner, FirstSyncTurns } from '../controllers/runtime.ts';
import type { ControllerContext, NodeIdentity } from '../controllers/context.ts';
import { beforeCachesFill, buildControllers, cleanupConfig, firstSyncOrder, resourcesFor } from './controllers.ts';
import { limitHeapGrowth } from './heap-growth.ts';

const log = logger('main');

function identityOf(name: string, node: Node, options: Options): NodeIdentity | string {
  const primary = primaryNodeIP(node);
  if (!primary.ok) return `node ${name}: ${primary.error}`;
  const identity: NodeIdentity = { name, primaryIp: primary.value };
  const v4 = bestNodeIP(node, 4);
  const v6 = bestNodeIP(node, 6);
  if (v4) identity.ipv4 = v4;
  if (v6) identity.ipv6 = v6;
  // As upstream: an enabled family the node has no address for is a start-up error.
  if (options.enableIpv4 && !v4) return `--enable-ipv4 is set but node ${name} has no IPv4 address`;
  if (options.enableIpv6 && !v6) return `--enable-ipv6 is set but node ${name} has no IPv6 address`;
  return identity;
}

function waitForSignal(): Promise<string> {
  return new Promise((resolve) => {
    const onSignal = (sig: string) => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      resolve(sig);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

/** Runs kube-router until a signal arrives; returns the process exit code. */
export async function runDaemon(options: Options): Promise<number> {
  limitHeapGrowth();
  metrics.buildInfo.set({ goversion: process.version, version: VERSION }, 1);
  if (options.cleanupConfig) {
    await cleanupConfig(options);
    log.info('cleanup done');
    return 0;
  }
  const health = new HealthRegistry();
  const servers: ServerHandle[] = [];
  // The health port is bound first so a port clash fails start-up before anything else happens.
  if (options.healthPort > 0) servers.push(await startHealthServer(health, options.healthAddr, options.healthPort));
  if (options.enablePprof) servers.push(await startProfilingServer({ address: options.pprofAddress, port: PPROF_PORT }));

  const config = loadClientConfig({ kubeconfigPath: options.kubeconfig, master: options.master });
  if (!config.ok) {
    log.fatal(config.error);
    return 1;
  }
  const client = new KubeClient(config.value, { version: VERSION });
  const resources: ResourceName[] = resourcesFor(options);
  const cache = new ClusterCache(client, resources);
  const stopAll = async () => {
    await cache.stop();
    await Promise.all(servers.map((s) => s.close()));
    client.close();
  };
  const name = nodeName({ hostnameOverride: options.hostnameOverride, env: process.env });
  const stopEarlyWork = beforeCachesFill(cache, options, name);
  cache.start();
  try {
    await cache.waitForSync(options.cacheSyncTimeoutMs);
  } catch (err) {
    log.fatal({ err }, 'caches did not sync within --cache-sync-timeout');
    await stopAll();
    return 1;
  }

  const nodes = cache.store('nodes');
  const node = nodes.get(name);
  if (!node) {
    log.fatal({ node: name }, 'this node is not in the cluster (set --hostname-override or NODE_NAME)');
    await stopAll();
    return 1;
  }
  const identity = identityOf(name, node, options);
  if (typeof identity === 'string') {
    log.fatal(identity);
    await stopAll();
    return 1;
  }
  log.info({ node: identity, version: VERSION }, 'starting kube-router');

  if (options.metricsPort > 0) servers.push(await startMetricsServer(options.metricsAddr, options.metricsPort, options.metricsPath));

  const events = new EventRecorder({ client, host: name });
  const ctx: ControllerContext = { options, node: identity, currentNode: () => nodes.get(name), cache, client, events, health };
  let controllers: Awaited<ReturnType<typeof buildControllers>>;
  try {
    controllers = await buildControllers(ctx);
  } catch (err) {
    // Exit (non-zero, so the pod restarts and shows why) rather than run on without the failed controller.
    log.fatal({ err }, 'a controller could not start');
    await stopAll();
    return 1;
  }
  stopEarlyWork();
  const firstSyncTurns = new FirstSyncTurns();
  const runners = firstSyncOrder(controllers).map((c) => ({ runner: new ControllerRunner(c.controller, { health, firstSyncTurns }), c }));
  const unsubscribe = cache.onChange((change) => {
    for (const { runner, c } of runners) if (c.wants(change)) runner.notify({ kind: change.kind, key: change.key });
  });
  for (const { runner } of runners) runner.start();
  health.setPhase('running');

  const signal = await waitForSignal();
  log.info({ signal }, 'shutting down');
  health.setPhase('stopping');
  unsubscribe();
  await Promise.all(runners.map(({ runner }) => runner.stop()));
  for (const c of controllers) await c.shutdown?.();
  await events.flush();
  await stopAll();
  return 0;
}
