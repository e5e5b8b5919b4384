// The diff produces minimal changes: nothing when the kernel matches, only the chains whose rules differ,
// member deltas (or a swap past the threshold) for sets, and clean-up of duplicate or foreign-comment jumps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diff, type ObservedFamily } from '../../../src/controllers/netpol/diff.ts';
import type { DesiredState, FamilyState } from '../../../src/controllers/netpol/model.ts';
import { parseIpsetSave } from '../../../src/controllers/netpol/parse-ipset-save.ts';
import { parseIptablesSave } from '../../../src/controllers/netpol/parse-iptables-save.ts';
import { renderIptablesRestore } from '../../../src/controllers/netpol/render-iptables.ts';
import { renderIpsetRestore } from '../../../src/controllers/netpol/render-ipset.ts';
import { smallState } from './small-state.ts';

/** What the kernel would show after applying `state` from scratch (the v4 family). */
function observedAfter(state: DesiredState): { fam: FamilyState; observed: ObservedFamily; saveText: string } {
  const ch = diff(state, {})[0];
  const fam = state.families[0];
  assert.ok(ch && fam);
  const saveText = renderIptablesRestore(ch.iptables).replace(/^-I (\w+) 1 /gm, '-A $1 ').replace(/^-F .*\n/gm, '');
  return { fam, saveText, observed: { iptables: parseIptablesSave(saveText), sets: parseIpsetSave(renderIpsetRestore(ch.ipset)) } };
}

const only = (fam: FamilyState): DesiredState => ({ families: [fam], rejections: [] });

test('a changed set member becomes one del and one add, no chain is touched', () => {
  const { fam, observed } = observedAfter(smallState());
  const target = fam.sets.find((s) => s.type === 'hash:ip' && s.members.length === 1);
  assert.ok(target);
  const changed: FamilyState = { ...fam, sets: fam.sets.map((s) => (s === target ? { ...s, members: [{ entry: '198.18.1.99' }] } : s)) };
  const ch = diff(only(changed), { ipv4: observed })[0];
  assert.deepEqual(ch?.iptables.refill, []);
  assert.deepEqual(ch?.ipset.del, [{ set: target.name, member: target.members[0] }]);
  assert.deepEqual(ch?.ipset.add, [{ set: target.name, member: { entry: '198.18.1.99' } }]);
  assert.equal(renderIpsetRestore(ch?.ipset ?? { create: [], replace: [], del: [], add: [], destroy: [] }),
    `del ${target.name} ${target.members[0]?.entry}\nadd ${target.name} 198.18.1.99\n`);
});

test('a nomatch flag flip is a del then an add of the same entry', () => {
  const { fam, observed } = observedAfter(smallState());
  const net = fam.sets.find((s) => s.type === 'hash:net');
  assert.ok(net);
  const flipped = { ...net, members: net.members.map((m) => (m.nomatch ? { entry: m.entry } : m)) };
  const ch = diff(only({ ...fam, sets: fam.sets.map((s) => (s === net ? flipped : s)) }), { ipv4: observed })[0];
  assert.deepEqual(ch?.ipset.del.map((d) => d.member), [{ entry: '198.19.9.0/24', nomatch: true }]);
  assert.deepEqual(ch?.ipset.add.map((d) => d.member), [{ entry: '198.19.9.0/24' }]);
});

test('a large membership change is replaced by an atomic swap', () => {
  const { fam, observed } = observedAfter(smallState());
  const big = { ...fam.sets[0]!, members: Array.from({ length: 20 }, (_, i) => ({ entry: `198.18.3.${i + 1}` })).sort((a, b) => (a.entry < b.entry ? -1 : 1)) };
  const ch = diff(only({ ...fam, sets: [big, ...fam.sets.slice(1)] }), { ipv4: observed }, { swapThreshold: 10 })[0];
  assert.deepEqual(ch?.ipset.replace.map((s) => s.name), [big.name]);
  const text = renderIpsetRestore(ch!.ipset);
  assert.match(text, new RegExp(`^swap KUBE-TMP-\\w+ ${big.name}$`, 'm'));
  assert.match(text, /^destroy KUBE-TMP-\w+$/m);
});

test('only the chain whose rules differ is refilled', () => {
  const { fam, observed } = observedAfter(smallState());
  const pod = fam.chains.find((c) => c.kind === 'pod');
  assert.ok(pod);
  const edited = { ...pod, rules: pod.rules.slice(1) };
  const ch = diff(only({ ...fam, chains: fam.chains.map((c) => (c === pod ? edited : c)) }), { ipv4: observed })[0];
  assert.deepEqual(ch?.iptables.refill.map((r) => [r.name, r.exists]), [[pod.name, true]]);
  assert.deepEqual(ch?.iptables.remove, []);
  assert.deepEqual(ch?.iptables.insertBuiltin, []);
  const text = renderIptablesRestore(ch!.iptables);
  assert.equal(text.split('\n').filter((l) => l.startsWith(':')).length, 1, 'only that chain is declared (declaring flushes)');
});

test('duplicate and foreign-comment jumps into our chains are deleted, the right one is inserted once', () => {
  const { fam, saveText } = observedAfter(smallState());
  const messy = saveText.replace(/^(-A INPUT .*)$/m, '$1\n$1\n-A FORWARD -m comment --comment "kube-router netpol - OLD" -j KUBE-ROUTER-FORWARD')
    .replace(/^-A FORWARD -m comment --comment "kube-router netpol - (?!OLD)[^"]*" -j KUBE-ROUTER-FORWARD\n/m, '');
  const ch = diff(only(fam), { ipv4: { iptables: parseIptablesSave(messy), sets: new Map() } })[0];
  assert.deepEqual(ch?.iptables.deleteBuiltin.map((d) => [d.builtin, d.args.includes('OLD')]), [['INPUT', false], ['FORWARD', true]]);
  assert.deepEqual(ch?.iptables.insertBuiltin.map((i) => i.builtin), ['FORWARD']);
});

test('an unreadable rule in one of our chains forces that chain to be rewritten', () => {
  const { fam, saveText } = observedAfter(smallState());
  const tampered = saveText.replace(/^(-A KUBE-NWPLCY-DEFAULT .*)$/m, '-A KUBE-NWPLCY-DEFAULT -m frag --fragid 1 -j ACCEPT');
  const ch = diff(only(fam), { ipv4: { iptables: parseIptablesSave(tampered), sets: new Map() } })[0];
  assert.deepEqual(ch?.iptables.refill.map((r) => r.name), ['KUBE-NWPLCY-DEFAULT']);
});

test('a policy jump that is no longer the first rule of its builtin chain moves back to position 1 in one restore', () => {
  const { fam, saveText } = observedAfter(smallState());
  // Someone inserted an ACCEPT above our FORWARD jump (as a FORWARD accept inserted at position 1 would).
  const moved = saveText.replace(/^(-A FORWARD .*KUBE-ROUTER-FORWARD.*)$/m, '-A FORWARD -i kube-bridge -j ACCEPT\n$1');
  assert.notEqual(moved, saveText);
  const observed: ObservedFamily = { iptables: parseIptablesSave(moved), sets: observedAfter(smallState()).observed.sets };
  const ch = diff(only(fam), { ipv4: observed })[0];
  assert.deepEqual(ch?.iptables.insertBuiltin.map((i) => i.builtin), ['FORWARD']);
  assert.deepEqual(ch?.iptables.deleteBuiltin.map((d) => d.builtin), ['FORWARD']);
  const text = renderIptablesRestore(ch!.iptables);
  // Delete first, then insert at 1: one transaction, never a moment without the jump.
  assert.ok(text.indexOf('-D FORWARD') < text.indexOf('-I FORWARD 1'), text);
  // In place at the top: nothing to do.
  const unchanged = diff(only(fam), { ipv4: observedAfter(smallState()).observed })[0];
  assert.deepEqual(unchanged?.iptables.insertBuiltin, []);
});
