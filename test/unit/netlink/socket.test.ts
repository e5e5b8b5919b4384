// Batch chunking, request framing and reply sorting of NetlinkSocket, and generic-netlink family decoding,
// without a kernel (captured replies stand in for it).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NetlinkError, parseMessages } from '../../../src/kernel/netlink/codec.ts';
import { GENL_ID_CTRL, decodeFamily, encodeGetFamily } from '../../../src/kernel/netlink/genl.ts';
import { encodeRoute, routeWithDefaults } from '../../../src/kernel/netlink/rtnetlink.ts';
import { frameRequests, planChunks, sortReplies } from '../../../src/kernel/netlink/socket.ts';
import { BATCH_WITH_NACK, GENL_NLCTRL, ROUTE_DUMP } from './fixtures.ts';

const WMEM_DEFAULT = 212992;

test('10,000 route messages split into chunks that each fit one sendto and cover every message once', () => {
  const msgs = Array.from({ length: 10_000 }, (_, i) =>
    encodeRoute(routeWithDefaults({ dst: `198.18.${i >> 8}.${i & 255}/32`, gateway: '198.51.100.2' }), 'add'));
  const chunks = planChunks(msgs, 64 * 1024, 1024);
  let next = 0;
  for (const [start, end] of chunks) {
    assert.equal(start, next);
    assert.ok(end > start && end - start <= 1024);
    const bytes = frameRequests(msgs.slice(start, end), 1).length;
    assert.ok(bytes <= 64 * 1024 && bytes < WMEM_DEFAULT, `chunk ${start}-${end} is ${bytes} bytes`);
    next = end;
  }
  assert.equal(next, 10_000);
});

test('a message bigger than the chunk limit still goes out, alone', () => {
  const big = { type: 16, flags: 0, payload: Buffer.alloc(100) };
  assert.deepEqual(planChunks([big, big, big], 64, 10), [[0, 1], [1, 2], [2, 3]]);
});

test('frameRequests numbers messages consecutively from the first sequence number', () => {
  const m = { type: 18, flags: 0, payload: Buffer.alloc(16) };
  assert.deepEqual(parseMessages(frameRequests([m, m, m], 0xfffffffe)).map((x) => [x.seq, x.flags]), [[0xfffffffe, 1], [0xffffffff, 1], [0, 1]]);
});

test('a NACK in a batch becomes a NetlinkError with errno, seq, extack and the caller\'s index', () => {
  const { replies, errors } = sortReplies(BATCH_WITH_NACK, 500, 2, 3000);
  assert.deepEqual(replies, []);
  assert.equal(errors.length, 1);
  const [err] = errors;
  assert.ok(err instanceof NetlinkError);
  assert.equal(err.errno, 101);
  assert.equal(err.code, 'ENETUNREACH');
  assert.equal(err.seq, 501);
  assert.equal(err.index, 3001);
  assert.equal(err.extack, 'Nexthop has invalid gateway');
  assert.match(err.message, /ENETUNREACH.*Nexthop has invalid gateway/);
});

test('replies to other sequence numbers are ignored, dump data is kept', () => {
  assert.deepEqual(sortReplies(BATCH_WITH_NACK, 600, 2, 0), { replies: [], errors: [] });
  const dump = sortReplies(ROUTE_DUMP, 1000, 1, 0);
  assert.equal(dump.replies.length, 3);
  assert.equal(dump.errors.length, 0);
});

test('CTRL_CMD_GETFAMILY asks the controller by name', () => {
  assert.equal(GENL_ID_CTRL, 0x10);
  assert.equal(encodeGetFamily('IPVS').toString('hex'), '03010000' + '0900020049505653' + '00000000');
});

test('a captured nlctrl family reply decodes to id, version, limits and multicast groups', () => {
  const [family, ack] = parseMessages(GENL_NLCTRL);
  assert.equal(ack?.type, 2);
  assert.deepEqual(decodeFamily(family!), { id: 16, name: 'nlctrl', version: 2, hdrSize: 0, maxAttr: 0, mcastGroups: new Map([['notify', 16]]) });
});
