// Small builders for the cluster objects the netpol planner tests use (pods, namespaces, policies, config).
import type { Namespace, Pod } from 'kubernetes-types/core/v1.js';
import type { NetworkPolicy, NetworkPolicySpec } from 'kubernetes-types/networking/v1.js';
import type { ClusterView, NetpolConfig } from '../../../src/controllers/netpol/plan-view.ts';
import type { SimNode } from './simulator.ts';

export interface PodOpts {
  ip?: string;
  ip6?: string;
  node?: string;
  labels?: Record<string, string>;
  ports?: { name: string; containerPort: number; protocol?: string }[];
  hostNetwork?: boolean;
  phase?: string;
}

export function pod(namespace: string, name: string, opts: PodOpts = {}): Pod {
  const ips = [opts.ip, opts.ip6].filter((x): x is string => x !== undefined);
  return {
    metadata: { namespace, name, labels: opts.labels ?? {} },
    spec: {
      nodeName: opts.node ?? 'node-a',
      hostNetwork: opts.hostNetwork ?? false,
      containers: [{ name: 'c', ports: (opts.ports ?? []).map((p) => ({ ...p })) }],
    },
    status: { phase: opts.phase ?? 'Running', podIP: ips[0], podIPs: ips.map((ip) => ({ ip })) },
  };
}

export function ns(name: string, labels: Record<string, string> = {}): Namespace {
  return { metadata: { name, labels: { 'kubernetes.io/metadata.name': name, ...labels } } };
}

export function policy(namespace: string, name: string, spec: NetworkPolicySpec): NetworkPolicy {
  return { metadata: { namespace, name }, spec };
}

export const NODES: SimNode[] = [
  { name: 'node-a', ips: ['198.51.100.1', '2001:db8:100::1'] },
  { name: 'node-b', ips: ['198.51.100.2', '2001:db8:100::2'] },
];

export function config(over: Partial<NetpolConfig> = {}): NetpolConfig {
  return {
    families: ['ipv4', 'ipv6'],
    serviceClusterIPRanges: ['198.18.240.0/24', '2001:db8:240::/112'],
    nodePortRange: { from: 30000, to: 32767 },
    serviceExternalIPRanges: [],
    loadBalancerIPRanges: [],
    defaultDeny: false,
    ...over,
  };
}

export function world(objs: { pods: Pod[]; namespaces?: Namespace[]; policies?: NetworkPolicy[]; config?: NetpolConfig }): Omit<ClusterView, 'nodeName' | 'nodeIPs'> {
  return {
    pods: objs.pods,
    namespaces: objs.namespaces ?? [],
    policies: objs.policies ?? [],
    podCIDRs: ['198.18.1.0/24', '2001:db8:1::/64'],
    config: objs.config ?? config(),
  };
}

export function viewFor(w: Omit<ClusterView, 'nodeName' | 'nodeIPs'>, node: SimNode = NODES[0] as SimNode): ClusterView {
  return { ...w, nodeName: node.name, nodeIPs: node.ips };
}
