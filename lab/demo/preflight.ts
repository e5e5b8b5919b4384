// What `kube-router-lab demo` checks before it brings anything up (root, kubectl), and the progress line it
// prints while the lab's nodes start, both pure over what they are given so they can be tested.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { ClusterRecord } from '../cluster/layout.ts';
import { routesPodCidrs } from '../cluster/pod-routes.ts';

export interface DemoHost {
  /** Effective user id; undefined where the platform has none. */
  euid: number | undefined;
  commandOnPath(name: string): boolean;
}

/** True when an executable file `name` is in one of PATH's directories. */
export function commandOnPath(name: string, path = process.env['PATH'] ?? ''): boolean {
  return path.split(delimiter).filter((dir) => dir !== '').some((dir) => {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export function currentHost(): DemoHost {
  return { euid: process.geteuid?.(), commandOnPath: (name) => commandOnPath(name) };
}

/** One line saying why the demo cannot run here, or undefined when it can. */
export function demoPreflightProblem(host: DemoHost): string | undefined {
  if (host.euid !== 0) {
    return 'the demo must run as root: it creates network namespaces, links, routes and netfilter rules (try: sudo make demo)';
  }
  if (!host.commandOnPath('kubectl')) {
    return 'the demo drives the lab with kubectl, which is not on PATH: install it (https://kubernetes.io/docs/tasks/tools/) and run make demo again';
  }
  return undefined;
}

/** What the lab is doing, from its record (lab.json) as the supervisor last wrote it. */
export function labStartStage(record: ClusterRecord | undefined): string {
  if (!record) return 'starting the lab supervisor';
  if (record.phase === 'ready') return 'ready';
  if (record.phase === 'failed') return 'failed';
  const nodes = record.nodes.length;
  const kubeRouters = record.processes.filter((p) => p.role === 'kube-router').length;
  if (kubeRouters > 0) {
    return `kube-router started on ${kubeRouters}/${nodes} nodes; waiting for /healthz on each${routesPodCidrs(record.options.kubeRouterArgs) ? ' and the BGP pod routes between them' : ''}`;
  }
  const withCidr = record.nodes.filter((n) => n.podCidr !== undefined).length;
  if (withCidr > 0) return `${withCidr}/${nodes} nodes have a pod CIDR; starting kube-router`;
  if (record.apiUrl) return `API server up at ${record.apiUrl}; creating ${nodes} node namespaces and their kubelets`;
  return `starting the API server for ${nodes} nodes`;
}

/** A progress line: the stage, with the seconds since start. */
export function progressLine(stage: string, elapsedMs: number): string {
  return `   [${Math.round(elapsedMs / 1000).toString().padStart(3)} s] ${stage}`;
}
