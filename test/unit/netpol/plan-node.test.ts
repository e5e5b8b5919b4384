// Node-level behaviour of the planned ruleset, evaluated hook by hook: the INPUT whitelist for service
// VIPs and NodePorts, default-deny for pods not yet programmed, and empty from/to lists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expected, PODS, verdictOf, type Case } from './cases.ts';
import { config, NODES, policy, viewFor, world } from './fixtures.ts';
import { evaluateHook, type Packet } from './simulator.ts';
import { plan } from '../../../src/controllers/netpol/plan.ts';
import type { FamilyState } from '../../../src/controllers/netpol/model.ts';

const WEB = '198.18.1.10';
const NODE_A = NODES[0]?.ips ?? [];

function v4State(defaultDeny: boolean, extra: Partial<Parameters<typeof config>[0]> = {}): FamilyState {
  const noEgress = policy('prod', 'no-out', { podSelector: {}, policyTypes: ['Egress'] });
  const state = plan(viewFor(world({ pods: PODS, policies: [noEgress], config: config({ defaultDeny, ...extra }) }))).families[0];
  assert.ok(state && state.family === 'ipv4');
  return state;
}

const tcp = (src: string, dst: string, dport: number): Packet => ({ src, dst, proto: 'tcp', dport });

test('INPUT passes traffic to cluster-IP, external-IP and LB ranges and to NodePorts on local addresses unfiltered', () => {
  const state = v4State(false, { serviceExternalIPRanges: ['198.19.200.0/24'], loadBalancerIPRanges: ['198.19.201.0/24'] });
  const vip = '198.18.240.10';
  // The VIP is a local address (on the dummy interface), so pod -> VIP is delivered through INPUT.
  const local = [...NODE_A, vip, '198.19.200.1', '198.19.201.1'];
  assert.equal(evaluateHook(state, 'INPUT', tcp(WEB, vip, 80), local), 'accept');
  assert.equal(evaluateHook(state, 'INPUT', tcp(WEB, '198.19.200.1', 80), local), 'accept');
  assert.equal(evaluateHook(state, 'INPUT', tcp(WEB, '198.19.201.1', 80), local), 'accept');
  assert.equal(evaluateHook(state, 'INPUT', tcp(WEB, '198.51.100.1', 30080), local), 'accept');
  // Not a NodePort: the pod's egress policy applies to traffic to the node itself.
  assert.equal(evaluateHook(state, 'INPUT', tcp(WEB, '198.51.100.1', 22), local), 'reject');
  // After DNAT to a local endpoint, OUTPUT checks the client pod's egress: denied by "no-out".
  assert.equal(evaluateHook(state, 'OUTPUT', tcp(WEB, '198.18.1.11', 8080), local), 'reject');
});

test('default-deny rejects pod-CIDR traffic of a pod not yet programmed, and only then', () => {
  const unknown = '198.18.1.99';
  const deny = v4State(true);
  assert.equal(evaluateHook(deny, 'FORWARD', tcp(unknown, '198.19.5.5', 80), NODE_A), 'reject');
  assert.equal(evaluateHook(deny, 'FORWARD', tcp('198.19.5.5', unknown, 80), NODE_A), 'reject');
  // A programmed pod of the same CIDR (dev/tool, no policy) is unaffected; traffic outside the CIDR too.
  assert.equal(evaluateHook(deny, 'FORWARD', tcp('198.18.1.21', '198.19.5.5', 80), NODE_A), 'accept');
  assert.equal(evaluateHook(deny, 'FORWARD', tcp('198.19.5.5', '198.19.6.6', 80), NODE_A), 'accept');
  assert.equal(evaluateHook(v4State(false), 'FORWARD', tcp(unknown, '198.19.5.5', 80), NODE_A), 'accept');
});

const cases: Case[] = [
  {
    name: 'explicit empty from list admits every source',
    policies: [policy('prod', 'empty-from', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [], ports: [{ port: 80 }] }] })],
    checks: [['outside', 'web', 'tcp/80', 'allow'], ['client', 'web', 'tcp/80', 'allow'], ['client', 'web', 'tcp/81', 'deny']],
  },
  {
    name: 'egress rule without to reaches every destination on its ports',
    policies: [policy('prod', 'dns-only', { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Egress'],
      egress: [{ ports: [{ port: 53, protocol: 'UDP' }] }] })],
    checks: [['web', 'outside', 'udp/53', 'allow'], ['web', 'client', 'udp/53', 'allow'], ['web', 'outside', 'tcp/53', 'deny'], ['web6', 'outside6', 'udp/53', 'allow']],
  },
  {
    name: 'egress empty to list plus no ports allows all egress while ingress stays isolated',
    policies: [policy('prod', 'open-out', { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Ingress', 'Egress'], egress: [{ to: [] }] })],
    checks: [['web', 'outside', 'tcp/1', 'allow'], ['client', 'web', 'tcp/1', 'deny']],
  },
];

for (const c of cases) {
  test(`planner: ${c.name}`, () => {
    for (const [from, to, port, want] of c.checks) {
      assert.equal(verdictOf(c, from, to, port), expected(want), `${from} -> ${to} ${port}`);
    }
  });
}
