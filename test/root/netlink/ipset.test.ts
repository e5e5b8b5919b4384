// ipset member changes over our netlink socket, against the kernel of a test namespace: lists of adds and
// deletes in both families with `-exist` semantics (present add / absent delete are fine), a missing set is
// reported for that message only, and hash:net sets take host addresses the way `ipset add` does. Then every operation
// of kernel/ipset.ts written over netlink (ipset-netlink.ts) against the same written by `ipset -exist restore`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestNetns, haveCommand, isRoot } from '../../helpers/netns.ts';
import { ipsetEntriesMessages } from '../../../src/kernel/netlink/ipset.ts';
import { renderIpsetScript, type IpsetOp } from '../../../src/kernel/ipset.ts';
import { writeIpsetOps } from '../../../src/kernel/ipset-netlink.ts';
import { NETLINK_NETFILTER, NetlinkSocket } from '../../../src/kernel/netlink/socket.ts';

const skip = !isRoot || !haveCommand('ipset') ? 'needs root and ipset' : false;

test('ipset adds and deletes over netlink match `ipset -exist restore`', { skip }, async () => {
  const n = new TestNetns('krt-ipsnl');
  const sock = NetlinkSocket.open(NETLINK_NETFILTER, { netns: n.path, timeoutMs: 5000 });
  try {
    n.exec('ipset', ['restore'], 'create s4 hash:ip family inet\nadd s4 198.51.100.1\nadd s4 198.51.100.2\ncreate inet6:s6 hash:ip family inet6\ncreate n4 hash:net family inet\n');
    const entries = (set: string, family: 4 | 6, op: 'add' | 'del', ...list: string[]) => [...ipsetEntriesMessages(set, family, op, list.map((entry) => ({ entry })))];
    const r = await sock.batch([
      ...entries('s4', 4, 'add', '198.51.100.3', '198.51.100.1'),
      ...entries('s4', 4, 'del', '198.51.100.2', '198.51.100.99'),
      ...entries('inet6:s6', 6, 'add', '2001:db8::9'),
      ...entries('missing', 4, 'add', '198.51.100.3'),
      ...entries('n4', 4, 'add', '198.51.100.7'),
    ]);
    assert.deepEqual(r.errors.map((e) => [e.errno, e.index]), [[2, 3]]);
    const saved = n.exec('ipset', ['save']).split('\n').filter((l) => l.startsWith('add ')).sort();
    assert.deepEqual(saved, ['add inet6:s6 2001:db8::9', 'add n4 198.51.100.7', 'add s4 198.51.100.1', 'add s4 198.51.100.3']);
  } finally {
    await sock.close();
    n.delete();
  }
});

/** Our sets as `ipset save` prints them, without the per-set random initval. */
const saved = (n: TestNetns): string[] => n.exec('ipset', ['save']).split('\n').filter((l) => l !== '').map((l) => l.replace(/ initval 0x[0-9a-f]+/, '')).sort();

test('every ipset operation written over netlink leaves the kernel as `ipset -exist restore` of the same does', { skip }, async () => {
  const viaTool = new TestNetns('krt-ipsw-t');
  const viaNetlink = new TestNetns('krt-ipsw-n');
  const sock = NetlinkSocket.open(NETLINK_NETFILTER, { netns: viaNetlink.path, timeoutMs: 5000 });
  const many = Array.from({ length: 5000 }, (_, i) => ({ entry: `198.18.${i >> 8}.${i & 255}` }));
  const steps: IpsetOp[][] = [
    [
      { op: 'create', set: { name: 'KUBE-SRC-A', type: 'hash:ip', family: 4 }, members: [{ entry: '198.51.100.1' }, { entry: '198.51.100.2' }] },
      { op: 'create', set: { name: 'KUBE-DST-BIG', type: 'hash:ip', family: 4, options: ['hashsize', '4096'] }, members: many },
      { op: 'create', set: { name: 'KUBE-SRC-NET', type: 'hash:net', family: 4 }, members: [{ entry: '198.51.100.0/24' }, { entry: '198.51.100.128/25', nomatch: true }, { entry: '198.18.0.1' }] },
      { op: 'create', set: { name: 'inet6:KUBE-SRC-A', type: 'hash:ip', family: 6 }, members: [{ entry: '2001:db8::1' }] },
      { op: 'create', set: { name: 'inet6:KUBE-SRC-NET', type: 'hash:net', family: 6 }, members: [{ entry: '2001:db8::/64' }, { entry: '2001:db8::/80', nomatch: true }] },
      { op: 'create', set: { name: 'KUBE-DST-EMPTY', type: 'hash:ip', family: 4 } },
      { op: 'create', set: { name: 'KUBE-DST-GONE', type: 'hash:ip', family: 4 } },
    ],
    [
      // Existing sets are kept, members already there or already gone are no-ops.
      { op: 'create', set: { name: 'KUBE-SRC-A', type: 'hash:ip', family: 4 }, members: [{ entry: '198.51.100.1' }] },
      { op: 'add', set: 'KUBE-SRC-A', entry: { entry: '198.51.100.3' } },
      { op: 'add', set: 'KUBE-SRC-A', entry: { entry: '198.51.100.1' } },
      { op: 'del', set: 'KUBE-SRC-A', entry: '198.51.100.2' },
      { op: 'del', set: 'KUBE-SRC-A', entry: '198.51.100.99' },
      { op: 'add', set: 'inet6:KUBE-SRC-A', entry: { entry: '2001:db8::2' } },
      { op: 'replace', set: { name: 'KUBE-DST-BIG', type: 'hash:ip', family: 4, options: ['hashsize', '4096'] }, members: many.slice(0, 10) },
      { op: 'replace', set: { name: 'KUBE-SRC-NET', type: 'hash:net', family: 4 }, members: [{ entry: '198.51.100.0/24' }] },
      { op: 'destroy', set: 'KUBE-DST-GONE' },
      { op: 'destroy', set: 'KUBE-DST-NEVER' },
    ],
  ];
  try {
    for (const ops of steps) {
      viaTool.exec('ipset', ['-exist', 'restore'], renderIpsetScript(ops));
      const r = await writeIpsetOps(sock, ops);
      assert.ok(r.ok, r.ok ? '' : r.error);
      assert.deepEqual(saved(viaNetlink), saved(viaTool));
    }
    assert.equal(saved(viaNetlink).filter((l) => l.startsWith('add KUBE-DST-BIG ')).length, 10);
    assert.ok(!saved(viaNetlink).some((l) => l.includes('KUBE-TMP-')), 'no temporary set is left');
    // A set of another type under the name is refused, and the error names the operation.
    const clash = await writeIpsetOps(sock, [{ op: 'create', set: { name: 'KUBE-SRC-A', type: 'hash:net', family: 4 } }]);
    assert.ok(!clash.ok && /create KUBE-SRC-A refused/.test(clash.error), JSON.stringify(clash));
    const bad = await writeIpsetOps(sock, [{ op: 'add', set: 'KUBE-SRC-A', entry: { entry: 'not-an-address' } }]);
    assert.ok(!bad.ok && /not an ipset entry: not-an-address/.test(bad.error), JSON.stringify(bad));
  } finally {
    await sock.close();
    viaTool.delete();
    viaNetlink.delete();
  }
});
