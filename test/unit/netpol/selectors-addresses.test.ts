// Label selector matching and validation, policy validation (rejections as data), and address parsing
// and formatting as ipset/iptables print them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { netMemberText, parseNetMember, splitZeroPrefix } from '../../../src/controllers/netpol/addresses.ts';
import { formatCidr, parseCidr } from '../../../src/net/cidr.ts';
import { normalizePolicy } from '../../../src/controllers/netpol/policy-spec.ts';
import { compileSelector, selectorMatches } from '../../../src/controllers/netpol/selectors.ts';
import { policy } from './fixtures.ts';
import type { NetworkPolicySpec } from 'kubernetes-types/networking/v1.js';

function sel(s: Parameters<typeof compileSelector>[0]) {
  const c = compileSelector(s, 'spec.podSelector');
  if (!c.ok) throw new Error(c.error.message);
  return c.value;
}

test('selector operators: In, NotIn, Exists, DoesNotExist, matchLabels, ANDed, empty matches all', () => {
  const labels = { app: 'web', tier: 'front' };
  const table: [Parameters<typeof compileSelector>[0], Record<string, string>, boolean][] = [
    [{}, {}, true],
    [{ matchLabels: { app: 'web' } }, labels, true],
    [{ matchLabels: { app: 'web', tier: 'back' } }, labels, false],
    [{ matchExpressions: [{ key: 'app', operator: 'In', values: ['db', 'web'] }] }, labels, true],
    [{ matchExpressions: [{ key: 'app', operator: 'In', values: ['db'] }] }, labels, false],
    [{ matchExpressions: [{ key: 'missing', operator: 'In', values: ['x'] }] }, labels, false],
    [{ matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['web'] }] }, labels, false],
    [{ matchExpressions: [{ key: 'missing', operator: 'NotIn', values: ['web'] }] }, labels, true],
    [{ matchExpressions: [{ key: 'tier', operator: 'Exists' }] }, labels, true],
    [{ matchExpressions: [{ key: 'zone', operator: 'Exists' }] }, labels, false],
    [{ matchExpressions: [{ key: 'zone', operator: 'DoesNotExist' }] }, labels, true],
    [{ matchExpressions: [{ key: 'app', operator: 'DoesNotExist' }] }, labels, false],
    [{ matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['front'] }] }, labels, false],
  ];
  for (const [s, l, want] of table) assert.equal(selectorMatches(sel(s), l), want, JSON.stringify(s));
});

test('invalid selectors are errors with the field path', () => {
  const bad: [Parameters<typeof compileSelector>[0], string][] = [
    [{ matchExpressions: [{ key: 'a', operator: 'Like', values: ['x'] }] }, 'spec.podSelector.matchExpressions[0].operator'],
    [{ matchExpressions: [{ key: 'a', operator: 'In', values: [] }] }, 'spec.podSelector.matchExpressions[0].values'],
    [{ matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] }, 'spec.podSelector.matchExpressions[0].values'],
    [{ matchExpressions: [{ key: 'bad key!', operator: 'Exists' }] }, 'spec.podSelector.matchExpressions[0].key'],
    [{ matchLabels: { app: 'no spaces' } }, 'spec.podSelector.matchLabels'],
  ];
  for (const [s, field] of bad) {
    const c = compileSelector(s, 'spec.podSelector');
    assert.equal(c.ok, false);
    if (!c.ok) assert.equal(c.error.field, field);
  }
});

test('policy validation rejects bad ports, protocols, peers and CIDRs, and fails closed', () => {
  const cases: [NetworkPolicySpec, string][] = [
    [{ podSelector: {}, ingress: [{ ports: [{ port: 80, endPort: 79 }] }] }, 'spec.ingress[0].ports[0].endPort'],
    [{ podSelector: {}, ingress: [{ ports: [{ port: 'http', endPort: 90 }] }] }, 'spec.ingress[0].ports[0].endPort'],
    [{ podSelector: {}, ingress: [{ ports: [{ port: 70000 }] }] }, 'spec.ingress[0].ports[0].port'],
    [{ podSelector: {}, egress: [{ ports: [{ protocol: 'ICMP' }] }] }, 'spec.egress[0].ports[0].protocol'],
    [{ podSelector: {}, ingress: [{ from: [{}] }] }, 'spec.ingress[0].from[0]'],
    [{ podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8' }, podSelector: {} }] }] }, 'spec.ingress[0].from[0]'],
    [{ podSelector: {}, egress: [{ to: [{ ipBlock: { cidr: 'fe80::/300' } }] }] }, 'spec.egress[0].to[0].ipBlock.cidr'],
    [{ podSelector: {}, policyTypes: ['Sideways'] }, 'spec.policyTypes'],
  ];
  for (const [spec, field] of cases) {
    const n = normalizePolicy(policy('ns', 'p', spec));
    assert.equal(n.rejection?.field, field, JSON.stringify(spec));
    // Fail closed: the governed directions have no rules at all.
    for (const dir of ['ingress', 'egress'] as const) assert.ok(n[dir] === null || n[dir]?.length === 0);
  }
  const ok = normalizePolicy(policy('ns', 'p', { podSelector: {}, egress: [{ ports: [{ port: '8080' }] }] }));
  assert.equal(ok.rejection, undefined);
  assert.deepEqual(ok.egress?.[0]?.ports, [{ protocol: 'tcp', kind: 'range', from: 8080, to: 8080 }]);
  assert.notEqual(ok.ingress, null, 'policyTypes absent: Ingress is always governed');
});

test('set members: hosts print without a length, a bare address reads back as a host, /0 splits into halves', () => {
  const host = parseNetMember('198.51.100.7');
  assert.ok(host.ok);
  assert.equal(formatCidr(host.value), '198.51.100.7/32');
  assert.equal(netMemberText(host.value), '198.51.100.7');
  const net = parseNetMember('2001:db8::/32');
  assert.ok(net.ok);
  assert.equal(netMemberText(net.value), '2001:db8::/32');
  assert.equal(parseNetMember('010.1.2.3').ok, false, 'leading zeros are not an address (Go rejects them)');
  const all4 = parseCidr('0.0.0.0/0');
  assert.ok(all4.ok);
  assert.deepEqual(splitZeroPrefix(all4.value).map(formatCidr), ['0.0.0.0/1', '128.0.0.0/1']);
  const all6 = parseCidr('::/0');
  assert.ok(all6.ok);
  assert.deepEqual(splitZeroPrefix(all6.value).map(formatCidr), ['::/1', '8000::/1']);
});
