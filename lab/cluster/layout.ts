// The lab cluster's state directory: where `kube-router-lab up` records what it started (lab.json), and where
// the API server's files, per-node CNI files and logs live. Later CLI invocations find the lab through it.
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readJson, writeJson } from '../netns/state.ts';

export const DEFAULT_STATE_DIR = '.lab';
export const DEFAULT_PREFIX = 'krl';
export const DEFAULT_HEALTH_PORT = 20244;
/**
 * Factor on the lab's start-up deadlines (`KUBE_ROUTER_LAB_TIMEOUT_SCALE`, default 1): the VM runs under TCG
 * emulation, where a kube-router takes minutes to start, so `vm-run` and `up --vm` set it (see vm-run.ts).
 */
export function labTimeoutScale(): number {
  const scale = Number(process.env['KUBE_ROUTER_LAB_TIMEOUT_SCALE']);
  return Number.isFinite(scale) && scale >= 1 ? scale : 1;
}

/** Ranges kube-router is told externalIPs and load-balancer IPs come from (beside the 198.19.0.0/20 services). */
export const DEFAULT_EXTERNAL_IP_RANGE = '198.19.32.0/24';
export const DEFAULT_LOADBALANCER_IP_RANGE = '198.19.48.0/24';

export interface ClusterOptions {
  stateDir: string;
  prefix: string;
  nodes: number;
  clusterCidr: string;
  serviceCidr: string;
  underlayCidr: string;
  kubeRouter: boolean;
  /** Extra kube-router arguments (split on whitespace), after --kubeconfig and --hostname-override. */
  kubeRouterArgs: string[];
  staticRoutes: boolean;
  /** --service-external-ip-range for kube-router unless given in kubeRouterArgs (default DEFAULT_EXTERNAL_IP_RANGE). */
  externalIpRange?: string;
  /** --loadbalancer-ip-range for kube-router unless given in kubeRouterArgs (default DEFAULT_LOADBALANCER_IP_RANGE). */
  loadBalancerIpRange?: string;
}

export type Phase = 'starting' | 'ready' | 'failed' | 'stopping';

export interface ProcessRecord {
  role: 'kube-router' | 'api-forwarder';
  node: string;
  pid: number;
  log: string;
  startedAt: string;
  exitedAt?: string;
  exitCode?: number | null;
  signal?: string | null;
}

/** How a recorded process ended: "exited with code 1", or "killed by SIGKILL" when a signal ended it. */
export function exitDescription(p: Pick<ProcessRecord, 'exitCode' | 'signal'>): string {
  if (p.signal) return `killed by ${p.signal}`;
  return `exited with code ${p.exitCode ?? '?'}`;
}

/** lab.json: written by the supervisor, read by every other command. */
export interface ClusterRecord {
  options: ClusterOptions;
  supervisorPid: number;
  phase: Phase;
  error?: string;
  startedAt: string;
  readyAt?: string;
  apiUrl?: string;
  kubeconfig?: string;
  nodes: { name: string; ip: string; podCidr?: string }[];
  /** The external client (`probe external …`): its namespace, address, and the routes it has via a node. */
  external?: { netns: string; ip: string; via: string; routes: string[] };
  processes: ProcessRecord[];
}

export interface ClusterPaths {
  root: string;
  record: string;
  supervisorLog: string;
  logs: string;
  api: string;
  /** Unix socket the node namespaces reach the API server through (see api-bridge.ts). */
  apiSocket: string;
  nodeDir(node: string): string;
  /** Where kube-router on `node` writes its conflist (KUBE_ROUTER_CNI_CONF_FILE). */
  kubeRouterConflist(node: string): string;
  /** A hostPath volume of a pod on `node`, on the real host (see nodeHostPath). */
  hostPath(node: string, path: string): string;
}

/**
 * The host paths that differ per node. Node namespaces share one filesystem, so a node's /etc/cni/net.d is its
 * lab CNI directory (where the lab kubelet reads kube-router's conflist) and its /opt/cni/bin and
 * /var/lib/kube-router are directories of its own; every other hostPath (/lib/modules, /run/xtables.lock, ...)
 * is the real host's, shared by all nodes as the kernel is, when it exists there: a missing one is made below the
 * node's directory (runtimes create missing bind sources; the lab never creates paths on the real host).
 */
export const PER_NODE_HOST_PATHS = ['/etc/cni/net.d', '/opt/cni/bin', '/var/lib/kube-router'];

export function nodeHostPath(nodeDir: string, path: string): string {
  const normal = path.replace(/\/+$/, '') || '/';
  const owner = PER_NODE_HOST_PATHS.find((p) => normal === p || normal.startsWith(`${p}/`));
  if (!owner) return existsSync(path) ? path : join(nodeDir, 'host', normal);
  const base = owner === '/etc/cni/net.d' ? join(nodeDir, 'cni') : join(nodeDir, 'host', owner);
  return join(base, normal.slice(owner.length));
}

export function clusterPaths(stateDir: string): ClusterPaths {
  const root = resolve(stateDir);
  return {
    root,
    record: join(root, 'lab.json'),
    supervisorLog: join(root, 'logs', 'supervisor.log'),
    logs: join(root, 'logs'),
    api: join(root, 'api'),
    apiSocket: join(root, 'api.sock'),
    nodeDir: (node) => join(root, 'nodes', node),
    kubeRouterConflist: (node) => join(root, 'nodes', node, 'cni', '10-kuberouter.conflist'),
    hostPath: (node, path) => nodeHostPath(join(root, 'nodes', node), path),
  };
}

export function ensureClusterDirs(paths: ClusterPaths, nodes: string[]): void {
  for (const dir of [paths.root, paths.logs, paths.api, ...nodes.map((n) => join(paths.nodeDir(n), 'cni'))]) mkdirSync(dir, { recursive: true });
}

export function readClusterRecord(paths: ClusterPaths): ClusterRecord | undefined {
  return existsSync(paths.record) ? readJson<ClusterRecord>(paths.record) : undefined;
}

export function writeClusterRecord(paths: ClusterPaths, record: ClusterRecord): void {
  writeJson(paths.record, record);
}

/** The /healthz port kube-router is told to use (its default unless --health-port is among the extra args). */
export function healthPortOf(args: readonly string[]): number {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const m = /^--health-port=(\d+)$/.exec(a);
    if (m) return Number(m[1]);
    if (a === '--health-port' && args[i + 1] !== undefined) return Number(args[i + 1]);
  }
  return DEFAULT_HEALTH_PORT;
}
