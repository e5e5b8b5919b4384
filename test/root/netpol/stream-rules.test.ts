// A full sync's rule transaction begun during planning, against test namespaces' kernels: the tool starts while
// the plan is still being made (as soon as a policy's sets are in), nothing of ours applies before the commit,
// the result equals a sync that was not streamed (both tool modes; a set too big to be written early holds its
// chain back to the commit), and an abandoned stream leaves no rule behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestNetns, haveCommand, isRoot } from '../../helpers/netns.ts';
import { config, ns, pod, policy } from '../../unit/netpol/fixtures.ts';
import { FakeCluster } from '../../unit/netpol/fake-cluster.ts';
import { IptablesApplier, iptablesTool, type IptablesMode } from '../../../src/controllers/netpol/apply-iptables.ts';
import { FAMILIES, type Family } from '../../../src/controllers/netpol/model.ts';
import { PlanState } from '../../../src/controllers/netpol/plan-state.ts';
import { IptablesSync, type FullStart } from '../../../src/controllers/netpol/sync-backends.ts';
import { recordingNetnsExec } from './controller-harness.ts';

const skip = !isRoot || !haveCommand('ipset') || !haveCommand('iptables-nft-restore') || !haveCommand('iptables-legacy-restore')
  ? 'needs root, ipset and both iptables modes' : false;

/** 30 policies over 2,000 pods (sets of several early-write windows); with `bigPeer`, one peer set of 9,000 addresses (more than an early-write window). */
function cluster(bigPeer: boolean): FakeCluster {
  const c = new FakeCluster(config({ defaultDeny: true }));
  for (const name of ['shop', 'ops', 'bulk']) c.put(ns(name, { team: name }), 'Namespace');
  for (let i = 0; i < 2000; i++) {
    const space = i % 2 === 0 ? 'shop' : 'ops';
    c.put(pod(space, `p${i}`, { ip: `198.18.${i >> 8}.${i & 255}`, ip6: `2001:db8:1::${i.toString(16)}`, node: i % 10 === 0 ? 'node-a' : 'node-b',
      labels: { app: `a${i % 15}`, tier: i % 3 === 0 ? 'web' : 'db' } }), 'Pod');
  }
  if (bigPeer) for (let i = 0; i < 9000; i++) c.put(pod('bulk', `b${i}`, { ip: `198.18.${64 + (i >> 8)}.${i & 255}`, node: 'node-b', labels: { app: 'bulk' } }), 'Pod');
  for (let i = 0; i < 30; i++) {
    c.put(policy(i % 2 === 0 ? 'shop' : 'ops', `pol${i}`, { podSelector: { matchLabels: { app: `a${i % 15}` } }, policyTypes: ['Ingress', 'Egress'],
      ingress: [{ from: [{ podSelector: { matchLabels: { tier: i % 3 === 0 ? 'web' : 'db' } } }, { namespaceSelector: { matchLabels: { team: i % 2 === 0 ? 'ops' : 'bulk' } } }],
        ports: [{ protocol: 'TCP', port: 8000 + i }] }],
      egress: [{ to: [{ podSelector: { matchLabels: { app: `a${(i + 1) % 15}` } } }, { ipBlock: { cidr: `198.19.${i}.0/24` } }] }] }), 'NetworkPolicy');
  }
  return c;
}

/** One family's filter table, chains sorted by name with their rules in order (creation order differs). */
function rulesByChain(n: TestNetns, mode: IptablesMode, family: Family): string {
  const chains = new Map<string, string[]>();
  for (const line of n.exec(iptablesTool(mode, family, 'save'), ['-t', 'filter']).split('\n')) {
    const decl = /^:(\S+) /.exec(line);
    if (decl) chains.set(decl[1] as string, chains.get(decl[1] as string) ?? []);
    const rule = /^-A (\S+) (.*)$/.exec(line);
    if (rule) chains.set(rule[1] as string, [...(chains.get(rule[1] as string) ?? []), rule[2] as string]);
  }
  return [...chains].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, rules]) => [name, ...rules.map((r) => `  ${r}`)].join('\n')).join('\n');
}

const ours = (n: TestNetns, mode: IptablesMode, family: Family): string[] =>
  n.exec(iptablesTool(mode, family, 'save'), ['-t', 'filter']).split('\n').filter((l) => /KUBE-/.test(l));

/**
 * A full sync as the controller runs it, except that planning pauses after each policy (without yielding the
 * event loop, as planning never does) until the rule transaction has started, at most 25 ms each: a small
 * plan would otherwise be done before the kernel acknowledged the first window of sets.
 */
async function streamedSync(n: TestNetns, mode: IptablesMode, c: FakeCluster): Promise<{ startedWhilePlanning: boolean; start: FullStart; sync: IptablesSync; state: PlanState }> {
  const exec = recordingNetnsExec(n);
  const sync = new IptablesSync(new IptablesApplier(exec, mode));
  const begun = await sync.beginFull(FAMILIES);
  assert.ok(begun.ok, begun.ok ? '' : begun.error);
  const start = begun.value;
  assert.ok(start.onPlanned && start.streams, 'this exec has netlink sockets: the sync streams');
  const view = c.view();
  assert.ok(view.ok);
  const restoreStarted = (): boolean => exec.commands.some((cmd) => /-restore -w --noflush/.test(cmd));
  const state = PlanState.full(view.value, undefined, (family, part) => {
    start.onPlanned?.(family, part);
    const until = Date.now() + 25;
    while (!restoreStarted() && Date.now() < until) start.onPlanned?.(family, { chains: [], sets: [] });
  });
  return { startedWhilePlanning: restoreStarted(), start, sync, state };
}

for (const mode of ['nft', 'legacy'] as const) {
  for (const bigPeer of [false, true]) {
    test(`[${mode}${bigPeer ? ', a set bigger than a window' : ''}] the rule transaction starts during planning, applies nothing before its commit, and equals an unstreamed sync`, { skip }, async () => {
      const streamed = new TestNetns('krt-strm');
      const plain = new TestNetns('krt-plain');
      try {
        const c = cluster(bigPeer);
        const s = await streamedSync(streamed, mode, c);
        assert.ok(s.startedWhilePlanning, 'iptables-restore was started before the plan was done');
        assert.deepEqual(FAMILIES.flatMap((f) => ours(streamed, mode, f)), [], 'nothing of ours in the kernel while the transaction is open');
        const streamedChains = s.start.streams?.get('ipv4')?.streamed.size ?? 0;
        const r = await s.sync.full(s.state, s.start);
        assert.ok(r.ok, r.ok ? '' : r.error);
        // 30 policies, 2 chains each: with the big set, the 30 chains matching on it wait for the commit.
        assert.equal(s.start.streams?.get('ipv4')?.streamed.size, bigPeer ? 30 : 60);
        assert.ok(streamedChains > 0, 'chains went to the tool before the plan was done');

        const plainSync = new IptablesSync(new IptablesApplier(recordingNetnsExec(plain), mode));
        const view = c.view();
        assert.ok(view.ok);
        const p = await plainSync.full(PlanState.full(view.value));
        assert.ok(p.ok, p.ok ? '' : p.error);
        for (const f of FAMILIES) {
          assert.ok(ours(streamed, mode, f).length > 100, `${f}: our rules are in`);
          assert.equal(rulesByChain(streamed, mode, f), rulesByChain(plain, mode, f), f);
        }
        // The kernel now holds the plan: another full sync writes nothing.
        const again = await s.sync.full(s.state);
        assert.ok(again.ok && again.value.unchanged, 'a second full sync finds nothing to change');
      } finally {
        streamed.delete();
        plain.delete();
      }
    });
  }
}

test('an abandoned stream (the plan failed) leaves no rule of ours and the tool exits', { skip }, async () => {
  const n = new TestNetns('krt-strm');
  try {
    const s = await streamedSync(n, 'nft', cluster(false));
    assert.ok(s.startedWhilePlanning);
    await s.start.abandon?.();
    for (const f of FAMILIES) assert.deepEqual(ours(n, 'nft', f), [], f);
    // The next full sync (without a stream) writes everything, and the early sets are adopted.
    const r = await s.sync.full(s.state);
    assert.ok(r.ok, r.ok ? '' : r.error);
    assert.ok(ours(n, 'nft', 'ipv4').length > 100);
  } finally {
    n.delete();
  }
});
