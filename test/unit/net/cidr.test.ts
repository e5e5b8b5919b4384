// The one CIDR parser: Go's net.ParseCIDR acceptance and IPNet.String text, host bits, containment, familyOf and
// the netlink fast path, pinned case by case.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  bytesToCidr, canonicalCidr, cidrContains, cidrSize, cidrTextContainsIp, cidrToBytes, familyOf, formatCidr, isCidr,
  parseCidr, parseCidrWithIp,
} from '../../../src/net/cidr.ts';
import { parseIp } from '../../../src/net/ip.ts';

/** [input, family, canonical network text, host bits set]. */
const accepted: Array<[string, 4 | 6, string, boolean]> = [
  ['10.96.0.0/12', 4, '10.96.0.0/12', false],
  ['0.0.0.0/0', 4, '0.0.0.0/0', false],
  ['10.1.2.3/0', 4, '0.0.0.0/0', true],
  ['198.51.100.7/32', 4, '198.51.100.7/32', false],
  ['198.51.100.7/24', 4, '198.51.100.0/24', true],
  ['198.51.100.7/31', 4, '198.51.100.6/31', true],
  ['10.0.0.0/08', 4, '10.0.0.0/8', false], // Go's dtoi takes leading zeros in the length
  ['::/0', 6, '::/0', false],
  ['fd00::1/0', 6, '::/0', true],
  ['fd00::1/128', 6, 'fd00::1/128', false],
  ['fd00::1/64', 6, 'fd00::/64', true],
  ['2001:DB8:0:0::/64', 6, '2001:db8::/64', false],
  ['fd00::/33', 6, 'fd00::/33', false],
  // IPv4-mapped: a prefix of 96 or more is the IPv4 network; shorter, the mapping is masked away.
  ['::ffff:198.51.100.0/120', 4, '198.51.100.0/24', false],
  ['::ffff:198.51.100.7/128', 4, '198.51.100.7/32', false],
  ['::ffff:0:0/96', 4, '0.0.0.0/0', false],
  ['::ffff:198.51.100.7/64', 6, '::/64', true],
];

const rejected: Array<[string, string]> = [
  ['', 'empty'],
  ['/', 'only a slash'],
  [' 10.0.0.0/8', 'leading space'],
  ['10.0.0.0/8 ', 'trailing space'],
  ['10.0.0.0 /8', 'space before the slash'],
  ['10.0.0.0/ 8', 'space after the slash'],
  ['10.0.0.0', 'no length'],
  ['10.0.0.0/', 'empty length'],
  ['10.0.0.0/33', 'v4 length 33'],
  ['10.0.0.0/-1', 'negative length'],
  ['10.0.0.0/+8', 'signed length'],
  ['10.0.0.0/8/8', 'two lengths'],
  ['10.0.0.0/0x8', 'hex length'],
  ['fd00::/129', 'v6 length 129'],
  ['010.0.0.0/8', 'leading zero in the address'],
  ['fe80::%eth0/64', 'zone'],
  ['fe80::/64%eth0', 'zone after the length'],
  ['not-a-cidr', 'text'],
  ['10.0.0.0/99999999', 'huge length'],
];

test('CIDRs Go accepts parse to their family, canonical network and host-bit flag', () => {
  for (const [input, family, text, hostBits] of accepted) {
    const parsed = parseCidrWithIp(input);
    assert.ok(parsed.ok, input);
    assert.equal(parsed.value.cidr.family, family, input);
    assert.equal(formatCidr(parsed.value.cidr), text, input);
    assert.equal(parsed.value.hostBitsSet, hostBits, input);
    assert.deepEqual(canonicalCidr(input), { ok: true, value: text }, input);
    assert.equal(familyOf(input), family, input);
    assert.equal(isCidr(input), true, input);
  }
});

test('CIDRs Go rejects are errors, and the netlink fast path throws on them', () => {
  for (const [input, why] of rejected) {
    assert.equal(parseCidr(input).ok, false, `${JSON.stringify(input)}: ${why}`);
    assert.equal(isCidr(input), false, why);
    assert.throws(() => cidrToBytes(input), TypeError, why);
  }
});

test('parseCidrWithIp keeps the address as written, as Go returns it beside the network', () => {
  const parsed = parseCidrWithIp('198.51.100.7/24');
  assert.ok(parsed.ok);
  assert.deepEqual([...parsed.value.ip.bytes], [198, 51, 100, 7]);
  assert.deepEqual([...parsed.value.cidr.network], [198, 51, 100, 0]);
});

test('familyOf answers for an address or a CIDR, and undefined for anything else', () => {
  const cases: Array<[string, 4 | 6 | undefined]> = [
    ['198.51.100.7', 4], ['198.51.100.0/24', 4], ['fd00::1', 6], ['fd00::/64', 6], ['::ffff:1.2.3.4', 4],
    ['', undefined], [' 1.2.3.4', undefined], ['010.1.2.3', undefined], ['fe80::1%eth0', undefined], ['1.2.3.4/33', undefined],
  ];
  for (const [input, family] of cases) assert.equal(familyOf(input), family, input);
});

test('containment: addresses and narrower CIDRs of the same family inside the network', () => {
  const net = (t: string) => { const p = parseCidr(t); assert.ok(p.ok, t); return p.value; };
  const ip = (t: string) => { const p = parseIp(t); assert.ok(p.ok, t); return p.value; };
  assert.equal(cidrContains(net('198.51.100.0/24'), ip('198.51.100.255')), true);
  assert.equal(cidrContains(net('198.51.100.0/24'), ip('198.51.101.0')), false);
  assert.equal(cidrContains(net('198.51.100.0/25'), ip('198.51.100.128')), false);
  assert.equal(cidrContains(net('0.0.0.0/0'), ip('203.0.113.1')), true);
  assert.equal(cidrContains(net('0.0.0.0/0'), ip('fd00::1')), false); // families never mix
  assert.equal(cidrContains(net('::/0'), ip('198.51.100.1')), false);
  assert.equal(cidrContains(net('198.51.100.0/24'), ip('::ffff:198.51.100.9')), true); // mapped is IPv4
  assert.equal(cidrContains(net('198.51.100.0/24'), net('198.51.100.128/25')), true);
  assert.equal(cidrContains(net('198.51.100.128/25'), net('198.51.100.0/24')), false);
  assert.equal(cidrContains(net('fd00::/8'), net('fd00:1::/64')), true);
  assert.equal(cidrContains(net('198.51.100.7/32'), ip('198.51.100.7')), true);
  assert.equal(cidrTextContainsIp('198.18.0.0/15', '198.19.255.1'), true);
  assert.equal(cidrTextContainsIp('198.18.0.0/15', '198.20.0.1'), false);
  assert.equal(cidrTextContainsIp('bad', '198.18.0.1'), false);
  assert.equal(cidrSize(net('198.51.100.0/24')), 256n);
  assert.equal(cidrSize(net('fd00::/64')), 1n << 64n);
});

test('the netlink fast path keeps host bits and prints back what it read', () => {
  const v4 = cidrToBytes('198.51.100.7/24');
  assert.deepEqual([v4.family, v4.address.toString('hex'), v4.prefixLength], [4, 'c6336407', 24]);
  const v6 = cidrToBytes('2001:db8::1/64');
  assert.deepEqual([v6.family, v6.address.toString('hex'), v6.prefixLength], [6, '20010db8000000000000000000000001', 64]);
  const mapped = cidrToBytes('::ffff:198.51.100.0/120');
  assert.deepEqual([mapped.family, mapped.address.toString('hex'), mapped.prefixLength], [4, 'c6336400', 24]);
  assert.equal(bytesToCidr(v4.address, 24), '198.51.100.7/24');
  assert.equal(bytesToCidr(v6.address, 64), '2001:db8::1/64');
  assert.equal(bytesToCidr(Buffer.alloc(16), 0), '::/0');
  assert.equal(bytesToCidr(Buffer.from('00000000000000000000ffffc6336400', 'hex'), 120), '198.51.100.0/24');
});
