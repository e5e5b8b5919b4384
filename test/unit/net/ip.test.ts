// The one IP parser: Go's net.ParseIP acceptance and net.IP.String text, pinned case by case, and the netlink
// fast path agreeing with it byte for byte.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bytesToIp, canonicalIp, canonicalIpText, ipFromBigInt, ipToBigInt, ipToBytes, isIp, parseIp } from '../../../src/net/ip.ts';

/** [input, family, canonical text] for accepted addresses. */
const accepted: Array<[string, 4 | 6, string]> = [
  ['0.0.0.0', 4, '0.0.0.0'],
  ['255.255.255.255', 4, '255.255.255.255'],
  ['198.51.100.7', 4, '198.51.100.7'],
  ['10.0.0.0', 4, '10.0.0.0'], // a single 0 field is not a leading zero
  ['::', 6, '::'],
  ['::1', 6, '::1'],
  ['2001:0db8:0000:0000:0000:0000:0000:0001', 6, '2001:db8::1'],
  ['2001:DB8::A', 6, '2001:db8::a'],
  ['2001:db8:0:0:1:0:0:1', 6, '2001:db8::1:0:0:1'], // first of two equal zero runs is compressed
  ['2001:db8:0:1:1:1:1:1', 6, '2001:db8:0:1:1:1:1:1'], // a single zero field is not compressed
  ['1:2:3:4:5:6:7::', 6, '1:2:3:4:5:6:7:0'], // "::" may stand for one field
  ['::2:3:4:5:6:7:8', 6, '0:2:3:4:5:6:7:8'],
  ['2001:db8::', 6, '2001:db8::'],
  ['fe80::1:2', 6, 'fe80::1:2'],
  // IPv4-mapped IPv6 is the IPv4 address, as Go's To4 and String have it.
  ['::ffff:198.51.100.1', 4, '198.51.100.1'],
  ['::ffff:c633:6401', 4, '198.51.100.1'],
  ['0:0:0:0:0:ffff:1.2.3.4', 4, '1.2.3.4'],
  ['::FFFF:1.2.3.4', 4, '1.2.3.4'],
  // Other embedded IPv4 tails are ordinary IPv6 and print as hex, as Go does.
  ['::1.2.3.4', 6, '::102:304'],
  ['64:ff9b::198.51.100.1', 6, '64:ff9b::c633:6401'],
  ['1:2:3:4:5:6:1.2.3.4', 6, '1:2:3:4:5:6:102:304'],
];

const rejected: Array<[string, string]> = [
  ['', 'empty'],
  [' ', 'whitespace only'],
  [' 1.2.3.4', 'leading space'],
  ['1.2.3.4 ', 'trailing space'],
  ['1.2.3.4\n', 'trailing newline'],
  ['010.1.2.3', 'leading zero'],
  ['1.2.3.04', 'leading zero in the last field'],
  ['00.1.2.3', 'double zero'],
  ['256.1.1.1', 'field above 255'],
  ['1.2.3', 'three fields'],
  ['1.2.3.4.5', 'five fields'],
  ['1..2.3', 'empty field'],
  ['1.2.3.4.', 'trailing dot'],
  ['.1.2.3.4', 'leading dot'],
  ['1.2.3.a', 'letter'],
  ['1.2.3.4/32', 'a CIDR is not an address'],
  ['fe80::1%eth0', 'zone'],
  ['fe80::1%', 'empty zone'],
  ['::ffff:1.2.3.4%eth0', 'zone on a mapped address'],
  [':::', 'three colons'],
  ['1::2::3', 'two ellipses'],
  ['1:2:3:4:5:6:7:8:9', 'nine fields'],
  ['1:2:3:4:5:6:7', 'seven fields without ellipsis'],
  ['1:2:3:4:5:6:7:8::', 'ellipsis standing for no field'],
  ['::1:2:3:4:5:6:7:8', 'ellipsis standing for no field (front)'],
  ['12345::', 'five hex digits'],
  ['1:', 'trailing colon'],
  [':1::', 'leading single colon'],
  ['g::1', 'not hex'],
  ['::ffff:01.2.3.4', 'leading zero in an IPv4 tail'],
  ['1.2.3.4::', 'IPv4 before the ellipsis'],
  ['1:2:3:4:5:6:7:1.2.3.4', 'IPv4 tail past 128 bits'],
  ['1:2:3:4:5:1.2.3.4', 'IPv4 tail that does not reach the end'],
  ['::1.2.3', 'short IPv4 tail'],
  ['localhost', 'a name'],
];

test('addresses Go accepts parse to their family and canonical text', () => {
  for (const [input, family, text] of accepted) {
    const parsed = parseIp(input);
    assert.ok(parsed.ok, input);
    assert.equal(parsed.value.family, family, input);
    assert.equal(parsed.value.bytes.length, family === 4 ? 4 : 16, input);
    assert.deepEqual(canonicalIp(input), { ok: true, value: text }, input);
    assert.equal(canonicalIpText(input), text, input);
    assert.equal(isIp(input), true, input);
  }
});

test('addresses Go rejects are errors, and the netlink fast path throws on them', () => {
  for (const [input, why] of rejected) {
    assert.equal(parseIp(input).ok, false, `${JSON.stringify(input)}: ${why}`);
    assert.equal(isIp(input), false, why);
    assert.equal(canonicalIpText(input), null, why);
    assert.throws(() => ipToBytes(input), TypeError, why);
  }
});

test('the netlink fast path gives the same bytes as parseIp, and bytes print back canonically', () => {
  for (const [input, , text] of accepted) {
    const parsed = parseIp(input);
    assert.ok(parsed.ok);
    const bytes = ipToBytes(input);
    assert.deepEqual([...bytes], [...parsed.value.bytes], input);
    assert.equal(bytesToIp(bytes), text, input);
  }
  assert.equal(ipToBytes('198.51.100.7').toString('hex'), 'c6336407');
  assert.equal(ipToBytes('2001:db8:1::2').toString('hex'), '20010db8000100000000000000000002');
  // A 16-byte mapped address from the kernel prints as Go prints it.
  assert.equal(bytesToIp(Buffer.from('00000000000000000000ffffc6336401', 'hex')), '198.51.100.1');
  assert.throws(() => bytesToIp(Buffer.alloc(5)), TypeError);
});

test('addresses convert to integers and back for allocators', () => {
  const v4 = parseIp('198.51.100.7');
  assert.ok(v4.ok);
  assert.equal(ipToBigInt(v4.value), 0xc6336407n);
  assert.deepEqual(ipFromBigInt(4, 0xc6336408n), { family: 4, bytes: Uint8Array.from([198, 51, 100, 8]) });
  const v6 = parseIp('fd00::1');
  assert.ok(v6.ok);
  assert.equal(bytesToIp(ipFromBigInt(6, ipToBigInt(v6.value) + 0xffffn).bytes), 'fd00::1:0');
});
