// Runs the product, one kube-router per node inside the node's namespace (as a DaemonSet pod with hostNetwork
// would), and checks its /healthz from inside that namespace. Exits are recorded, never restarted.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { execIn } from '../netns/exec.ts';
import { nodeCommand } from './launch.ts';
import type { ClusterNode } from './nodes.ts';

export interface KubeRouterSpec {
  node: ClusterNode;
  kubeconfig: string;
  conflistFile: string;
  extraArgs: string[];
  logDir: string;
}

export function kubeRouterLog(logDir: string, node: string): string {
  return join(logDir, `kube-router-${node}.log`);
}

/**
 * kube-router's arguments: the lab's, then the extra ones unchanged. The service proxy needs IPVS; on a kernel
 * without it (this host's, unlike the VM's) the lab runs kube-router without the proxy rather than failing to
 * start, unless --run-service-proxy is among the extra arguments (then that is what kube-router gets).
 */
export function kubeRouterArgs(spec: Pick<KubeRouterSpec, 'node' | 'kubeconfig' | 'extraArgs'>, hasIpvs: () => boolean): string[] {
  const proxyGiven = spec.extraArgs.some((a) => a === '--run-service-proxy' || a.startsWith('--run-service-proxy='));
  const proxy = proxyGiven || hasIpvs() ? [] : ['--run-service-proxy=false'];
  return ['--kubeconfig', spec.kubeconfig, '--hostname-override', spec.node.name, ...proxy, ...spec.extraArgs];
}

export function startKubeRouter(spec: KubeRouterSpec): ChildProcess {
  const log = openSync(kubeRouterLog(spec.logDir, spec.node.name), 'a');
  const argv = nodeCommand('run-kube-router', kubeRouterArgs(spec, kernelHasIpvs));
  try {
    return spawn('ip', ['netns', 'exec', spec.node.netns, ...argv], {
      stdio: ['ignore', log, log],
      env: { ...process.env, NODE_NAME: spec.node.name, KUBE_ROUTER_CNI_CONF_FILE: spec.conflistFile },
    });
  } finally {
    closeSync(log);
  }
}

/**
 * GET /healthz?verbose on 127.0.0.1:port inside the namespace (socat, no Node start): the HTTP status, or
 * undefined. A live daemon still starting up (caches not synced, controllers not started) counts as 503 here.
 */
export async function healthStatus(netns: string, port: number): Promise<number | undefined> {
  const r = await execIn(netns, ['socat', '-t5', '-T5', '-', `TCP:127.0.0.1:${port}`], { input: 'GET /healthz?verbose HTTP/1.0\r\nHost: localhost\r\n\r\n' });
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(r.stdout);
  if (!m) return undefined;
  const status = Number(m[1]);
  const phase = /"phase":\s*"(\w+)"/.exec(r.stdout)?.[1];
  return status === 200 && phase !== 'running' ? 503 : status;
}

let ipvsAvailable: boolean | undefined;

/** True when this kernel has IPVS (the ip_vs module loads or is loaded); decided once per process. */
export function kernelHasIpvs(): boolean {
  if (ipvsAvailable === undefined) {
    if (!existsSync('/proc/net/ip_vs')) spawnSync('modprobe', ['ip_vs'], { stdio: 'ignore' });
    ipvsAvailable = existsSync('/proc/net/ip_vs');
  }
  return ipvsAvailable;
}
