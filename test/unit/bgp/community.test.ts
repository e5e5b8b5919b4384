// Community parsing accepts the forms kube-router's node.bgp.communities annotation documents.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatCommunity, parseCommunities, parseCommunity } from '../../../src/bgp/community.ts';

describe('BGP communities', () => {
  const cases: [string, number | undefined][] = [
    ['65000:100', 65000 * 65536 + 100],
    ['0:0', 0],
    ['65535:65535', 0xffffffff],
    ['4259840100', 4259840100],
    ['no-export', 0xffffff01],
    ['NO_ADVERTISE', 0xffffff02],
    ['blackhole', 0xffff029a],
    [' 64512:7 ', 64512 * 65536 + 7],
    ['65536:1', undefined],
    ['1:65536', undefined],
    ['4294967296', undefined],
    ['64512', 64512],
    ['a:b', undefined],
    ['', undefined],
    ['no-such-name', undefined],
  ];
  for (const [text, expected] of cases) {
    it(`parses ${JSON.stringify(text)} as ${expected ?? 'an error'}`, () => {
      const parsed = parseCommunity(text);
      if (expected === undefined) assert.equal(parsed.ok, false);
      else assert.deepEqual(parsed, { ok: true, value: expected });
    });
  }

  it('formats a value as high:low and round-trips', () => {
    assert.equal(formatCommunity(0xffffff01), '65535:65281');
    const parsed = parseCommunity(formatCommunity(4259840100));
    assert.deepEqual(parsed, { ok: true, value: 4259840100 });
  });

  it('a list fails on its first bad element', () => {
    assert.deepEqual(parseCommunities(['1:2', 'no-peer']), { ok: true, value: [65538, 0xffffff04] });
    const bad = parseCommunities(['1:2', 'x', 'y']);
    assert.equal(bad.ok, false);
    assert.match(!bad.ok ? bad.error : '', /"x"/);
  });
});
