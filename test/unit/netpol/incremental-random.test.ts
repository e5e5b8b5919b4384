// Long random sequences of pod and namespace changes, planned incrementally (PlanState.update with the work
// workFor names), must leave exactly the state a fresh full plan of the same cluster gives, after every step:
// the check for the incremental shortcuts (re-planning only flipped selections, peer member lists carried from
// view to view and patched with the changed pods' addresses, shared addresses kept while a pod holds them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { config, ns, pod, policy } from './fixtures.ts';
import { FakeCluster } from './fake-cluster.ts';
import { plan } from '../../../src/controllers/netpol/plan.ts';
import { PlanState } from '../../../src/controllers/netpol/plan-state.ts';
import { workFor } from '../../../src/controllers/netpol/plan-work.ts';

const NS = ['a', 'b', 'c'];
const APPS = ['x', 'y', 'z'];

function rng(seed: number): () => number {
  let s = seed;
  return () => {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    return (s >>> 0) / 0x1_0000_0000;
  };
}

function cluster(): FakeCluster {
  const c = new FakeCluster(config({ defaultDeny: true }));
  for (const [i, n] of NS.entries()) c.put(ns(n, { team: i % 2 ? 'odd' : 'even' }), 'Namespace');
  for (const n of NS) {
    c.put(policy(n, 'from-x', { podSelector: { matchLabels: { app: 'y' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'x' } } }] }] }), 'NetworkPolicy');
    c.put(policy(n, 'from-even-z', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'even' } }, podSelector: { matchLabels: { app: 'z' } } }] }] }), 'NetworkPolicy');
    c.put(policy(n, 'to-all-x', { podSelector: { matchLabels: { app: 'z' } }, policyTypes: ['Egress'], egress: [{ to: [{ namespaceSelector: {}, podSelector: { matchLabels: { app: 'x' } } }], ports: [{ port: 'http' }] }] }), 'NetworkPolicy');
  }
  return c;
}

for (const seed of [1, 7, 42, 1234]) {
  test(`seed ${seed}: 300 random pod and namespace changes, each incremental plan equals a fresh full plan`, () => {
    const random = rng(seed);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const c = cluster();
    // Few addresses for many pods: two pods sometimes share one, as a recycled address does.
    const address = (): { ip: string; ip6: string } => { const n = 10 + Math.floor(random() * 24); return { ip: `198.18.1.${n}`, ip6: `2001:db8:1::${n}` }; };
    const newPod = (n: string, name: string): Pod => pod(n, name, { ...address(), labels: { app: pick(APPS) }, node: random() < 0.3 ? 'node-a' : 'node-b',
      ports: random() < 0.5 ? [{ name: 'http', containerPort: pick([80, 8080]) }] : [] });
    for (const n of NS) for (let i = 0; i < 6; i++) c.put(newPod(n, `p${i}`), 'Pod');
    const first = c.view();
    assert.ok(first.ok);
    const state = PlanState.full(first.value);
    for (let step = 0; step < 300; step++) {
      const n = pick(NS);
      const name = `p${Math.floor(random() * 8)}`;
      const existing = c.pods.get(`${n}/${name}`);
      const r = random();
      let change;
      if (r < 0.05) change = c.put(ns(pick(NS), { team: pick(['even', 'odd']) }), 'Namespace');
      else if (!existing || r < 0.15) change = c.put(newPod(n, name), 'Pod');
      else if (r < 0.25) change = c.remove('Pod', `${n}/${name}`);
      else if (r < 0.4) change = c.put({ ...existing, status: { ...existing.status, ...(() => { const a = address(); return { podIP: a.ip, podIPs: [{ ip: a.ip }, { ip: a.ip6 }] }; })() } }, 'Pod');
      else change = c.put({ ...existing, metadata: { ...existing.metadata, labels: { ...existing.metadata?.labels, app: pick(APPS), ...(random() < 0.3 ? { extra: String(step) } : {}) } } }, 'Pod');
      const view = c.view();
      assert.ok(view.ok);
      const work = workFor([change], view.value, state, c);
      if (work.full) continue;
      state.update(view.value, work);
      const full = plan(view.value);
      for (const fam of full.families) assert.deepEqual(state.familyState(fam.family), fam, `seed ${seed} step ${step} (${change.kind} ${change.key}): ${fam.family}`);
    }
  });
}
