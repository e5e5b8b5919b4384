// A node's pod CIDRs, decided once for routing and network policy: each source in precedence order, a set but
// unusable source skipped (never taking away a valid one), and the last good value kept when an annotation turns bad.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Node } from 'kubernetes-types/core/v1.js';
import { LastGoodPodCidrs, nodePodCidrs } from '../../../src/kube/pod-cidrs.ts';

function node(extra: { annotations?: Record<string, string>; podCIDR?: string; podCIDRs?: string[] } = {}): Node {
  return {
    metadata: { name: 'n1', ...(extra.annotations ? { annotations: extra.annotations } : {}) },
    spec: { ...(extra.podCIDR ? { podCIDR: extra.podCIDR } : {}), ...(extra.podCIDRs ? { podCIDRs: extra.podCIDRs } : {}) },
  };
}

const CSV = 'kube-router.io/pod-cidrs';
const SINGLE = 'kube-router.io/pod-cidr';

test('each source on its own is used: pod-cidrs annotation, pod-cidr annotation, spec.podCIDRs, spec.podCIDR', () => {
  const cases: Array<[string, Node, string[]]> = [
    ['annotation kube-router.io/pod-cidrs', node({ annotations: { [CSV]: '10.8.0.0/24, fd00:8::/64' } }), ['10.8.0.0/24', 'fd00:8::/64']],
    ['annotation kube-router.io/pod-cidr', node({ annotations: { [SINGLE]: ' 10.9.0.0/24 ' } }), ['10.9.0.0/24']],
    ['spec.podCIDRs', node({ podCIDRs: ['10.1.0.0/24', 'fd00:1::/64'] }), ['10.1.0.0/24', 'fd00:1::/64']],
    ['spec.podCIDR', node({ podCIDR: '10.2.0.0/24' }), ['10.2.0.0/24']],
  ];
  for (const [source, n, cidrs] of cases) assert.deepEqual(nodePodCidrs(n), { cidrs, source, rejected: [] }, source);
});

test('precedence: pod-cidrs annotation over pod-cidr annotation over spec.podCIDRs over spec.podCIDR', () => {
  const all = { annotations: { [CSV]: '10.8.0.0/24', [SINGLE]: '10.9.0.0/24' }, podCIDRs: ['10.1.0.0/24'], podCIDR: '10.2.0.0/24' };
  assert.deepEqual(nodePodCidrs(node(all)).cidrs, ['10.8.0.0/24']);
  assert.deepEqual(nodePodCidrs(node({ ...all, annotations: { [SINGLE]: '10.9.0.0/24' } })).cidrs, ['10.9.0.0/24']);
  assert.deepEqual(nodePodCidrs(node({ podCIDRs: ['10.1.0.0/24'], podCIDR: '10.2.0.0/24' })).cidrs, ['10.1.0.0/24']);
});

test('a bad annotation is rejected and skipped: the next source applies', () => {
  const bad = nodePodCidrs(node({ annotations: { [SINGLE]: 'not-a-cidr' }, podCIDRs: ['10.1.0.0/24'] }));
  assert.deepEqual(bad.cidrs, ['10.1.0.0/24']);
  assert.equal(bad.source, 'spec.podCIDRs');
  assert.deepEqual(bad.rejected.map((r) => r.source), ['annotation kube-router.io/pod-cidr']);
  assert.match(bad.rejected[0]?.message ?? '', /"not-a-cidr", which is not a CIDR/);
  const badEntry = nodePodCidrs(node({ annotations: { [CSV]: '10.8.0.0/24,nope', [SINGLE]: '10.9.0.0/24' } }));
  assert.deepEqual([badEntry.cidrs, badEntry.rejected.length], [['10.9.0.0/24'], 1], 'one bad entry rejects the whole list');
  const onlyBad = nodePodCidrs(node({ annotations: { [CSV]: ',' } }));
  assert.deepEqual([onlyBad.cidrs, onlyBad.rejected.map((r) => r.message)], [[], ['node n1: annotation kube-router.io/pod-cidrs lists no CIDR; ignored']]);
  assert.deepEqual(nodePodCidrs(node()), { cidrs: [], rejected: [] });
});

test('an annotation turning bad keeps the last good value; without one (a restart), the spec applies', () => {
  const memory = new LastGoodPodCidrs();
  assert.deepEqual(memory.resolve(node({ annotations: { [SINGLE]: '10.9.0.0/24' }, podCIDRs: ['10.1.0.0/24'] })).cidrs, ['10.9.0.0/24']);
  const turnedBad = memory.resolve(node({ annotations: { [SINGLE]: 'not-a-cidr' }, podCIDRs: ['10.1.0.0/24'] }));
  assert.deepEqual([turnedBad.cidrs, turnedBad.keptLastGood, turnedBad.rejected.length], [['10.9.0.0/24'], true, 1]);
  const fresh = new LastGoodPodCidrs().resolve(node({ annotations: { [SINGLE]: 'not-a-cidr' }, podCIDRs: ['10.1.0.0/24'] }));
  assert.deepEqual([fresh.cidrs, fresh.keptLastGood], [['10.1.0.0/24'], undefined]);
  // Removing the bad annotation is a deliberate change: the spec applies again.
  assert.deepEqual(memory.resolve(node({ podCIDRs: ['10.1.0.0/24'] })).cidrs, ['10.1.0.0/24']);
});
