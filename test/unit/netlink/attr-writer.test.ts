// AttrWriter: attributes and nests written in place match the one-Buffer-per-attribute encoders, and views taken
// before the writer grows keep their bytes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AttrWriter } from '../../../src/kernel/netlink/attr-writer.ts';
import { attr, attrNested, attrString, attrU16, attrU32, attrU8 } from '../../../src/kernel/netlink/codec.ts';

test('attributes and a nest come out byte for byte as the codec helpers build them', () => {
  const w = new AttrWriter(8);
  const nest = w.beginNest(3);
  w.u8(1, 0xab).u16(2, 0x1234).u32(3, 0xdeadbeef).string(4, 'mh').bytes(5, Buffer.from([1, 2, 3, 4, 5]));
  w.endNest(nest);
  w.be16(6, 8080).be32(7, 0xffffff00);
  const port = Buffer.from([0x1f, 0x90]);
  const expected = Buffer.concat([
    attrNested(3, [attrU8(1, 0xab), attrU16(2, 0x1234), attrU32(3, 0xdeadbeef), attrString(4, 'mh'), attr(5, Buffer.from([1, 2, 3, 4, 5]))]),
    attr(6, port),
    attr(7, Buffer.from([0xff, 0xff, 0xff, 0x00])),
  ]);
  assert.equal(w.view(0).toString('hex'), expected.toString('hex'));
});

test('a view taken before the writer grows keeps its bytes, and a view can be written again after growth', () => {
  const w = new AttrWriter(8);
  w.u32(1, 7);
  const early = w.view(0);
  for (let i = 0; i < 100; i++) w.u32(2, i);
  w.raw(w.view(0, 8));
  assert.equal(early.toString('hex'), '0800010007000000');
  assert.equal(w.view(w.length - 8).toString('hex'), '0800010007000000');
  assert.equal(w.length, 8 * 102);
});
