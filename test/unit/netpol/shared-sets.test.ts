// Sets shared by definition: rules whose peers are decided the same way use one set, which stays while any of
// them does and keeps its members right through every change; and the write path streams bounded chunks and
// keeps no text of what it wrote.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { config, ns, pod, policy } from './fixtures.ts';
import { FakeCluster, recordingExec } from './fake-cluster.ts';
import { IptablesApplier } from '../../../src/controllers/netpol/apply-iptables.ts';
import { NetpolController } from '../../../src/controllers/netpol/controller.ts';
import { plan } from '../../../src/controllers/netpol/plan.ts';
import { PlanState } from '../../../src/controllers/netpol/plan-state.ts';
import { workFor } from '../../../src/controllers/netpol/plan-work.ts';
import { IptablesSync } from '../../../src/controllers/netpol/sync-backends.ts';
import { INPUT_CHUNK_BYTES, StreamedInput } from '../../../src/kernel/exec.ts';
import { ok } from '../../../src/result.ts';
import type { Exec } from '../../../src/kernel/exec.ts';
import type { NetworkPolicy } from 'kubernetes-types/networking/v1.js';

// Every team namespace admits monitoring pods of the ops namespaces: one peer definition, many policies.
const admitMonitoring = (namespace: string, name = 'monitoring'): NetworkPolicy => policy(namespace, name, {
  podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { role: 'ops' } }, podSelector: { matchLabels: { app: 'mon' } } }] }],
});

function cluster(teams = 3): FakeCluster {
  const c = new FakeCluster(config());
  c.put(ns('ops', { role: 'ops' }), 'Namespace');
  c.put(pod('ops', 'mon-1', { ip: '198.18.2.1', node: 'node-b', labels: { app: 'mon' } }), 'Pod');
  c.put(pod('ops', 'mon-2', { ip: '198.18.2.2', node: 'node-b', labels: { app: 'mon' } }), 'Pod');
  for (let i = 0; i < teams; i++) {
    c.put(ns(`team-${i}`), 'Namespace');
    c.put(pod(`team-${i}`, 'app', { ip: `198.18.1.${10 + i}`, labels: { app: 'app' } }), 'Pod');
    c.put(admitMonitoring(`team-${i}`), 'NetworkPolicy');
  }
  return c;
}

const peerSetsOf = (c: FakeCluster): string[] => {
  const view = c.view();
  assert.ok(view.ok);
  const v4 = plan(view.value).families.find((f) => f.family === 'ipv4');
  return (v4?.sets ?? []).filter((s) => s.members.some((m) => m.entry.startsWith('198.18.2.'))).map((s) => s.name);
};

test('rules with the same peer definition share one set; its members are the peers', () => {
  const c = cluster();
  const shared = peerSetsOf(c);
  assert.equal(shared.length, 1, 'one set for three policies');
  const view = c.view();
  assert.ok(view.ok);
  const v4 = plan(view.value).families.find((f) => f.family === 'ipv4');
  const set = v4?.sets.find((s) => s.name === shared[0]);
  assert.deepEqual(set?.members.map((m) => m.entry), ['198.18.2.1', '198.18.2.2']);
  const users = (v4?.chains ?? []).filter((ch) => ch.rules.some((r) => r.match.sets?.some((s) => s.set === shared[0])));
  assert.equal(users.length, 3, 'every policy chain matches on it');
});

test('a shared set outlives a deleted user, and its last user takes it along after the rules are gone', async () => {
  const c = cluster(2);
  const exec = recordingExec();
  const controller = new NetpolController({ source: c, backend: new IptablesSync(new IptablesApplier(exec, 'nft')), syncPeriodMs: 60_000, reject: () => undefined });
  await controller.fullSync();
  const [shared] = peerSetsOf(c);
  assert.ok(shared);
  exec.calls.length = 0;
  assert.deepEqual(await controller.handleChanges([c.remove('NetworkPolicy', 'team-0/monitoring')]), {});
  assert.ok(!exec.calls.some((x) => x.input.includes(shared)), 'the shared set is not touched while team-1 uses it');
  exec.calls.length = 0;
  assert.deepEqual(await controller.handleChanges([c.remove('NetworkPolicy', 'team-1/monitoring')]), {});
  const order = exec.calls.map((x) => x.cmd);
  const destroyAt = exec.calls.findIndex((x) => x.cmd === 'ipset' && x.input.includes(`destroy ${shared}`));
  assert.ok(destroyAt > order.indexOf('iptables-nft-restore'), `destroyed after the rules: ${order.join(', ')}`);
});

test('when one user redefines its peers the others keep the set; the new set is filled before its rule switches', async () => {
  const c = cluster(2);
  const exec = recordingExec();
  const controller = new NetpolController({ source: c, backend: new IptablesSync(new IptablesApplier(exec, 'nft')), syncPeriodMs: 60_000, reject: () => undefined });
  await controller.fullSync();
  const [shared] = peerSetsOf(c);
  exec.calls.length = 0;
  c.put(pod('ops', 'mon-3', { ip: '198.18.2.3', node: 'node-b', labels: { app: 'mon', tier: 'x' } }), 'Pod');
  const edited = policy('team-0', 'monitoring', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { role: 'ops' } }, podSelector: { matchLabels: { tier: 'x' } } }] }] });
  assert.deepEqual(await controller.handleChanges([c.put(edited, 'NetworkPolicy'), { kind: 'Pod', key: 'ops/mon-3' }]), {});
  const ipsetFirst = exec.calls[0];
  assert.equal(ipsetFirst?.cmd, 'ipset');
  assert.match(ipsetFirst?.input ?? '', /^add KUBE-SRC-\S+ 198\.18\.2\.3$/m, 'the new set gets its member before any rule uses it');
  assert.ok(!exec.calls.some((x) => x.input.includes(`destroy ${shared}`)), 'team-1 still uses the old set');
  const sets = peerSetsOf(c);
  assert.equal(sets.length, 2);
  // And the result is exactly a full plan.
  const view = c.view();
  assert.ok(view.ok);
  const state = PlanState.full(view.value);
  const fresh = plan(view.value);
  for (const f of fresh.families) assert.deepEqual(state.familyState(f.family), f);
});

test('incremental updates with shared sets equal a full plan through shares, splits and deletes', () => {
  const c = cluster(3);
  const first = c.view();
  assert.ok(first.ok);
  const state = PlanState.full(first.value);
  const steps = [
    () => [c.put(pod('ops', 'mon-3', { ip: '198.18.2.3', node: 'node-b', labels: { app: 'mon' } }), 'Pod')],
    () => [c.put(policy('team-1', 'monitoring', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { role: 'ops' } } }] }] }), 'NetworkPolicy')],
    () => [c.put(ns('ops', { role: 'none' }), 'Namespace')],
    () => [c.remove('NetworkPolicy', 'team-0/monitoring')],
    () => [c.put(admitMonitoring('team-1'), 'NetworkPolicy'), c.put(ns('ops', { role: 'ops' }), 'Namespace')],
    () => [c.remove('Pod', 'ops/mon-1')],
  ];
  for (const [i, step] of steps.entries()) {
    const changes = step();
    const view = c.view();
    assert.ok(view.ok);
    state.update(view.value, workFor(changes, view.value, state, c));
    for (const f of plan(view.value).families) assert.deepEqual(state.familyState(f.family), f, `step ${i}`);
  }
});

test('a full sync streams bounded chunks to the tools and keeps only counts in its report', async () => {
  // 3,000 peers: an ipset script far bigger than one chunk.
  const c = cluster(1);
  for (let i = 0; i < 3000; i++) c.put(pod('ops', `m-${i}`, { ip: `198.18.${100 + (i >> 8)}.${i & 255}`, node: 'node-b', labels: { app: 'mon' } }), 'Pod');
  const chunks: number[] = [];
  const exec: Exec = {
    count: 0,
    async run(_tool, _args, options = {}) {
      const input = options.input ?? '';
      if (input instanceof StreamedInput) throw new Error('no streamed input without a kernel');
      for (const chunk of typeof input === 'string' ? [input] : input) chunks.push(chunk.length);
      return ok('');
    },
  };
  const controller = new NetpolController({ source: c, backend: new IptablesSync(new IptablesApplier(exec, 'nft')), syncPeriodMs: 60_000, reject: () => undefined });
  await controller.fullSync();
  assert.ok(chunks.length > 2, 'more than one chunk');
  assert.ok(Math.max(...chunks) < INPUT_CHUNK_BYTES + 1024, `chunks stay near ${INPUT_CHUNK_BYTES} bytes: ${Math.max(...chunks)}`);
  const report = controller.lastSync?.report;
  assert.equal(report?.applied?.membersAdded, 3000 + 2 + 1, 'the peers and the one local target');
  assert.ok(JSON.stringify(report).length < 1000, 'no text of the write is kept');
});
