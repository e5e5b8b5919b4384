// Waiting for pod routing between nodes before the lab counts as up: kube-router reports healthy as soon as its
// loops run, but the iBGP sessions and the routes they bring come seconds later. `up` waits until every node
// has a main-table route to every other node's pod CIDR, so pods created right after it reach each other.
import { execIn } from '../netns/exec.ts';
import type { ClusterNode } from './nodes.ts';

/** Go's strconv.ParseBool spellings of false (kube-router's boolean flags take a value only as --flag=value). */
const GO_FALSE = new Set(['0', 'f', 'F', 'false', 'FALSE', 'False']);

/** The value kube-router gets for a boolean flag that defaults to true (the last occurrence wins). */
function boolFlag(args: readonly string[], name: string): boolean {
  let value = true;
  for (const arg of args) {
    if (arg === `--${name}`) value = true;
    else if (arg.startsWith(`--${name}=`)) value = !GO_FALSE.has(arg.slice(name.length + 3));
  }
  return value;
}

/**
 * Whether kube-router, run with these extra arguments, routes pod CIDRs between the lab's nodes by itself:
 * with --run-router and the full iBGP mesh (without the mesh, nodes peer only as annotations say, which a
 * fresh lab has none of).
 */
export function routesPodCidrs(kubeRouterArgs: readonly string[]): boolean {
  return boolFlag(kubeRouterArgs, 'run-router') && boolFlag(kubeRouterArgs, 'nodes-full-mesh');
}

export interface MissingRoute { node: string; podCidr: string; owner: string }

/** Routes to other nodes' pod CIDRs that a node's main table does not have yet. */
export async function missingPodRoutes(nodes: readonly ClusterNode[], podCidrs: ReadonlyMap<string, string>): Promise<MissingRoute[]> {
  const perNode = await Promise.all(nodes.map(async (node) => {
    const listed = await execIn(node.netns, ['ip', '-j', 'route', 'show', 'table', 'main']);
    const destinations = new Set(listed.code === 0 ? (JSON.parse(listed.stdout || '[]') as { dst?: string }[]).map((r) => r.dst) : []);
    return nodes.filter((other) => other !== node).flatMap((other) => {
      const podCidr = podCidrs.get(other.name);
      return podCidr && !destinations.has(podCidr) ? [{ node: node.name, podCidr, owner: other.name }] : [];
    });
  }));
  return perNode.flat();
}

export interface PodRouteWait {
  timeoutMs: number;
  /** Called on every round; throws to give up early (e.g. a kube-router exited). */
  checkAlive: () => void;
  /** Where to look when routes do not come (named in the timeout error). */
  logHint: string;
}

/** Resolves once no pod route is missing; rejects after timeoutMs naming the routes still missing. */
export async function waitForPodRoutes(nodes: readonly ClusterNode[], podCidrs: ReadonlyMap<string, string>, wait: PodRouteWait): Promise<void> {
  const deadline = Date.now() + wait.timeoutMs;
  for (;;) {
    wait.checkAlive();
    const missing = await missingPodRoutes(nodes, podCidrs);
    if (missing.length === 0) return;
    if (Date.now() > deadline) {
      const list = missing.map((m) => `${m.node} has no route to ${m.podCidr} (${m.owner})`).join('; ');
      throw new Error(`pod routes between nodes missing ${wait.timeoutMs / 1000} s after kube-router became healthy `
        + `(the iBGP mesh did not converge): ${list}; see ${wait.logHint}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
