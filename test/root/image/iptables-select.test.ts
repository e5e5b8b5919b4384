// deploy/image/iptables-select reading real tables: in a namespace whose rules are in legacy iptables it picks
// legacy, where they are in nf_tables it picks nft, and kubelet's hint chain outweighs more rules elsewhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestNetns, haveCommand, isRoot } from '../../helpers/netns.ts';

const script = new URL('../../../deploy/image/iptables-select', import.meta.url).pathname;
const skip = (!isRoot && 'needs root') || (!haveCommand('iptables-legacy') && 'needs iptables-legacy') || false;

/** Runs the detection inside a fresh namespace prepared by `setup`, returns the chosen variant. */
function chosenIn(setup: (ns: TestNetns) => void): string {
  const ns = new TestNetns('krt-ipsel');
  try {
    setup(ns);
    return ns.exec('bash', [script, '--print']).split(' ')[0] ?? '';
  } finally {
    ns.delete();
  }
}

test('iptables-select picks legacy where the rules are in legacy iptables', { skip }, () => {
  assert.equal(chosenIn((ns) => {
    ns.exec('iptables-legacy', ['-A', 'INPUT', '-s', '198.51.100.1/32', '-j', 'ACCEPT']);
    ns.exec('ip6tables-legacy', ['-A', 'INPUT', '-s', '2001:db8::1/128', '-j', 'ACCEPT']);
  }), 'legacy');
});

test('iptables-select picks nf_tables where KUBE-* rules are in nf_tables, though legacy has more rules', { skip }, () => {
  assert.equal(chosenIn((ns) => {
    ns.exec('iptables-nft', ['-N', 'KUBE-FORWARD']);
    ns.exec('iptables-nft', ['-A', 'FORWARD', '-j', 'KUBE-FORWARD']);
    for (const last of [1, 2, 3]) ns.exec('iptables-legacy', ['-A', 'INPUT', '-s', `198.51.100.${last}/32`, '-j', 'ACCEPT']);
  }), 'nft');
});

test("iptables-select follows kubelet's hint chain in legacy over KUBE-* rules in nf_tables", { skip }, () => {
  assert.equal(chosenIn((ns) => {
    ns.exec('iptables-legacy', ['-t', 'mangle', '-N', 'KUBE-IPTABLES-HINT']);
    ns.exec('iptables-nft', ['-N', 'KUBE-SERVICES']);
    ns.exec('iptables-nft', ['-A', 'INPUT', '-j', 'KUBE-SERVICES']);
  }), 'legacy');
});
