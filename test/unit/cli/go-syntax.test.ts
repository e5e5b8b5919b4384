// Go-compatible text conversions: durations (parse and print), ParseBool/ParseUint, CSV records, base64, IPs.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeStrictBase64 } from '../../../src/config/go-values.ts';
import { formatGoDuration, parseGoDuration } from '../../../src/cli/go-duration.ts';
import { parseGoUint, readCsvRecord } from '../../../src/cli/go-values.ts';
import { canonicalCidr } from '../../../src/net/cidr.ts';
import { canonicalIp } from '../../../src/net/ip.ts';

describe('Go durations', () => {
  const valid: ReadonlyArray<readonly [string, number]> = [
    ['0', 0], ['0s', 0], ['+0', 0], ['90s', 90_000], ['5m0s', 300_000], ['1h0m0s', 3_600_000], ['1h2m3.5s', 3_723_500],
    ['300ms', 300], ['1.5h', 5_400_000], ['.5s', 500], ['1.s', 1000], ['1m30s', 90_000], ['-2s', -2000],
    ['1500us', 1.5], ['1500\u00b5s', 1.5], ['1500\u03bcs', 1.5], ['2000000ns', 2], ['18h12m16s', 65_536_000],
  ];
  for (const [text, ms] of valid) {
    it(`parses ${JSON.stringify(text)} as ${ms} ms`, () => assert.deepEqual(parseGoDuration(text), { ok: true, value: ms }));
  }

  it('rejects text Go rejects', () => {
    for (const text of ['', '5', '90', '-', 's', '.s', '1.5.5s', '1d', '5 m', '1h 2m', '1e3s', '9223372037s']) {
      assert.equal(parseGoDuration(text).ok, false, JSON.stringify(text));
    }
  });

  const printed: ReadonlyArray<readonly [number, string]> = [
    [0, '0s'], [300_000, '5m0s'], [3_600_000, '1h0m0s'], [90_000, '1m30s'], [30_000, '30s'], [360_000, '6m0s'],
    [3_723_500, '1h2m3.5s'], [300, '300ms'], [0.0015, '1.5\u00b5s'], [1.5, '1.5ms'], [0.000_001, '1ns'], [-2000, '-2s'], [65_536_000, '18h12m16s'],
  ];
  for (const [ms, text] of printed) {
    it(`prints ${ms} ms as ${text}`, () => assert.equal(formatGoDuration(ms), text));
  }
});

describe('Go unsigned integers', () => {
  it('follow strconv.ParseUint base 0 for scalars and base 10 for list elements', () => {
    assert.deepEqual(parseGoUint('0x_1F', 16, true), { ok: true, value: 31 });
    assert.deepEqual(parseGoUint('0_7', 16, true), { ok: true, value: 7 });
    assert.deepEqual(parseGoUint('4294967295', 32, true), { ok: true, value: 4294967295 });
    assert.equal(parseGoUint('4294967296', 32, true).ok, false);
    for (const text of ['', '_1', '1_', '1__0', '0x', '08', '1.0', ' 1']) assert.equal(parseGoUint(text, 64, true).ok, false, text);
    assert.equal(parseGoUint('0x10', 64, false).ok, false);
    assert.equal(parseGoUint('1_0', 64, false).ok, false);
    assert.deepEqual(parseGoUint('010', 64, false), { ok: true, value: 10 });
  });
});

describe('CSV records', () => {
  it('read like encoding/csv and keep only the first record', () => {
    assert.deepEqual(readCsvRecord('a,b'), { ok: true, value: ['a', 'b'] });
    assert.deepEqual(readCsvRecord(' a ,'), { ok: true, value: [' a ', ''] });
    assert.deepEqual(readCsvRecord('"a,b","say ""hi"""'), { ok: true, value: ['a,b', 'say "hi"'] });
    assert.deepEqual(readCsvRecord('a\nb'), { ok: true, value: ['a'] });
    assert.deepEqual(readCsvRecord(''), { ok: true, value: [] });
    assert.equal(readCsvRecord('"a').ok, false);
    assert.equal(readCsvRecord('"a"b').ok, false);
  });
});

describe('base64', () => {
  it('is strict standard padded base64, ignoring line breaks', () => {
    assert.deepEqual(decodeStrictBase64('cGFzcw=='), { ok: true, value: 'pass' });
    assert.deepEqual(decodeStrictBase64('cGFz\ncw==\n'), { ok: true, value: 'pass' });
    for (const text of ['cGFzcw', 'cGFzcw=', 'cGF zcw==', 'cGFzcw-_', 'pass!']) assert.equal(decodeStrictBase64(text).ok, false, text);
  });
});

describe('IP addresses and CIDRs', () => {
  it('accept what net.ParseIP accepts and print canonically', () => {
    assert.deepEqual(canonicalIp('2001:DB8:0:0:0:0:0:1'), { ok: true, value: '2001:db8::1' });
    assert.deepEqual(canonicalIp('::ffff:192.0.2.1'), { ok: true, value: '192.0.2.1' });
    assert.deepEqual(canonicalIp('2001:db8:0:1:0:0:0:0'), { ok: true, value: '2001:db8:0:1::' });
    assert.deepEqual(canonicalIp('1:0:0:2:0:0:0:3'), { ok: true, value: '1:0:0:2::3' }, 'the longest zero run is compressed');
    assert.deepEqual(canonicalIp('1:0:0:2:0:0:3:4'), { ok: true, value: '1::2:0:0:3:4' }, 'on a tie, the first run');
    assert.deepEqual(canonicalIp('1:0:2:3:4:5:6:7'), { ok: true, value: '1:0:2:3:4:5:6:7' }, 'a single zero group stays');
    assert.deepEqual(canonicalIp('::'), { ok: true, value: '::' });
    for (const text of ['', '1.2.3', '01.2.3.4', '256.0.0.1', '1::2::3', 'fe80::1%eth0', '1:2:3:4:5:6:7:8:9', 'g::1', '1.2.3.4::']) {
      assert.equal(canonicalIp(text).ok, false, text);
    }
  });

  it('give CIDRs in network form with their family', () => {
    assert.deepEqual(canonicalCidr('10.96.0.1/12'), { ok: true, value: '10.96.0.0/12' });
    assert.deepEqual(canonicalCidr('FD00::1/108'), { ok: true, value: 'fd00::/108' });
    assert.deepEqual(canonicalCidr('10.0.0.0/08'), { ok: true, value: '10.0.0.0/8' }, 'Go reads the length with dtoi');
    for (const text of ['10.0.0.0', '10.0.0.0/33', '10.0.0.0/', '::/129', 'x/8']) assert.equal(canonicalCidr(text).ok, false, text);
  });
});
