// The shared test cluster for the planner semantics tables: namespaces, pods on two nodes, and a helper
// that turns "from → to port/proto" checks into simulated packet verdicts.
import type { NetworkPolicy } from 'kubernetes-types/networking/v1.js';
import { config, NODES, ns, pod, world } from './fixtures.ts';
import { deliver, type Packet, type Verdict } from './simulator.ts';
import type { NetpolConfig } from '../../../src/controllers/netpol/plan-view.ts';

export const NAMESPACES = [ns('prod', { env: 'prod', team: 'a' }), ns('dev', { env: 'dev' }), ns('other')];

export const PODS = [
  pod('prod', 'web', { ip: '198.18.1.10', ip6: '2001:db8:1::10', labels: { app: 'web' },
    ports: [{ name: 'http', containerPort: 8080 }, { name: 'dns', containerPort: 53, protocol: 'UDP' }] }),
  pod('prod', 'db', { ip: '198.18.1.11', ip6: '2001:db8:1::11', labels: { app: 'db', tier: 'backend' },
    ports: [{ name: 'http', containerPort: 9090 }] }),
  pod('prod', 'cache', { ip: '198.18.2.12', ip6: '2001:db8:2::12', node: 'node-b', labels: { app: 'cache', tier: 'backend' },
    ports: [{ name: 'http', containerPort: 7070 }] }),
  pod('dev', 'client', { ip: '198.18.2.20', ip6: '2001:db8:2::20', node: 'node-b', labels: { app: 'client' } }),
  pod('dev', 'tool', { ip: '198.18.1.21', ip6: '2001:db8:1::21', labels: { app: 'tool', role: 'admin' } }),
  pod('other', 'x', { ip: '198.18.1.30', labels: { app: 'x' } }),
  pod('prod', 'hostnet', { ip: '198.51.100.1', hostNetwork: true, labels: { app: 'web' } }),
  pod('prod', 'hostnet-b', { ip: '198.51.100.2', hostNetwork: true, node: 'node-b', labels: { app: 'web' } }),
];

/** Addresses by endpoint name: pods (v4 / "name6" for v6), nodes, and an outside host. */
export const ADDR: Record<string, string> = {
  web: '198.18.1.10', web6: '2001:db8:1::10', db: '198.18.1.11', db6: '2001:db8:1::11',
  cache: '198.18.2.12', cache6: '2001:db8:2::12', client: '198.18.2.20', client6: '2001:db8:2::20',
  tool: '198.18.1.21', tool6: '2001:db8:1::21', x: '198.18.1.30',
  nodeA: '198.51.100.1', nodeA6: '2001:db8:100::1', nodeB: '198.51.100.2',
  outside: '198.19.5.5', outside2: '198.19.9.9', outside6: '2001:db8:ffff::5', ula6: 'fc00::9',
};

export type Check = [from: string, to: string, port: string, expect: Verdict | 'allow' | 'deny'];

export interface Case {
  name: string;
  policies: NetworkPolicy[];
  checks: Check[];
  pods?: typeof PODS;
  config?: NetpolConfig;
}

/** "tcp/80", "udp/53", "sctp/9", "icmp/8", "+est" suffix for a packet of an established connection. */
function parsePort(spec: string): Pick<Packet, 'proto' | 'dport' | 'icmpType' | 'ctstate'> {
  const established = spec.endsWith('+est');
  const [proto, n] = spec.replace('+est', '').split('/') as [Packet['proto'], string];
  const ctstate = established ? 'ESTABLISHED' as const : 'NEW' as const;
  return proto === 'icmp' || proto === 'icmpv6' ? { proto, icmpType: Number(n), ctstate } : { proto, dport: Number(n), ctstate };
}

export function verdictOf(c: Case, from: string, to: string, port: string): Verdict {
  const src = ADDR[from];
  const dst = ADDR[to];
  if (!src || !dst) throw new Error(`unknown endpoint ${from} or ${to}`);
  const w = world({ pods: c.pods ?? PODS, namespaces: NAMESPACES, policies: c.policies, config: c.config ?? config() });
  return deliver(w, NODES, { src, dst, ...parsePort(port) });
}

export const expected = (e: Check[3]): Verdict => (e === 'allow' ? 'accept' : e === 'deny' ? 'reject' : e);
