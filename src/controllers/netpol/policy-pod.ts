// A pod as policy sees it (policy-pod: a target or peer): which pods take part, which are local, their
// canonical addresses, labels and named ports — converted once per pod object, sharing what replicas share.
import type { Container, Pod } from 'kubernetes-types/core/v1.js';
import { canonicalIpText } from '../../net/ip.ts';
import { podIPsOf } from '../../kube/slim.ts';
import type { Family, L4Protocol } from './model.ts';
import type { Labels } from './selectors.ts';

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

/**
 * Whether a pod's hostIP is one of this node's addresses, compared canonically. Every pod asks, and hostIPs
 * are few (one per node): the answers are kept per node-address list.
 */
let hostAnswers = { nodeIPs: [] as readonly string[], local: new Map<string, boolean>() };
function isNodeAddress(hostIP: string, nodeIPs: readonly string[]): boolean {
  if (hostAnswers.nodeIPs !== nodeIPs) hostAnswers = { nodeIPs, local: new Map() };
  let local = hostAnswers.local.get(hostIP);
  if (local === undefined) {
    const host = canonicalIpText(hostIP);
    local = host !== null && nodeIPs.some((n) => canonicalIpText(n) === host);
    if (hostAnswers.local.size < 65_536) hostAnswers.local.set(hostIP, local);
  }
  return local;
}

// Every pod of the cluster becomes a PolicyPod (peers are matched against all of them), so at 50k pods their
// size counts: pods without an address of a family share one empty list, and pods declaring the same named
// ports (every replica of a workload) share one port table.
const NO_IPS: string[] = Object.freeze([]) as unknown as string[];
const NO_PORTS: ReadonlyMap<string, number> = new Map();
const NO_LABELS: Labels = Object.freeze({});
const portTables = new Map<string, ReadonlyMap<string, number>>();
/** Bound on the shared tables: past it a pod keeps its own (correct, only larger). */
const MAX_PORT_TABLES = 4096;

function sharedPortTable(ports: Map<string, number>): ReadonlyMap<string, number> {
  if (ports.size === 0) return NO_PORTS;
  let id = '';
  for (const [k, v] of ports) id += `${k}=${v};`;
  const hit = portTables.get(id);
  if (hit) return hit;
  if (portTables.size < MAX_PORT_TABLES) portTables.set(id, ports);
  return ports;
}

/** The pod as the planner sees it, or null when it takes no part in policy. */
export function toPolicyPod(pod: Pod, nodeName: string, nodeIPs: readonly string[]): PolicyPod | null {
  if (pod.spec?.hostNetwork) return null;
  const phase = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return null;
  const raw = podIPsOf(pod);
  let ipv4: string[] = NO_IPS;
  let ipv6: string[] = NO_IPS;
  for (const r of raw) {
    // the canonical form is nearly always the text as given: that string is kept, not a copy per pod
    const ip = canonicalIpText(r);
    if (ip === null) continue;
    if (!ip.includes(':')) {
      if (!ipv4.includes(ip)) ipv4 = ipv4 === NO_IPS ? [ip] : [...ipv4, ip];
    } else if (!ipv6.includes(ip)) {
      ipv6 = ipv6 === NO_IPS ? [ip] : [...ipv6, ip];
    }
  }
  if (ipv4.length === 0 && ipv6.length === 0) return null;
  ipv4.sort();
  ipv6.sort();
  const hostIP = pod.status?.hostIP;
  const local = (pod.spec?.nodeName !== undefined && pod.spec.nodeName === nodeName) ||
    (hostIP !== undefined && isNodeAddress(hostIP, nodeIPs));
  const containers = pod.spec?.containers ?? [];
  const init = pod.spec?.initContainers;
  let namedPorts = init && init.length > 0 ? undefined : portsOfContainers.get(containers);
  if (!namedPorts) {
    namedPorts = namedPortsOf(init && init.length > 0 ? [...containers, ...init] : containers);
    if (!init || init.length === 0) portsOfContainers.set(containers, namedPorts);
  }
  const namespace = pod.metadata?.namespace ?? 'default';
  const name = pod.metadata?.name ?? '';
  return {
    key: `${namespace}/${name}`, namespace, name, labels: pod.metadata?.labels ?? NO_LABELS, ips: { ipv4, ipv6 }, local, namedPorts,
  };
}

// Replicas share one containers list (kube/slim.ts): its port table is worked out once per list.
const portsOfContainers = new WeakMap<readonly Container[], ReadonlyMap<string, number>>();

function namedPortsOf(containers: readonly Container[]): ReadonlyMap<string, number> {
  const namedPorts = new Map<string, number>();
  for (const c of containers) {
    for (const port of c.ports ?? []) {
      if (!port.name) continue;
      const proto = (port.protocol ?? 'TCP').toLowerCase();
      if (proto !== 'tcp' && proto !== 'udp' && proto !== 'sctp') continue;
      const k = namedPortKey(port.name, proto);
      if (!namedPorts.has(k)) namedPorts.set(k, port.containerPort);
    }
  }
  return sharedPortTable(namedPorts);
}

// Pod objects in a view are immutable: each converts to the same PolicyPod for the same node facts, so the
// conversion (address parsing, port tables) runs once per object instead of once per sync. The node facts are
// the same for every pod and change rarely (a node address change): they key the whole table, which starts
// over when they change, instead of being stored beside each of 50k entries.
let converted = new WeakMap<Pod, PolicyPod | null>();
let convertedFor = { nodeName: '', nodeIPs: [] as readonly string[], facts: '' };
/**
 * The pod converted, kept for its object's lifetime. The daemon also calls it as pods arrive while the caches
 * fill (index.ts), so a first full sync at 50k pods finds them converted instead of spending ~80 ms on them.
 */
export function toPolicyPodCached(pod: Pod, nodeName: string, nodeIPs: readonly string[]): PolicyPod | null {
  if (nodeName !== convertedFor.nodeName || nodeIPs !== convertedFor.nodeIPs) {
    const facts = `${nodeName}\u0000${nodeIPs.join()}`;
    if (facts !== convertedFor.facts) converted = new WeakMap();
    convertedFor = { nodeName, nodeIPs, facts };
  }
  const hit = converted.get(pod);
  if (hit !== undefined) return hit;
  const p = toPolicyPod(pod, nodeName, nodeIPs);
  converted.set(pod, p);
  return p;
}
