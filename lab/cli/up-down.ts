// `kube-router-lab up` (start the detached supervisor, wait until the lab is ready, print a summary) and
// `kube-router-lab down` (stop it, remove every namespace and process the lab made, and its state directory).
import { resolve } from 'node:path';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { isAlive, killPids, listNetns, pidsWithCommandLine } from '../netns/exec.ts';
import { readNetwork } from '../netns/network.ts';
import { teardownLab } from '../pods/runtime.ts';
import { nodeCommand } from '../cluster/launch.ts';
import { routesPodCidrs } from '../cluster/pod-routes.ts';
import { clusterPaths, DEFAULT_PREFIX, DEFAULT_STATE_DIR, labTimeoutScale, readClusterRecord, type ClusterOptions, type ClusterRecord } from '../cluster/layout.ts';
import { supervisorAlive, UsageError } from './lab-ref.ts';

const UP_TIMEOUT_MS = 150_000 * labTimeoutScale();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function tail(file: string, lines: number): string {
  if (!existsSync(file)) return '';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

/**
 * Starts the lab and resolves with its record once it is ready; throws (lab torn down) when it failed.
 * `onPoll` sees the record as the supervisor last wrote it, on every poll (the demo shows progress from it).
 */
export async function up(options: ClusterOptions, onPoll?: (record: ClusterRecord | undefined) => void): Promise<ClusterRecord> {
  const paths = clusterPaths(options.stateDir);
  const previous = readClusterRecord(paths);
  if (previous && supervisorAlive(previous)) throw new UsageError(`a lab is already up in ${paths.root} (kube-router-lab down first)`);
  if (previous) throw new UsageError(`a previous lab left its state in ${paths.root} (phase ${previous.phase}); run kube-router-lab down first`);
  if (readNetwork(options.prefix)) throw new UsageError(`namespaces of a lab with prefix ${options.prefix} exist; run kube-router-lab down first`);
  mkdirSync(paths.logs, { recursive: true });
  const log = openSync(paths.supervisorLog, 'a');
  const [node, ...args] = nodeCommand('supervisor', [JSON.stringify(options)]);
  const child = spawn(node!, args, {
    detached: true, stdio: ['ignore', log, log], env: process.env,
  });
  closeSync(log);
  child.unref();
  const deadline = Date.now() + UP_TIMEOUT_MS;
  for (;;) {
    await sleep(150);
    const record = readClusterRecord(paths);
    onPoll?.(record);
    if (record?.phase === 'ready') return record;
    const dead = child.pid === undefined || !isAlive(child.pid) || child.exitCode !== null;
    if (record?.phase === 'failed' || dead || Date.now() > deadline) {
      const why = record?.error ?? (dead ? 'the supervisor exited' : `not ready after ${UP_TIMEOUT_MS / 1000} s`);
      // a supervisor that failed tears its lab down and exits; one that hangs is stopped here
      const exitBy = Date.now() + 30_000;
      while (child.pid !== undefined && isAlive(child.pid) && Date.now() < exitBy) await sleep(100);
      if (child.pid !== undefined && isAlive(child.pid)) await killPids([child.pid]);
      await teardownLab({ prefix: options.prefix });
      throw new Error(`lab did not come up: ${why}\n--- ${paths.supervisorLog} (last lines)\n${tail(paths.supervisorLog, 10)}\n`
        + `(logs kept in ${paths.logs}; kube-router-lab down --state-dir ${paths.root} removes them)`);
    }
  }
}

export function upSummary(record: ClusterRecord): string {
  const o = record.options;
  const seconds = ((Date.parse(record.readyAt ?? record.startedAt) - Date.parse(record.startedAt)) / 1000).toFixed(1);
  const lines = [
    `lab "${o.prefix}" is up (${seconds} s): ${record.nodes.length} nodes, ${o.kubeRouter ? 'kube-router healthy on each' : 'no kube-router'}`
      + `${o.kubeRouter && routesPodCidrs(o.kubeRouterArgs) ? ', BGP pod routes between all nodes' : ''}${o.staticRoutes ? ', static pod routes' : ''}`,
    ...record.nodes.map((n) => `  ${n.name.padEnd(12)} ${n.ip.padEnd(16)} pod CIDR ${n.podCidr ?? '?'}`),
    ...(record.external ? [`  ${'external'.padEnd(12)} ${record.external.ip.padEnd(16)} ${record.external.netns}, routes ${record.external.routes.join(' ')} via ${record.external.via}`] : []),
    `API server  ${record.apiUrl ?? '?'}   state ${clusterPaths(o.stateDir).root}`,
    `kubeconfig  ${record.kubeconfig ?? '?'}`,
    `try: kubectl --kubeconfig ${record.kubeconfig ?? '?'} get nodes -o wide`,
  ];
  return lines.join('\n');
}

/**
 * Stops the supervisor (which tears the lab down), then removes whatever is left: processes in the lab's
 * namespaces, the namespaces, the kernel state and the state directory. Safe when nothing is up.
 */
export async function down(opts: { stateDir: string; prefix?: string }): Promise<{ removed: boolean; leftNamespaces: string[] }> {
  const paths = clusterPaths(opts.stateDir);
  const record = readClusterRecord(paths);
  // Without a record, only a prefix that surely belongs to this state dir may be torn down: the one given, or
  // the default prefix for the default state dir. Another lab's namespaces must never be touched.
  const isDefaultDir = resolve(opts.stateDir) === resolve(DEFAULT_STATE_DIR);
  const prefix = record?.options.prefix ?? opts.prefix ?? (isDefaultDir ? DEFAULT_PREFIX : undefined);
  if (prefix === undefined) return { removed: false, leftNamespaces: [] };
  let removed = false;
  if (record && supervisorAlive(record)) {
    process.kill(record.supervisorPid, 'SIGTERM');
    const deadline = Date.now() + 30_000;
    while (isAlive(record.supervisorPid) && Date.now() < deadline) await sleep(100);
    if (isAlive(record.supervisorPid)) await killPids([record.supervisorPid]);
    removed = true;
  }
  // whatever the supervisor started runs inside the node namespaces (kube-router, socat, agents): teardownLab
  // kills every process in them before deleting them, also after a supervisor that died without cleaning up
  if (readNetwork(prefix)) removed = true;
  const leftNamespaces = await teardownLab({ prefix });
  // Processes that outlived their namespace's name (e.g. after a crash) are found by what they run with:
  // the lab's pod-agent sockets, the per-node gobgpd API sockets, the state directory.
  const orphans = pidsWithCommandLine([`/run/krt-lab/${prefix}/`, `/run/kube-router/gobgpd-${prefix}-n`, resolve(opts.stateDir) + '/']);
  if (orphans.length > 0) {
    await killPids(orphans);
    removed = true;
  }
  if (existsSync(paths.root) && (record || existsSync(paths.record))) {
    rmSync(paths.root, { recursive: true, force: true });
    removed = true;
  }
  return { removed, leftNamespaces: leftNamespaces.length > 0 ? leftNamespaces : listNetns().filter((n) => n.startsWith(`${prefix}-`)) };
}
