// Finding the objects a refused ruleset fails on (bisection over checks), and how a quarantined pod or
// policy is planned: fail closed, and incremental updates keep it so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NAMESPACES, PODS } from './cases.ts';
import { config, policy, viewFor, world } from './fixtures.ts';
import { findCulprits, type Suspect } from '../../../src/controllers/netpol/isolate.ts';
import { CHAIN_DEFAULT } from '../../../src/controllers/netpol/model.ts';
import { podChainName } from '../../../src/controllers/netpol/names.ts';
import { PlanState, type Quarantine } from '../../../src/controllers/netpol/plan-state.ts';
import { toPolicyPod } from '../../../src/controllers/netpol/policy-pod.ts';

const suspects = (n: number): Suspect[] => Array.from({ length: n }, (_, i) => ({ kind: i % 3 ? 'Pod' : 'NetworkPolicy', key: `ns/o${i}` }));

test('bisection finds exactly the refused objects with about log2(n) checks each', async () => {
  for (const [n, bad] of [[1, [0]], [2, [1]], [37, [5]], [1000, [3, 999]], [1000, [0, 1, 2]]] as [number, number[]][]) {
    const all = suspects(n);
    const culprits = bad.map((i) => all[i] as Suspect);
    let checks = 0;
    const r = await findCulprits(all, async (q) => {
      checks++;
      return culprits.every((c) => q.includes(c));
    });
    assert.equal(r.kind, 'found');
    assert.deepEqual(r.kind === 'found' ? [...r.culprits].sort((a, b) => a.key.localeCompare(b.key)) : [], [...culprits].sort((a, b) => a.key.localeCompare(b.key)));
    assert.ok(checks <= 2 + bad.length * (Math.ceil(Math.log2(n)) + 1), `${n}/${bad.length}: ${checks} checks`);
  }
});

test('a state the kernel takes as planned, or refuses whatever is quarantined, names no object', async () => {
  assert.deepEqual(await findCulprits(suspects(10), async () => true), { kind: 'accepted' });
  assert.deepEqual(await findCulprits(suspects(10), async () => false), { kind: 'unattributable' });
  const all = suspects(20);
  // More culprits than the limit: not blamed on a few.
  assert.deepEqual(await findCulprits(all, async (q) => all.every((s) => q.includes(s)), 3), { kind: 'unattributable' });
});

const view = (policies = [policy('prod', 'web-in', { podSelector: { matchLabels: { app: 'web' } }, ingress: [{ from: [{ podSelector: {} }] }] })]) =>
  viewFor(world({ pods: PODS, namespaces: NAMESPACES, policies, config: config() }));

function quarantine(podKeys: string[], policyKeys: string[] = []): Quarantine {
  const v = view();
  const pods = new Map(podKeys.map((k) => {
    const p = v.pods.find((x) => `${x.metadata?.namespace}/${x.metadata?.name}` === k);
    const planned = p ? toPolicyPod(p, v.nodeName, v.nodeIPs) : null;
    assert.ok(planned, k);
    return [k, planned];
  }));
  return { pods, policies: new Map(policyKeys.map((k) => [k, 'refused'])) };
}

test('a quarantined local pod gets a chain that allows nothing and is in no set; incremental updates keep it so', () => {
  const q = quarantine(['prod/db']);
  const state = PlanState.full(view(), q);
  const chain = state.familyState('ipv4').chains.find((c) => c.name === podChainName('prod', 'db'));
  assert.ok(chain, 'the pod keeps its firewall chain');
  assert.ok(chain.rules.every((r) => r.action.kind !== 'jump' || r.action.chain === 'KUBE-NWPLCY-COMMON'), 'no policy and no DEFAULT jump');
  assert.ok(chain.rules.some((r) => r.action.kind === 'reject'));
  const inSets = (s: PlanState) => s.familyState('ipv4').sets.some((set) => set.members.some((m) => m.entry === '198.18.1.11'));
  assert.equal(inSets(state), false, 'a peer nowhere');
  assert.equal(inSets(PlanState.full(view())), true, 'without quarantine it is a peer of web-in');
  const top = state.familyState('ipv4').chains.find((c) => c.name === 'KUBE-ROUTER-FORWARD');
  assert.ok(top?.rules.some((r) => r.match.comment?.startsWith('pod rejected ~')), 'its jumps carry no name');

  // A new deny-all selecting it, planned incrementally, equals a full plan and leaves it closed.
  const next = view([...view().policies, policy('prod', 'deny', { podSelector: {} })]);
  state.update(next, { policies: ['prod/deny'], pods: [], namespaces: [] });
  for (const f of ['ipv4', 'ipv6'] as const) assert.deepEqual(state.familyState(f), PlanState.full(next, q).familyState(f), f);
  const after = state.familyState('ipv4').chains.find((c) => c.name === podChainName('prod', 'db'));
  const jumps = after?.rules.flatMap((r) => (r.action.kind === 'jump' ? [r.action.chain] : [])) ?? [];
  assert.deepEqual(jumps.filter((c) => c === CHAIN_DEFAULT || c.startsWith('KUBE-NWPLCY-')), ['KUBE-NWPLCY-COMMON'], 'still nothing but COMMON');
});

test('a quarantined policy is planned as rejected: it still isolates its targets and allows nothing', () => {
  const state = PlanState.full(view(), quarantine([], ['prod/web-in']));
  assert.equal(state.rejections().get('prod/web-in')?.message, 'refused');
  const fw = state.firewalls.ipv4.get('prod/web');
  assert.equal(fw?.ingressChains.length, 1, 'web is still isolated by the policy');
  const chain = state.familyState('ipv4').chains.find((c) => c.name === fw?.ingressChains[0]);
  assert.ok(chain && chain.rules.every((r) => r.action.kind !== 'mark'), 'whose chain allows nothing');
  const normal = PlanState.full(view()).familyState('ipv4').chains.find((c) => c.name === fw?.ingressChains[0]);
  assert.ok(normal?.rules.some((r) => r.action.kind === 'mark'), 'where the policy as planned allows its peers');
});
