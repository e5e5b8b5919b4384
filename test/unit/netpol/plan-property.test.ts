// Planner properties: output independent of input order, the incremental entry points agreeing with the
// full plan, and the label-change index naming exactly the policies whose selection can change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NAMESPACES, PODS } from './cases.ts';
import { config, ns, policy, pod, viewFor, world } from './fixtures.ts';
import { plan, planPod, planPolicy, policiesAffectedBy, type PodPlan, type PolicyPlan } from '../../../src/controllers/netpol/plan.ts';
import type { ClusterView } from '../../../src/controllers/netpol/plan-view.ts';

const POLICIES = [
  policy('prod', 'web', { podSelector: { matchLabels: { app: 'web' } }, ingress: [
    { from: [{ namespaceSelector: { matchLabels: { env: 'dev' } } }, { ipBlock: { cidr: '198.19.0.0/16', except: ['198.19.9.0/24'] } }], ports: [{ port: 'http' }, { port: 80, endPort: 90 }] }] }),
  policy('prod', 'backend', { podSelector: { matchExpressions: [{ key: 'tier', operator: 'Exists' }] }, policyTypes: ['Ingress', 'Egress'],
    ingress: [{ from: [{ podSelector: { matchLabels: { app: 'web' } } }] }], egress: [{ to: [{ ipBlock: { cidr: '::/0' } }] }, { ports: [{ port: 'http' }] }] }),
  policy('dev', 'deny', { podSelector: {} }),
  policy('other', 'bad', { podSelector: { matchExpressions: [{ key: 'a', operator: 'Bogus' }] } }),
];

/** Deterministic pseudo-random permutation (xorshift), so a failure can be replayed from its seed. */
function shuffle<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let s = seed || 1;
  for (let i = out.length - 1; i > 0; i--) {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    const j = Math.abs(s) % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

const baseView = (): ClusterView => viewFor(world({ pods: PODS, namespaces: NAMESPACES, policies: POLICIES, config: config({ defaultDeny: true }) }));

test('plan output is identical for any order of pods, namespaces and policies', () => {
  const reference = JSON.stringify(plan(baseView()));
  for (let seed = 1; seed <= 25; seed++) {
    const v = baseView();
    const shuffled: ClusterView = { ...v, pods: shuffle(v.pods, seed), namespaces: shuffle(v.namespaces, seed * 7), policies: shuffle(v.policies, seed * 13) };
    assert.equal(JSON.stringify(plan(shuffled)), reference, `seed ${seed}`);
  }
});

test('planPolicy returns exactly the chains and sets the full plan holds for that policy', () => {
  const v = baseView();
  const full = plan(v);
  for (const key of ['prod/web', 'prod/backend', 'dev/deny', 'other/bad']) {
    const part: PolicyPlan | null = planPolicy(v, key);
    assert.ok(part, key);
    for (const fam of full.families) {
      const piece: PolicyPlan['families']['ipv4'] = part.families[fam.family];
      assert.ok(piece);
      for (const chain of piece.chains) assert.deepEqual(fam.chains.find((c) => c.name === chain.name), chain);
      for (const set of piece.sets) assert.deepEqual(fam.sets.find((s) => s.name === set.name), set);
    }
  }
  assert.equal(planPolicy(v, 'prod/missing'), null);
  assert.equal(planPolicy(v, 'other/bad')?.rejection?.field, 'spec.podSelector.matchExpressions[0].operator');
});

test('planPod gives the pod chain and the set memberships the full plan has for that pod', () => {
  const v = baseView();
  const full = plan(v);
  for (const p of PODS) {
    const key = `${p.metadata?.namespace}/${p.metadata?.name}`;
    const part: PodPlan | null = planPod(v, key);
    if (p.spec?.hostNetwork) { assert.equal(part, null); continue; }
    assert.ok(part, key);
    for (const fam of full.families) {
      const mine: PodPlan['families']['ipv4'] = part.families[fam.family];
      assert.ok(mine);
      const ips = [p.status?.podIP, ...(p.status?.podIPs ?? []).map((x) => x.ip)].filter((ip): ip is string => !!ip);
      const expectSets = fam.sets.filter((s) => s.type === 'hash:ip' && s.members.some((m) => ips.includes(m.entry))).map((s) => s.name).sort();
      assert.deepEqual(mine.memberOf, expectSets, `${key} ${fam.family}`);
      assert.deepEqual(mine.chain ?? undefined, mine.firewall ? fam.chains.find((c) => c.name === mine.firewall?.chain) : undefined);
    }
  }
  // prod/db declares "http": prod/backend's peerless egress rule resolves it on every known pod, while
  // prod/web's ingress rule resolves it only on prod/web's own targets (of which prod/web is one).
  assert.deepEqual(planPod(v, 'prod/db')?.policiesToReplan, ['prod/backend']);
  assert.deepEqual(planPod(v, 'prod/web')?.policiesToReplan, ['prod/backend', 'prod/web']);
});

test('label-change index names policies whose selectors match the old or the new labels', () => {
  const v = baseView();
  // dev's env label feeds prod/web's namespaceSelector only.
  assert.deepEqual(policiesAffectedBy(v, { kind: 'namespace', name: 'dev', oldLabels: { env: 'dev' }, newLabels: {} }), ['prod/web']);
  assert.deepEqual(policiesAffectedBy(v, { kind: 'namespace', name: 'x', oldLabels: {}, newLabels: { team: 'z' } }), []);
  // A prod pod gaining app=web becomes a target of prod/web and a peer of prod/backend.
  assert.deepEqual(policiesAffectedBy(v, { kind: 'pod', key: 'prod/n', namespace: 'prod', oldLabels: {}, newLabels: { app: 'web' } }), ['prod/backend', 'prod/web']);
  // In dev every pod is a target of dev/deny and a peer of prod/web (namespace dev matches env=dev).
  assert.deepEqual(policiesAffectedBy(v, { kind: 'pod', key: 'dev/n', namespace: 'dev', oldLabels: { a: '1' }, newLabels: { a: '2' } }), ['dev/deny', 'prod/web']);
});

test('a namespace label change re-plans peer sets: the pod moves into the policy set', () => {
  const pods = [pod('prod', 'web', { ip: '198.18.1.10', labels: { app: 'web' } }), pod('qa', 'q', { ip: '198.18.1.50' })];
  const pol = policy('prod', 'from-qa', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { trusted: 'yes' } } }] }] });
  const before = plan(viewFor(world({ pods, namespaces: [ns('prod'), ns('qa')], policies: [pol], config: config({ families: ['ipv4'] }) })));
  const after = plan(viewFor(world({ pods, namespaces: [ns('prod'), ns('qa', { trusted: 'yes' })], policies: [pol], config: config({ families: ['ipv4'] }) })));
  const peerSet = (d: typeof before) => d.families[0]?.sets.filter((s) => s.name.startsWith('KUBE-SRC-')).flatMap((s) => s.members.map((m) => m.entry));
  assert.deepEqual(peerSet(before), []);
  assert.deepEqual(peerSet(after), ['198.18.1.50']);
  // Only set contents changed: every chain is identical, so an incremental apply is a pure ipset delta.
  assert.deepEqual(after.families[0]?.chains, before.families[0]?.chains);
});
