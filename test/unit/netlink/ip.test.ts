// IP/CIDR text <-> bytes conversions, including the IPv6 forms iproute2 prints.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bytesToIp, ipToBytes, parseCidr } from '../../../src/kernel/netlink/ip.ts';

test('IPv4 addresses convert to network-order bytes and back', () => {
  assert.equal(ipToBytes('198.51.100.7').toString('hex'), 'c6336407');
  assert.equal(bytesToIp(Buffer.from([198, 18, 0, 255])), '198.18.0.255');
  assert.equal(ipToBytes('0.0.0.0').toString('hex'), '00000000');
  assert.equal(ipToBytes('255.255.255.255').toString('hex'), 'ffffffff');
  for (const bad of ['1.2.3.4.', '01.2.3.4', '256.1.1.1', '1..2.3', '1.2.3', '1.2.3.4.5', '1.2.3.a', '', ' 1.2.3.4']) {
    assert.throws(() => ipToBytes(bad), TypeError, JSON.stringify(bad));
  }
});

test('IPv6 addresses print in the compressed form inet_ntop (and so `ip -j`) uses', () => {
  const cases: Array<[string, string]> = [
    ['::', '::'],
    ['::1', '::1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // first of two equal zero runs is compressed
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero word is not compressed
    ['fe80::1:2', 'fe80::1:2'],
    ['FF02::1', 'ff02::1'],
    ['::ffff:198.51.100.1', '::ffff:198.51.100.1'],
    ['::ffff:c633:6401', '::ffff:198.51.100.1'],
    ['2001:db8::', '2001:db8::'],
  ];
  for (const [input, printed] of cases) assert.equal(bytesToIp(ipToBytes(input)), printed, input);
  assert.equal(ipToBytes('2001:db8:1::2').toString('hex'), '20010db8000100000000000000000002');
});

test('CIDRs parse with family and prefix length; a bare address is a host prefix; junk is rejected', () => {
  assert.deepEqual(parseCidr('198.18.0.0/15'), { family: 4, address: Buffer.from([198, 18, 0, 0]), prefixLen: 15 });
  assert.equal(parseCidr('2001:db8::1').prefixLen, 128);
  assert.equal(parseCidr('198.51.100.1').prefixLen, 32);
  for (const bad of ['198.51.100.0/33', '198.51.100.0/', '198.51.100.0/2x', '2001:db8::/129', 'nonsense/8', '1.2.3/24']) {
    assert.throws(() => parseCidr(bad), TypeError, bad);
  }
});
