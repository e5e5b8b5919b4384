// ipset member changes over our netlink socket, against the kernel of a test namespace: adds and deletes in
// both families with `-exist` semantics (present add / absent delete are fine), a missing set is reported
// for that message only, and hash:net sets take host addresses the way `ipset add` does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestNetns, haveCommand, isRoot } from '../../helpers/netns.ts';
import { ipsetMemberMessage } from '../../../src/kernel/netlink/ipset.ts';
import { NETLINK_NETFILTER, NetlinkSocket } from '../../../src/kernel/netlink/socket.ts';

const skip = !isRoot || !haveCommand('ipset') ? 'needs root and ipset' : false;

test('ipset adds and deletes over netlink match `ipset -exist restore`', { skip }, async () => {
  const n = new TestNetns('krt-ipsnl');
  const sock = NetlinkSocket.open(NETLINK_NETFILTER, { netns: n.path, timeoutMs: 5000 });
  try {
    n.exec('ipset', ['restore'], 'create s4 hash:ip family inet\nadd s4 198.51.100.1\nadd s4 198.51.100.2\ncreate inet6:s6 hash:ip family inet6\ncreate n4 hash:net family inet\n');
    const r = await sock.batch([
      ipsetMemberMessage({ set: 's4', op: 'add', address: '198.51.100.3' }),
      ipsetMemberMessage({ set: 's4', op: 'add', address: '198.51.100.1' }),
      ipsetMemberMessage({ set: 's4', op: 'delete', address: '198.51.100.2' }),
      ipsetMemberMessage({ set: 's4', op: 'delete', address: '198.51.100.99' }),
      ipsetMemberMessage({ set: 'inet6:s6', op: 'add', address: '2001:db8::9' }),
      ipsetMemberMessage({ set: 'missing', op: 'add', address: '198.51.100.3' }),
      ipsetMemberMessage({ set: 'n4', op: 'add', address: '198.51.100.7' }),
    ]);
    assert.deepEqual(r.errors.map((e) => [e.errno, e.index]), [[2, 5]]);
    const saved = n.exec('ipset', ['save']).split('\n').filter((l) => l.startsWith('add ')).sort();
    assert.deepEqual(saved, ['add inet6:s6 2001:db8::9', 'add n4 198.51.100.7', 'add s4 198.51.100.1', 'add s4 198.51.100.3']);
  } finally {
    await sock.close();
    n.delete();
  }
});
