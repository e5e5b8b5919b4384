// Planner semantics, part 1: who is isolated and which peers a policy admits (selectors, namespaces,
// AND/OR, empty rules, union, direction independence, hostNetwork and finished pods, node access).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expected, verdictOf, type Case } from './cases.ts';
import { policy } from './fixtures.ts';

const denyAllIngress = (namespace: string, sel: Record<string, string> = {}) =>
  policy(namespace, 'deny-in', { podSelector: { matchLabels: sel }, policyTypes: ['Ingress'] });

const cases: Case[] = [
  {
    name: 'no policy: everything flows',
    policies: [],
    checks: [['client', 'web', 'tcp/80', 'allow'], ['web', 'outside', 'udp/53', 'allow'], ['tool', 'db', 'sctp/9', 'allow']],
  },
  {
    name: 'podSelector picks targets: only the selected pod is isolated',
    policies: [denyAllIngress('prod', { app: 'db' })],
    checks: [['web', 'db', 'tcp/80', 'deny'], ['db', 'web', 'tcp/80', 'allow'], ['client', 'web', 'tcp/80', 'allow']],
  },
  {
    name: 'empty podSelector isolates every pod of the namespace, no other namespace',
    policies: [denyAllIngress('prod')],
    checks: [['tool', 'web', 'tcp/80', 'deny'], ['tool', 'db', 'tcp/80', 'deny'], ['web', 'tool', 'tcp/80', 'allow']],
  },
  {
    name: 'empty ingress rule list denies all ingress; remote target on node-b denies too',
    policies: [denyAllIngress('prod', { tier: 'backend' })],
    checks: [['web', 'db', 'tcp/1', 'deny'], ['web', 'cache', 'tcp/1', 'deny'], ['outside', 'cache', 'tcp/1', 'deny']],
  },
  {
    name: 'rule with no from allows every source',
    policies: [policy('prod', 'all-in', { podSelector: {}, ingress: [{}] })],
    checks: [['outside', 'web', 'tcp/80', 'allow'], ['client', 'db', 'udp/5', 'allow']],
  },
  {
    name: 'podSelector peer alone means the policy namespace only',
    policies: [policy('prod', 'from-app', { podSelector: { matchLabels: { app: 'db' } },
      ingress: [{ from: [{ podSelector: { matchLabels: { app: 'web' } } }] }] })],
    checks: [['web', 'db', 'tcp/5432', 'allow'], ['tool', 'db', 'tcp/5432', 'deny'], ['cache', 'db', 'tcp/5432', 'deny']],
  },
  {
    name: 'namespaceSelector peer alone admits every pod of matching namespaces',
    policies: [policy('prod', 'from-dev', { podSelector: { matchLabels: { app: 'db' } },
      ingress: [{ from: [{ namespaceSelector: { matchLabels: { env: 'dev' } } }] }] })],
    checks: [['client', 'db', 'tcp/1', 'allow'], ['tool', 'db', 'tcp/1', 'allow'], ['web', 'db', 'tcp/1', 'deny'], ['x', 'db', 'tcp/1', 'deny']],
  },
  {
    name: 'empty namespaceSelector admits pods of all namespaces',
    policies: [policy('prod', 'any-ns', { podSelector: { matchLabels: { app: 'db' } },
      ingress: [{ from: [{ namespaceSelector: {} }] }] })],
    checks: [['x', 'db', 'tcp/1', 'allow'], ['client', 'db', 'tcp/1', 'allow'], ['outside', 'db', 'tcp/1', 'deny']],
  },
  {
    name: 'namespaceSelector and podSelector in one peer are ANDed',
    policies: [policy('prod', 'and', { podSelector: { matchLabels: { app: 'db' } },
      ingress: [{ from: [{ namespaceSelector: { matchLabels: { env: 'dev' } }, podSelector: { matchLabels: { role: 'admin' } } }] }] })],
    checks: [['tool', 'db', 'tcp/1', 'allow'], ['client', 'db', 'tcp/1', 'deny'], ['web', 'db', 'tcp/1', 'deny']],
  },
  {
    name: 'two peers in one rule are ORed',
    policies: [policy('prod', 'or', { podSelector: { matchLabels: { app: 'db' } },
      ingress: [{ from: [{ namespaceSelector: { matchLabels: { env: 'dev' } } }, { podSelector: { matchLabels: { role: 'admin' } } }] }] })],
    checks: [['client', 'db', 'tcp/1', 'allow'], ['tool', 'db', 'tcp/1', 'allow'], ['web', 'db', 'tcp/1', 'deny']],
  },
  {
    name: 'two rules are ORed',
    policies: [policy('prod', 'rules', { podSelector: { matchLabels: { app: 'db' } }, ingress: [
      { from: [{ podSelector: { matchLabels: { app: 'web' } } }] },
      { from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'other' } } }] }] })],
    checks: [['web', 'db', 'tcp/1', 'allow'], ['x', 'db', 'tcp/1', 'allow'], ['client', 'db', 'tcp/1', 'deny']],
  },
  {
    name: 'matchExpressions In selects listed values only',
    policies: [policy('prod', 'in', { podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['db', 'cache'] }] }, ingress: [] })],
    checks: [['web', 'db', 'tcp/1', 'deny'], ['web', 'cache', 'tcp/1', 'deny'], ['db', 'web', 'tcp/1', 'allow']],
  },
  {
    name: 'matchExpressions NotIn selects other values and pods without the key',
    policies: [policy('dev', 'notin', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: {},
      podSelector: { matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['web'] }] } }] }] })],
    checks: [['web', 'tool', 'tcp/1', 'deny'], ['db', 'tool', 'tcp/1', 'allow'], ['x', 'client', 'tcp/1', 'allow']],
  },
  {
    name: 'matchExpressions Exists requires the key',
    policies: [policy('prod', 'exists', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ namespaceSelector: {},
      podSelector: { matchExpressions: [{ key: 'role', operator: 'Exists' }] } }] }] })],
    checks: [['tool', 'web', 'tcp/1', 'allow'], ['client', 'web', 'tcp/1', 'deny']],
  },
  {
    name: 'matchExpressions DoesNotExist on a namespaceSelector excludes labelled namespaces',
    policies: [policy('prod', 'dne', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{
      namespaceSelector: { matchExpressions: [{ key: 'env', operator: 'DoesNotExist' }] } }] }] })],
    checks: [['x', 'web', 'tcp/1', 'allow'], ['client', 'web', 'tcp/1', 'deny'], ['db', 'web', 'tcp/1', 'deny']],
  },
  {
    name: 'several policies on one pod combine by union',
    policies: [
      policy('prod', 'a', { podSelector: { matchLabels: { app: 'db' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'web' } } }] }] }),
      policy('prod', 'b', { podSelector: { matchLabels: { tier: 'backend' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { env: 'dev' } } }] }] }),
    ],
    checks: [['web', 'db', 'tcp/1', 'allow'], ['client', 'db', 'tcp/1', 'allow'], ['x', 'db', 'tcp/1', 'deny'], ['web', 'cache', 'tcp/1', 'deny']],
  },
  {
    name: 'ingress-only policy leaves egress open',
    policies: [denyAllIngress('prod', { app: 'web' })],
    checks: [['web', 'outside', 'tcp/443', 'allow'], ['web', 'client', 'tcp/1', 'allow'], ['client', 'web', 'tcp/1', 'deny']],
  },
  {
    name: 'egress-only policy leaves ingress open',
    policies: [policy('prod', 'no-out', { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Egress'] })],
    checks: [['web', 'outside', 'tcp/443', 'deny'], ['web', 'client', 'tcp/1', 'deny'], ['client', 'web', 'tcp/1', 'allow']],
  },
  {
    name: 'policyTypes absent with egress rules means Ingress and Egress',
    policies: [policy('prod', 'both', { podSelector: { matchLabels: { app: 'web' } },
      egress: [{ to: [{ podSelector: { matchLabels: { app: 'db' } } }] }] })],
    checks: [['web', 'db', 'tcp/1', 'allow'], ['web', 'outside', 'tcp/1', 'deny'], ['db', 'web', 'tcp/1', 'deny']],
  },
  {
    name: 'policyTypes absent without egress rules means Ingress only',
    policies: [policy('prod', 'in-only', { podSelector: { matchLabels: { app: 'web' } } })],
    checks: [['web', 'outside', 'tcp/1', 'allow'], ['db', 'web', 'tcp/1', 'deny']],
  },
  {
    name: "an egress rule of a two-way policy never opens ingress between that policy's targets",
    policies: [policy('prod', 'mesh', { podSelector: {}, policyTypes: ['Ingress', 'Egress'], ingress: [],
      egress: [{ to: [{ podSelector: {} }] }] })],
    checks: [['web', 'db', 'tcp/1', 'deny'], ['web', 'outside', 'tcp/1', 'deny']],
  },
  {
    name: 'egress to a pod on another node is checked on the sender node',
    policies: [policy('prod', 'to-cache', { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Egress'],
      egress: [{ to: [{ podSelector: { matchLabels: { app: 'cache' } } }] }] })],
    checks: [['web', 'cache', 'tcp/1', 'allow'], ['web', 'client', 'tcp/1', 'deny']],
  },
  {
    name: 'the node may always reach its local pods, other nodes may not bypass policy',
    policies: [denyAllIngress('prod')],
    checks: [['nodeA', 'web', 'tcp/80', 'allow'], ['nodeB', 'web', 'tcp/80', 'deny'], ['nodeA6', 'web6', 'tcp/80', 'allow']],
  },
  {
    name: 'replies to allowed connections pass: established traffic is not re-checked',
    policies: [denyAllIngress('prod'), policy('prod', 'no-out', { podSelector: {}, policyTypes: ['Egress'] })],
    checks: [['web', 'db', 'tcp/1', 'deny'], ['db', 'web', 'tcp/1+est', 'allow'], ['web', 'db', 'udp/7+est', 'allow'], ['web', 'db', 'icmp/8', 'allow']],
  },
  {
    name: 'hostNetwork pods are neither targets nor peers',
    policies: [policy('prod', 'web-only', { podSelector: { matchLabels: { app: 'web' } },
      ingress: [{ from: [{ podSelector: { matchLabels: { app: 'web' } } }] }] })],
    // nodeA/nodeB are the addresses of hostNetwork pods labelled app=web: they get no peer rights
    // (nodeA still reaches its local pods as the node), and no pod chain filters the node's own traffic.
    checks: [['nodeB', 'web', 'tcp/1', 'deny'], ['nodeA', 'web', 'tcp/1', 'allow'], ['web', 'nodeA', 'tcp/1', 'allow']],
  },
];

for (const c of cases) {
  test(`planner: ${c.name}`, () => {
    for (const [from, to, port, want] of c.checks) {
      assert.equal(verdictOf(c, from, to, port), expected(want), `${from} -> ${to} ${port}`);
    }
  });
}
