// The controller's event → work mapping: which changes re-plan what, that the incrementally updated state
// always equals a fresh full plan, that a pod label change reaches the kernel as set deltas only, and that
// rejected policies are reported once per change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NAMESPACES, PODS } from './cases.ts';
import { config, ns, pod, policy } from './fixtures.ts';
import { FakeCluster, recordingExec } from './fake-cluster.ts';
import { fails } from '../../helpers/fake-exec.ts';
import { IptablesApplier } from '../../../src/controllers/netpol/apply-iptables.ts';
import { NetpolController } from '../../../src/controllers/netpol/controller.ts';
import type { PolicyRejection } from '../../../src/controllers/netpol/model.ts';
import { plan } from '../../../src/controllers/netpol/plan.ts';
import { PlanState } from '../../../src/controllers/netpol/plan-state.ts';
import { workFor } from '../../../src/controllers/netpol/plan-work.ts';
import { IptablesSync } from '../../../src/controllers/netpol/sync-backends.ts';
import type { ChangeRef } from '../../../src/controllers/runtime.ts';
import type { Pod } from 'kubernetes-types/core/v1.js';

const POLICIES = [
  policy('prod', 'web', { podSelector: { matchLabels: { app: 'web' } }, ingress: [
    { from: [{ namespaceSelector: { matchLabels: { env: 'dev' } } }, { ipBlock: { cidr: '198.19.0.0/16', except: ['198.19.9.0/24'] } }], ports: [{ port: 'http' }] }] }),
  policy('prod', 'backend', { podSelector: { matchExpressions: [{ key: 'tier', operator: 'Exists' }] }, policyTypes: ['Ingress', 'Egress'],
    ingress: [{ from: [{ podSelector: { matchLabels: { app: 'web' } } }] }], egress: [{ ports: [{ port: 'http' }] }] }),
  policy('dev', 'deny', { podSelector: {} }),
];

function cluster(): FakeCluster {
  const c = new FakeCluster(config({ defaultDeny: true }));
  for (const n of NAMESPACES) c.put(n, 'Namespace');
  for (const p of PODS) c.put(p, 'Pod');
  for (const p of POLICIES) c.put(p, 'NetworkPolicy');
  return c;
}

function relabel(p: Pod, labels: Record<string, string>): Pod {
  return { ...p, metadata: { ...p.metadata, labels } };
}

function assertSameAsFullPlan(state: PlanState, c: FakeCluster, step: string): void {
  const view = c.view();
  assert.ok(view.ok);
  const full = plan(view.value);
  for (const fam of full.families) assert.deepEqual(state.familyState(fam.family), fam, `${step}: ${fam.family}`);
}

test('incremental updates leave the planned state equal to a full plan after every kind of change', () => {
  const c = cluster();
  const first = c.view();
  assert.ok(first.ok);
  const state = PlanState.full(first.value);
  assertSameAsFullPlan(state, c, 'initial');
  const web = c.pods.get('prod/web') as Pod;
  const steps: [string, () => ChangeRef[]][] = [
    ['local pod loses its label', () => [c.put(relabel(web, { app: 'web2' }), 'Pod')]],
    ['remote pod gains a label', () => [c.put(relabel(c.pods.get('dev/client') as Pod, { app: 'web' }), 'Pod')]],
    ['pod changes IP', () => [c.put(pod('prod', 'db', { ip: '198.18.1.99', labels: { app: 'db', tier: 'backend' }, ports: [{ name: 'http', containerPort: 9091 }] }), 'Pod')]],
    ['local pod added', () => [c.put(pod('prod', 'new', { ip: '198.18.1.77', labels: { tier: 'x' } }), 'Pod')]],
    ['pod deleted', () => [c.remove('Pod', 'dev/tool')]],
    ['namespace label change', () => [c.put(ns('other', { env: 'dev' }), 'Namespace')]],
    ['policy added', () => [c.put(policy('other', 'allow', { podSelector: {}, ingress: [{}] }), 'NetworkPolicy')]],
    ['policy changed', () => [c.put(policy('dev', 'deny', { podSelector: { matchLabels: { app: 'none' } } }), 'NetworkPolicy')]],
    ['policy deleted', () => [c.remove('NetworkPolicy', 'prod/backend')]],
    ['burst of mixed changes', () => [
      c.put(relabel(web, { app: 'web' }), 'Pod'), c.remove('NetworkPolicy', 'other/allow'), c.put(ns('dev', { env: 'qa' }), 'Namespace'),
      c.put(pod('dev', 'tool', { ip: '198.18.1.21', labels: { app: 'tool' } }), 'Pod')]],
  ];
  for (const [name, mutate] of steps) {
    const changes = mutate();
    const view = c.view();
    assert.ok(view.ok);
    const work = workFor(changes, view.value, state, c);
    assert.equal(work.full, false, name);
    state.update(view.value, work);
    assertSameAsFullPlan(state, c, name);
  }
});

test('work mapping: status-only pod updates do nothing, label changes name the affected policies, node changes go full', () => {
  const c = cluster();
  const view = c.view();
  assert.ok(view.ok);
  const state = PlanState.full(view.value);
  const db = c.pods.get('prod/db') as Pod;
  const statusOnly = c.put({ ...db, status: { ...db.status, conditions: [{ type: 'Ready', status: 'True' }] } }, 'Pod');
  const none = workFor([statusOnly], view.value, state, c);
  assert.deepEqual([none.full, [...none.pods], [...none.policies]], [false, [], []]);

  const dev = c.put(relabel(c.pods.get('dev/client') as Pod, { app: 'client', extra: 'y' }), 'Pod');
  const labelWork = workFor([dev], view.value, state, c);
  // dev/deny targets every dev pod and prod/web admits every pod of env=dev namespaces, before and after: the
  // new label changes neither answer, so neither is re-planned. prod/backend's peerless egress rule resolves
  // its named port on every pod, so it is.
  assert.deepEqual([...labelWork.policies].sort(), ['prod/backend']);
  assert.deepEqual([...labelWork.pods], ['dev/client']);
  // A label that flips a selection re-plans that policy: prod/db becomes an app=web target of prod/web.
  const flip = c.put(relabel(db, { ...db.metadata?.labels, app: 'web' }), 'Pod');
  assert.deepEqual([...workFor([flip], view.value, state, c).policies].sort(), ['prod/backend', 'prod/web']);
  // An address change re-plans every policy selecting the pod, flipped or not.
  const moved = c.put({ ...(c.pods.get('dev/client') as Pod), status: { ...(c.pods.get('dev/client') as Pod).status, podIP: '198.18.1.99', podIPs: [{ ip: '198.18.1.99' }] } }, 'Pod');
  assert.deepEqual([...workFor([moved], view.value, state, c).policies].sort(), ['dev/deny', 'prod/backend', 'prod/web']);

  const nsWork = workFor([c.put(ns('prod', { env: 'prod', team: 'b' }), 'Namespace')], view.value, state, c);
  assert.deepEqual([...nsWork.policies], []);
  assert.deepEqual(workFor([{ kind: 'Node', key: 'node-a' }], view.value, state, c).full, true);
  assert.deepEqual(workFor([{ kind: 'Node', key: 'node-b' }], view.value, state, c).full, false);
});

async function controllerWithFakeKernel(c: FakeCluster, rejections: string[] = []) {
  const exec = recordingExec();
  const sync = new IptablesSync(new IptablesApplier(exec, 'nft'));
  const controller = new NetpolController({
    source: c, backend: sync, syncPeriodMs: 60_000,
    reject: (p, r: PolicyRejection) => rejections.push(`${p.metadata?.namespace}/${p.metadata?.name} ${r.field}`),
  });
  await controller.fullSync();
  return { controller, exec };
}

test('a remote pod label change is applied as one ipset batch of member deltas, nothing else', async () => {
  const c = cluster();
  const { controller, exec } = await controllerWithFakeKernel(c);
  exec.calls.length = 0;
  const out = await controller.handleChanges([c.put(relabel(c.pods.get('prod/cache') as Pod, { app: 'web', tier: 'backend' }), 'Pod')]);
  assert.deepEqual(out, {});
  // prod/cache (node-b) becomes an app=web peer of prod/backend's ingress rule: one add per family, no chain touched.
  assert.deepEqual(exec.calls.map((x) => `${x.cmd} ${x.args.join(' ')}`), ['ipset -exist restore']);
  const lines = exec.calls[0]?.input.trim().split('\n') ?? [];
  assert.equal(lines.length, 2);
  assert.ok(lines.every((l) => /^add (inet6:)?KUBE-SRC-\S+ (198\.18\.2\.12|2001:db8:2::12)$/.test(l)), lines.join('\n'));
});

test('a local pod that becomes a policy target gets its chain rewritten in one iptables-restore per family', async () => {
  const c = cluster();
  const { controller, exec } = await controllerWithFakeKernel(c);
  exec.calls.length = 0;
  await controller.handleChanges([c.put(relabel(c.pods.get('prod/web') as Pod, { app: 'web', tier: 'x' }), 'Pod')]);
  // Sets first (prod/backend's target sets gain the pod), then one restore per family.
  assert.deepEqual(exec.calls.map((x) => x.cmd), ['ipset', 'iptables-nft-restore', 'ip6tables-nft-restore']);
  const v4 = exec.calls.find((x) => x.cmd === 'iptables-nft-restore');
  assert.ok(v4);
  // Only the pod's chain is declared (flushed and refilled); the top chains are untouched.
  const declared = v4.input.split('\n').filter((l) => l.startsWith(':'));
  assert.equal(declared.length, 1);
  assert.match(declared[0] ?? '', /^:KUBE-POD-FW-/);
});

test('a local pod moving from one policy to another: its new sets gain it, then its chain moves, then its old sets lose it', async () => {
  const c = cluster();
  const { controller, exec } = await controllerWithFakeKernel(c);
  exec.calls.length = 0;
  // prod/web leaves prod/web (app=web) and becomes a target of prod/backend (tier exists).
  await controller.handleChanges([c.put(relabel(c.pods.get('prod/web') as Pod, { app: 'api', tier: 'x' }), 'Pod')]);
  assert.deepEqual(exec.calls.map((x) => x.cmd), ['ipset', 'iptables-nft-restore', 'ip6tables-nft-restore', 'ipset']);
  const [first, , , last] = exec.calls;
  const lines = (input: string | undefined): string[] => (input ?? '').trim().split('\n');
  assert.ok(lines(first?.input).every((l) => l.startsWith('add ')), first?.input);
  // Member removals, then the sets no rule uses any more (its named-port set), in one restore.
  const removals = lines(last?.input);
  const firstDestroy = removals.findIndex((l) => !l.startsWith('del '));
  assert.ok(firstDestroy >= 2, last?.input);
  assert.ok(removals.slice(firstDestroy).every((l) => /^(flush|destroy) /.test(l)), last?.input);
  assert.ok(lines(first?.input).length >= 2, 'both families');
});

test('a batch is handled with one apply, and a rejected policy is reported once per version', async () => {
  const c = cluster();
  const rejections: string[] = [];
  const bad = policy('other', 'bad', { podSelector: { matchExpressions: [{ key: 'a', operator: 'Bogus' as 'In' }] } });
  c.put(bad, 'NetworkPolicy');
  const { controller, exec } = await controllerWithFakeKernel(c, rejections);
  assert.deepEqual(rejections, ['other/bad spec.podSelector.matchExpressions[0].operator']);
  await controller.fullSync();
  await controller.handleChanges([c.put(relabel(c.pods.get('other/x') as Pod, { app: 'y' }), 'Pod')]);
  assert.equal(rejections.length, 1, 'not reported again while unchanged');
  exec.calls.length = 0;
  const burst = [
    c.put({ ...bad, metadata: { ...bad.metadata, generation: 2 } }, 'NetworkPolicy'),
    c.put(pod('dev', 'n1', { ip: '198.18.1.81' }), 'Pod'), c.put(pod('dev', 'n2', { ip: '198.18.1.82' }), 'Pod'),
  ];
  assert.deepEqual(await controller.handleChanges(burst), {});
  assert.equal(rejections.length, 2, 'reported again after the policy changed');
  assert.deepEqual(exec.calls.map((x) => x.cmd), ['ipset', 'iptables-nft-restore', 'ip6tables-nft-restore'].filter((cmd) => exec.calls.some((x) => x.cmd === cmd)));
  assert.ok(exec.calls.filter((x) => x.cmd === 'ipset').length <= 2);
});

test('handleChanges returns failed keys instead of throwing when the kernel rejects a batch', async () => {
  const c = cluster();
  const { controller, exec } = await controllerWithFakeKernel(c);
  exec.run = async (cmd, args) => fails(cmd, args, 1, 'boom');
  const change = c.put(relabel(c.pods.get('prod/cache') as Pod, { app: 'web' }), 'Pod');
  const out = await controller.handleChanges([change]);
  assert.deepEqual([...(out.failed?.keys() ?? [])], ['prod/cache']);
});
