// Selector peers found through the per-namespace label index (plan-peers.ts) are exactly the pods a plain
// test of every pod selects: random labels, matchLabels and every matchExpressions operator, with and without
// namespace selectors, checked against isSelectorPeer over all pods.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LabelSelector } from 'kubernetes-types/meta/v1.js';
import type { NetworkPolicyPeer } from 'kubernetes-types/networking/v1.js';
import { config, ns, policy, pod, viewFor, world } from './fixtures.ts';
import { peerPodSetName } from '../../../src/controllers/netpol/names.ts';
import { planPolicy } from '../../../src/controllers/netpol/plan.ts';
import { isSelectorPeer, peerDefinition } from '../../../src/controllers/netpol/plan-peers.ts';
import { prepareView } from '../../../src/controllers/netpol/plan-view.ts';
import { normalizePolicy } from '../../../src/controllers/netpol/policy-spec.ts';

/** xorshift: a failure can be replayed from its seed. */
function rng(seed: number): (n: number) => number {
  let s = seed || 1;
  return (n) => {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    return Math.abs(s) % n;
  };
}

const KEYS = ['app', 'tier', 'env'];
const VALUES = ['a', 'b', 'c', ''];
const NAMESPACES = ['n0', 'n1', 'n2'];

function randomLabels(r: (n: number) => number): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const k of KEYS) if (r(3) > 0) labels[k] = VALUES[r(VALUES.length)] as string;
  return labels;
}

function randomSelector(r: (n: number) => number): LabelSelector {
  const sel: LabelSelector = {};
  const ops = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;
  if (r(2)) sel.matchLabels = Object.fromEntries(KEYS.filter(() => r(3) === 0).map((k) => [k, VALUES[r(VALUES.length)] as string]));
  const expressions = r(3);
  if (expressions > 0) {
    sel.matchExpressions = Array.from({ length: expressions }, () => {
      const operator = ops[r(ops.length)] as (typeof ops)[number];
      const key = KEYS[r(KEYS.length)] as string;
      return operator === 'In' || operator === 'NotIn'
        ? { key, operator, values: [...new Set(Array.from({ length: 1 + r(3) }, () => VALUES[r(VALUES.length)] as string))] }
        : { key, operator };
    });
  }
  return sel;
}

test('selector peers from the label index equal a test of every pod, for random labels and selectors', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const r = rng(seed);
    const pods = Array.from({ length: 60 }, (_, i) => pod(NAMESPACES[i % 3] as string, `p${i}`, { ip: `198.18.${i >> 6}.${(i % 64) + 1}`, labels: randomLabels(r) }));
    const namespaces = NAMESPACES.map((n) => ns(n, randomLabels(r)));
    const policies = Array.from({ length: 6 }, (_, i) => {
      const from: NetworkPolicyPeer[] = Array.from({ length: 1 + r(2) }, () =>
        (r(2) ? { podSelector: randomSelector(r) } : { podSelector: randomSelector(r), namespaceSelector: randomSelector(r) }));
      return policy(NAMESPACES[i % 3] as string, `pol${i}`, { podSelector: {}, ingress: [{ from }] });
    });
    const view = viewFor(world({ pods, namespaces, policies, config: config({ families: ['ipv4'] }) }));
    const all = prepareView(view);
    for (const p of policies) {
      const normalized = normalizePolicy(p);
      const rule = normalized.ingress?.[0];
      assert.ok(rule && !normalized.rejection, `seed ${seed}: ${JSON.stringify(normalized.rejection)}`);
      const expected = all.pods.filter((q) => isSelectorPeer(normalized, rule, q, all.namespaceLabels(q.namespace)))
        .flatMap((q) => q.ips.ipv4).sort();
      const planned = planPolicy(view, normalized.key);
      const name = peerPodSetName(peerDefinition(normalized, rule), 'ipv4', 'ingress');
      const set = planned?.families.ipv4?.sets.find((s) => s.name === name);
      assert.deepEqual(set?.members.map((m) => m.entry), expected, `seed ${seed}, policy ${normalized.key}`);
    }
  }
});
