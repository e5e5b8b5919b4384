// Planner semantics, part 2: ports (numeric, named, ranges, protocol-only, SCTP), ipBlock with except in
// both families, dual-stack independence, and rejected policies failing closed for their own targets only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expected, PODS, verdictOf, type Case } from './cases.ts';
import { config, policy, pod, viewFor, world } from './fixtures.ts';
import { plan } from '../../../src/controllers/netpol/plan.ts';

const toWeb = (name: string, rule: object) =>
  policy('prod', name, { podSelector: { matchLabels: { app: 'web' } }, ingress: [rule] });
const fromWeb = (name: string, rule: object) =>
  policy('prod', name, { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Egress'], egress: [rule] });

const cases: Case[] = [
  {
    name: 'numeric port: only that port and protocol (TCP by default)',
    policies: [toWeb('p80', { ports: [{ port: 80 }] })],
    checks: [['client', 'web', 'tcp/80', 'allow'], ['client', 'web', 'tcp/81', 'deny'], ['client', 'web', 'udp/80', 'deny']],
  },
  {
    name: 'endPort opens the inclusive range',
    policies: [toWeb('range', { ports: [{ port: 8000, endPort: 8010, protocol: 'TCP' }] })],
    checks: [['client', 'web', 'tcp/8000', 'allow'], ['client', 'web', 'tcp/8010', 'allow'], ['client', 'web', 'tcp/7999', 'deny'], ['client', 'web', 'tcp/8011', 'deny']],
  },
  {
    name: 'protocol without port matches the whole protocol',
    policies: [toWeb('udp-any', { ports: [{ protocol: 'UDP' }] })],
    checks: [['client', 'web', 'udp/1', 'allow'], ['client', 'web', 'udp/65535', 'allow'], ['client', 'web', 'tcp/1', 'deny']],
  },
  {
    name: 'SCTP ports are matched as SCTP',
    policies: [toWeb('sctp', { ports: [{ protocol: 'SCTP', port: 9 }] })],
    checks: [['client', 'web', 'sctp/9', 'allow'], ['client', 'web', 'tcp/9', 'deny'], ['client', 'web', 'sctp/10', 'deny']],
  },
  {
    name: 'ports and peers of one rule are ANDed',
    policies: [toWeb('and', { from: [{ namespaceSelector: { matchLabels: { env: 'dev' } } }], ports: [{ port: 80 }] })],
    checks: [['client', 'web', 'tcp/80', 'allow'], ['client', 'web', 'tcp/22', 'deny'], ['db', 'web', 'tcp/80', 'deny']],
  },
  {
    name: 'ingress named port resolves on the target pod',
    policies: [policy('prod', 'named-in', { podSelector: { matchLabels: { tier: 'backend' } }, ingress: [{ ports: [{ port: 'http' }] }] })],
    checks: [['client', 'db', 'tcp/9090', 'allow'], ['client', 'db', 'tcp/8080', 'deny'], ['client', 'cache', 'tcp/7070', 'allow'], ['client', 'cache', 'tcp/9090', 'deny']],
  },
  {
    name: 'named port keeps its protocol (dns is UDP)',
    policies: [toWeb('named-udp', { ports: [{ port: 'dns', protocol: 'UDP' }] })],
    checks: [['client', 'web', 'udp/53', 'allow'], ['client', 'web', 'tcp/53', 'deny']],
  },
  {
    name: 'egress named port resolves on each destination pod',
    policies: [fromWeb('named-out', { to: [{ podSelector: { matchLabels: { tier: 'backend' } } }], ports: [{ port: 'http' }] })],
    checks: [['web', 'db', 'tcp/9090', 'allow'], ['web', 'cache', 'tcp/7070', 'allow'], ['web', 'cache', 'tcp/9090', 'deny'], ['web', 'db', 'tcp/7070', 'deny']],
  },
  {
    name: 'egress named port without peers reaches any known pod declaring it, nothing outside',
    policies: [fromWeb('named-any', { ports: [{ port: 'http' }] })],
    checks: [['web', 'db', 'tcp/9090', 'allow'], ['web', 'cache', 'tcp/7070', 'allow'], ['web', 'outside', 'tcp/9090', 'deny'], ['web', 'client', 'tcp/9090', 'deny']],
  },
  {
    name: 'ipBlock allows the CIDR and not its except',
    policies: [toWeb('block', { from: [{ ipBlock: { cidr: '198.19.0.0/16', except: ['198.19.9.0/24'] } }] })],
    checks: [['outside', 'web', 'tcp/1', 'allow'], ['outside2', 'web', 'tcp/1', 'deny'], ['client', 'web', 'tcp/1', 'deny']],
  },
  {
    name: 'an except of one ipBlock peer does not remove what another peer allows',
    policies: [toWeb('two-blocks', { from: [{ ipBlock: { cidr: '198.19.0.0/16', except: ['198.19.9.0/24'] } }, { ipBlock: { cidr: '198.19.9.9/32' } }] })],
    checks: [['outside2', 'web', 'tcp/1', 'allow'], ['outside', 'web', 'tcp/1', 'allow']],
  },
  {
    name: 'egress ipBlock 0.0.0.0/0 with an except covers the whole IPv4 space but the except',
    policies: [fromWeb('v4-all', { to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['198.19.9.0/24'] } }] })],
    checks: [['web', 'outside', 'tcp/1', 'allow'], ['web', 'client', 'tcp/1', 'allow'], ['web', 'outside2', 'tcp/1', 'deny'], ['web6', 'outside6', 'tcp/1', 'deny']],
  },
  {
    name: 'egress ipBlock ::/0 covers the whole IPv6 space (not only 2000::/3 + fd00::/8)',
    policies: [fromWeb('v6-all', { to: [{ ipBlock: { cidr: '::/0', except: ['2001:db8:ffff::/48'] } }] })],
    checks: [['web6', 'client6', 'tcp/1', 'allow'], ['web6', 'ula6', 'tcp/1', 'allow'], ['web6', 'outside6', 'tcp/1', 'deny'], ['web', 'outside', 'tcp/1', 'deny']],
    pods: [...PODS, pod('dev', 'ula', { ip6: 'fc00::9', node: 'node-b' })],
  },
  {
    name: 'IPv6 ipBlock with except, per family: the v4 side stays isolated with no v4 peers',
    policies: [toWeb('v6-block', { from: [{ ipBlock: { cidr: '2001:db8:2::/48', except: ['2001:db8:2::20/128'] } }] })],
    checks: [['cache6', 'web6', 'tcp/1', 'allow'], ['client6', 'web6', 'tcp/1', 'deny'], ['cache', 'web', 'tcp/1', 'deny']],
  },
  {
    name: 'dual-stack: a selector peer is admitted in both families',
    policies: [toWeb('ds', { from: [{ namespaceSelector: { matchLabels: { env: 'dev' } } }], ports: [{ port: 80 }] })],
    checks: [['client', 'web', 'tcp/80', 'allow'], ['client6', 'web6', 'tcp/80', 'allow'], ['db6', 'web6', 'tcp/80', 'deny']],
  },
  {
    name: 'invalid operator rejects that policy: its targets fail closed, other policies still apply',
    policies: [
      toWeb('bad', { from: [{ podSelector: { matchExpressions: [{ key: 'app', operator: 'Like', values: ['x'] }] } }] }),
      policy('prod', 'good', { podSelector: { matchLabels: { app: 'db' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'web' } } }] }] }),
    ],
    checks: [['db', 'web', 'tcp/1', 'deny'], ['client', 'web', 'tcp/1', 'deny'], ['web', 'db', 'tcp/1', 'allow'], ['client', 'db', 'tcp/1', 'deny'], ['client', 'tool', 'tcp/1', 'allow']],
  },
  {
    name: 'unparsable CIDR rejects the policy; a second policy still opens its own traffic to the same pod',
    policies: [
      toWeb('bad-cidr', { from: [{ ipBlock: { cidr: '198.19.0.0/33' } }] }),
      toWeb('ok', { from: [{ podSelector: { matchLabels: { app: 'db' } } }] }),
    ],
    checks: [['db', 'web', 'tcp/1', 'allow'], ['outside', 'web', 'tcp/1', 'deny']],
  },
];

for (const c of cases) {
  test(`planner: ${c.name}`, () => {
    for (const [from, to, port, want] of c.checks) {
      assert.equal(verdictOf(c, from, to, port), expected(want), `${from} -> ${to} ${port}`);
    }
  });
}

test('planner reports a rejected policy as data with the offending field', () => {
  const w = world({ pods: PODS, policies: [toWeb('bad', { from: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['11.0.0.0/8'] } }] })] });
  const desired = plan(viewFor(w));
  assert.deepEqual(desired.rejections.map((r) => [r.policy, r.field]), [['prod/bad', 'spec.ingress[0].from[0].ipBlock.except[0]']]);
});

test('finished, IP-less and hostNetwork pods get no firewall chain and are in no set', () => {
  const pods = [
    pod('prod', 'done', { ip: '198.18.1.40', labels: { app: 'web' }, phase: 'Succeeded' }),
    pod('prod', 'failed', { ip: '198.18.1.41', labels: { app: 'web' }, phase: 'Failed' }),
    pod('prod', 'pending', { labels: { app: 'web' }, phase: 'Pending' }),
    pod('prod', 'live', { ip: '198.18.1.42', labels: { app: 'web' } }),
    pod('prod', 'host', { ip: '198.51.100.1', labels: { app: 'web' }, hostNetwork: true }),
  ];
  const w = world({ pods, policies: [toWeb('p', { from: [{ podSelector: {} }] })], config: config({ families: ['ipv4'] }) });
  const v4 = plan(viewFor(w)).families[0];
  assert.deepEqual(v4?.podFirewalls.map((f) => f.podKey), ['prod/live']);
  const members = v4?.sets.flatMap((s) => s.members.map((m) => m.entry));
  assert.ok(!members?.includes('198.18.1.40') && !members?.includes('198.18.1.41') && !members?.includes('198.51.100.1'));
  assert.ok(members?.includes('198.18.1.42'));
});
