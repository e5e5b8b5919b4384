// nf_tables element batches over our netlink socket, against the kernel of a test namespace: elements of
// both families land in one batch; a batch with one bad message (a delete of an absent element, a set that
// does not exist) changes nothing at all and reports which message failed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestNetns, haveCommand, isRoot } from '../../helpers/netns.ts';
import { batchBegin, batchEnd, setElementMessage, type SetElementChange } from '../../../src/kernel/netlink/nftables.ts';
import { NFPROTO_IPV4, NFPROTO_IPV6 } from '../../../src/kernel/netlink/nfnetlink.ts';
import { NETLINK_NETFILTER, NetlinkSocket } from '../../../src/kernel/netlink/socket.ts';

const skip = !isRoot || !haveCommand('nft') ? 'needs root and nft' : false;

test('element batches are applied whole or not at all', { skip }, async () => {
  const n = new TestNetns('krt-nfel');
  const sock = NetlinkSocket.open(NETLINK_NETFILTER, { netns: n.path, timeoutMs: 5000 });
  try {
    n.exec('nft', ['-f', '-'], 'add table ip t\nadd set ip t s { type ipv4_addr; }\nadd element ip t s { 198.51.100.1 }\nadd table ip6 t6\nadd set ip6 t6 s { type ipv6_addr; }\n');
    const elements = (family: string, table: string): string => n.exec('nft', ['list', 'set', family, table, 's']);
    const batch = (changes: SetElementChange[]) => sock.wrappedBatch(batchBegin(), changes.map(setElementMessage), batchEnd());
    const v4 = (op: 'add' | 'delete', addresses: string[], set = 's'): SetElementChange => ({ family: NFPROTO_IPV4, table: 't', set, op, addresses });

    const ok = await batch([v4('add', ['198.51.100.2', '198.51.100.3']), v4('delete', ['198.51.100.1']),
      { family: NFPROTO_IPV6, table: 't6', set: 's', op: 'add', addresses: ['2001:db8::7'] }, v4('add', ['198.51.100.2'])]);
    assert.deepEqual(ok, { acked: 4, errors: [] }, 'adding an element that is there is not an error');
    assert.match(elements('ip', 't'), /elements = \{ 198\.51\.100\.2, 198\.51\.100\.3 \}/);
    assert.match(elements('ip6', 't6'), /elements = \{ 2001:db8::7 \}/);

    const before = elements('ip', 't');
    const refused = await batch([v4('add', ['198.51.100.9']), v4('delete', ['198.51.100.77'])]);
    assert.deepEqual(refused.errors.map((e) => [e.errno, e.index]), [[2, 1]]);
    const missingSet = await batch([v4('add', ['198.51.100.9']), v4('add', ['198.51.100.10'], 'nope')]);
    assert.deepEqual(missingSet.errors.map((e) => [e.errno, e.index]), [[2, 1]]);
    assert.equal(elements('ip', 't'), before, 'a refused batch leaves the set as it was');
  } finally {
    await sock.close();
    n.delete();
  }
});
