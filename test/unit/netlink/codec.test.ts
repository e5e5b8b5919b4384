// Netlink framing, attributes, alignment and NLMSG_ERROR/DONE decoding against hand-derived and captured bytes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  NLMSG_DONE, NLMSG_ERROR, attr, attrNested, attrString, attrU16, attrU32, attrU8, decodeDone, decodeError,
  encodeMessage, errnoName, parseAttrList, parseAttrs, parseMessages, readString, readU32,
} from '../../../src/kernel/netlink/codec.ts';
import { BATCH_WITH_NACK, ROUTE_DUMP, hex } from './fixtures.ts';

test('encodeMessage writes nlmsghdr (length, type, flags, seq, pid) in host order and pads the payload', () => {
  const msg = encodeMessage(0x18, 0x605, 0x01020304, Buffer.from([1, 2, 3, 4, 5]), 9);
  assert.equal(msg.toString('hex'), hex(`
    15000000 1800 0506 04030201 09000000
    0102030405 000000`).toString('hex'));
});

test('attributes carry their unpadded length and are zero-padded to 4 bytes', () => {
  assert.equal(attrU8(1, 0x11).toString('hex'), '0500010011000000');
  assert.equal(attrU16(2, 0x1234).toString('hex'), '0600020034120000');
  assert.equal(attrU32(15, 254).toString('hex'), '08000f00fe000000');
  assert.equal(attrString(3, 'br0').toString('hex'), '0800030062723000');
  assert.equal(attrString(3, 'veth0').toString('hex'), '0a00030076657468300000' + '00');
  assert.equal(attr(1, Buffer.from([0xc6, 0x33, 0x64, 0x00])).toString('hex'), '08000100c6336400');
});

test('nested attributes wrap their children and decode back in order, repeats kept', () => {
  const nested = attrNested(18, [attrString(1, 'veth'), attrNested(2, [attrU32(7, 1), attrU32(7, 2)])]);
  assert.equal(nested.toString('hex'), hex(`
    2400 1200
      0900 0100 7665746800 000000
      1400 0200
        0800 0700 01000000
        0800 0700 02000000`).toString('hex'));
  const outer = parseAttrs(nested);
  const info = parseAttrs(outer.get(18)!);
  assert.equal(readString(info.get(1)!), 'veth');
  assert.deepEqual(parseAttrList(info.get(2)!).map((a) => [a.type, readU32(a.value)]), [[7, 1], [7, 2]]);
});

test('the NLA_F_NESTED bit is masked off decoded attribute types', () => {
  const flagged = attrNested(7, [attrU32(1, 5)], true);
  assert.equal(flagged.readUInt16LE(2), 0x8007);
  assert.deepEqual([...parseAttrs(flagged).keys()], [7]);
});

test('parseMessages splits a captured dump into messages at 4-byte boundaries', () => {
  const msgs = parseMessages(ROUTE_DUMP);
  assert.deepEqual(msgs.map((m) => [m.type, m.seq, m.payload.length]), [[24, 1000, 52], [24, 1000, 44], [24, 1000, 120], [NLMSG_DONE, 1000, 4]]);
  assert.ok(msgs.every((m) => m.flags & 0x2), 'dump messages carry NLM_F_MULTI');
});

test('parseMessages rejects a message whose length runs past the buffer', () => {
  const msg = encodeMessage(24, 0, 1, Buffer.alloc(8));
  assert.throws(() => parseMessages(msg.subarray(0, msg.length - 4)), /malformed netlink message/);
});

test('a captured NACK decodes to errno, the refused request seq and the extack text', () => {
  const [ack, nack] = parseMessages(BATCH_WITH_NACK);
  assert.equal(ack?.type, NLMSG_ERROR);
  assert.deepEqual(decodeError(ack!), { errno: 0, requestSeq: 500 });
  assert.equal(nack?.type, NLMSG_ERROR);
  assert.deepEqual(decodeError(nack!), { errno: 101, requestSeq: 501, extack: 'Nexthop has invalid gateway' });
  assert.equal(errnoName(101), 'ENETUNREACH');
});

test('an uncapped NACK skips the echoed request before reading extack (message and offset)', () => {
  const request = encodeMessage(24, 0x605, 42, Buffer.alloc(12));
  const body = Buffer.alloc(4);
  body.writeInt32LE(-17, 0);
  const tlvs = Buffer.concat([attrString(1, 'File exists'), attrU32(2, 20)]);
  const nack = encodeMessage(NLMSG_ERROR, 0x200, 42, Buffer.concat([body, request, tlvs]));
  assert.deepEqual(decodeError(parseMessages(nack)[0]!), { errno: 17, requestSeq: 42, extack: 'File exists', extackOffset: 20 });
});

test('NLMSG_DONE with a negative status reports the dump failure', () => {
  const body = Buffer.alloc(4);
  body.writeInt32LE(-16, 0);
  const done = encodeMessage(NLMSG_DONE, 0x2, 9, Buffer.concat([body]));
  assert.deepEqual(decodeDone(parseMessages(done)[0]!), { errno: 16, requestSeq: 9 });
  assert.equal(decodeDone(parseMessages(ROUTE_DUMP)[3]!).errno, 0);
});
