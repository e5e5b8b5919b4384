// The planner's input (an immutable view of the cluster caches plus node facts and config) and the pure
// questions asked of it: which pods take part in policy, which are local, their IPs, labels and ports.
import type { Namespace, Pod } from 'kubernetes-types/core/v1.js';
import type { NetworkPolicy } from 'kubernetes-types/networking/v1.js';
import { canonicalIp, familyOf } from './addresses.ts';
import type { Family, L4Protocol } from './model.ts';
import type { Labels } from './selectors.ts';

export interface NetpolConfig {
  /** Families this node runs policy for. */
  families: Family[];
  serviceClusterIPRanges: string[];
  nodePortRange: { from: number; to: number };
  serviceExternalIPRanges: string[];
  loadBalancerIPRanges: string[];
  /** Reject traffic of pods in this node's pod CIDRs until their firewall chain exists. */
  defaultDeny: boolean;
}

export interface ClusterView {
  pods: readonly Pod[];
  namespaces: readonly Namespace[];
  policies: readonly NetworkPolicy[];
  nodeName: string;
  nodeIPs: readonly string[];
  podCIDRs: readonly string[];
  config: NetpolConfig;
}

/** A pod that can be a policy target or peer: not hostNetwork, not finished, has an IP. */
export interface PolicyPod {
  key: string;
  namespace: string;
  name: string;
  labels: Labels;
  /** Canonical addresses per family. */
  ips: Record<Family, string[]>;
  local: boolean;
  /** Named container ports: "name/protocol" -> port number. */
  namedPorts: ReadonlyMap<string, number>;
}

export const podKeyOf = (p: Pod): string => `${p.metadata?.namespace ?? 'default'}/${p.metadata?.name ?? ''}`;
export const namedPortKey = (name: string, protocol: L4Protocol): string => `${name}/${protocol}`;

/** The pod as the planner sees it, or null when it takes no part in policy. */
export function toPolicyPod(pod: Pod, nodeName: string, nodeIPs: readonly string[]): PolicyPod | null {
  if (pod.spec?.hostNetwork) return null;
  const phase = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return null;
  const raw = [pod.status?.podIP, ...(pod.status?.podIPs ?? []).map((p) => p.ip)];
  const ips: Record<Family, string[]> = { ipv4: [], ipv6: [] };
  for (const r of raw) {
    if (!r) continue;
    const ip = canonicalIp(r);
    const fam = ip === undefined ? undefined : familyOf(ip);
    if (ip !== undefined && fam !== undefined && !ips[fam].includes(ip)) ips[fam].push(ip);
  }
  if (ips.ipv4.length === 0 && ips.ipv6.length === 0) return null;
  ips.ipv4.sort();
  ips.ipv6.sort();
  const hostIP = pod.status?.hostIP;
  const local = (pod.spec?.nodeName !== undefined && pod.spec.nodeName === nodeName) ||
    (hostIP !== undefined && nodeIPs.some((n) => canonicalIp(n) === canonicalIp(hostIP)));
  const namedPorts = new Map<string, number>();
  for (const c of [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])]) {
    for (const port of c.ports ?? []) {
      if (!port.name) continue;
      const proto = (port.protocol ?? 'TCP').toLowerCase();
      if (proto !== 'tcp' && proto !== 'udp' && proto !== 'sctp') continue;
      const k = namedPortKey(port.name, proto);
      if (!namedPorts.has(k)) namedPorts.set(k, port.containerPort);
    }
  }
  const namespace = pod.metadata?.namespace ?? 'default';
  const name = pod.metadata?.name ?? '';
  return { key: `${namespace}/${name}`, namespace, name, labels: pod.metadata?.labels ?? {}, ips, local, namedPorts };
}

/** Everything the planner needs from a view, computed once. */
export interface PreparedView {
  view: ClusterView;
  /** Sorted by key. */
  pods: PolicyPod[];
  podsByKey: ReadonlyMap<string, PolicyPod>;
  /** Pods of one namespace, sorted by key (empty if none). */
  podsIn(namespace: string): readonly PolicyPod[];
  /** Namespaces that have at least one pod, sorted. */
  podNamespaces: readonly string[];
  namespaceLabels(namespace: string): Labels;
}

// Pod objects in a view are immutable: each converts to the same PolicyPod for the same node facts, so the
// conversion (address parsing, port tables) runs once per object instead of once per sync.
const converted = new WeakMap<Pod, { nodeName: string; nodeIPs: readonly string[]; pod: PolicyPod | null }>();
function toPolicyPodCached(pod: Pod, nodeName: string, nodeIPs: readonly string[]): PolicyPod | null {
  const hit = converted.get(pod);
  if (hit && hit.nodeName === nodeName && (hit.nodeIPs === nodeIPs || hit.nodeIPs.join() === nodeIPs.join())) return hit.pod;
  const p = toPolicyPod(pod, nodeName, nodeIPs);
  converted.set(pod, { nodeName, nodeIPs, pod: p });
  return p;
}

/** Prepares the view; with `onlyPod`, only that pod is converted (for per-pod planning). */
export function prepareView(view: ClusterView, onlyPod?: string): PreparedView {
  const byKey = new Map<string, PolicyPod>();
  for (const pod of view.pods) {
    if (onlyPod !== undefined && podKeyOf(pod) !== onlyPod) continue;
    const p = toPolicyPodCached(pod, view.nodeName, view.nodeIPs);
    // Two objects with one key cannot both be current; pick one independently of input order.
    if (p && (!byKey.has(p.key) || JSON.stringify(p.ips) > JSON.stringify(byKey.get(p.key)?.ips))) byKey.set(p.key, p);
  }
  const pods = [...byKey.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const byNamespace = new Map<string, PolicyPod[]>();
  for (const p of pods) {
    const list = byNamespace.get(p.namespace);
    if (list) list.push(p);
    else byNamespace.set(p.namespace, [p]);
  }
  return {
    view, pods, podsByKey: byKey,
    podsIn: (namespace) => byNamespace.get(namespace) ?? [],
    podNamespaces: [...byNamespace.keys()].sort(),
    namespaceLabels: namespaceLabelLookup(view),
  };
}

/** Labels of a namespace by name; one missing from the cache still has the label the API server always sets. */
export function namespaceLabelLookup(view: ClusterView): (namespace: string) => Labels {
  const nsLabels = new Map<string, Labels>();
  for (const ns of view.namespaces) {
    const name = ns.metadata?.name;
    if (name) nsLabels.set(name, ns.metadata?.labels ?? {});
  }
  return (namespace) => nsLabels.get(namespace) ?? { 'kubernetes.io/metadata.name': namespace };
}
