// Reading overlay state back from `ip -j` output: only tun-<11 hex> links of kind ipip/ip6tnl count as ours
// (tunl0, foreign ipip links and look-alike names of other kinds are not), with their ends and encapsulation.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseFouPorts, parseOwnedTunnels } from '../../../src/controllers/routing/overlay-apply.ts';

const LINKS = JSON.stringify([
  { ifindex: 1, ifname: 'lo', flags: ['LOOPBACK', 'UP'] },
  { ifindex: 4, ifname: 'tunl0', flags: ['NOARP'], linkinfo: { info_kind: 'ipip', info_data: { remote: 'any', local: 'any', ttl: 0 } } },
  { ifindex: 5, ifname: 'tun-e44f6148d50', flags: ['POINTOPOINT', 'NOARP', 'UP'], linkinfo: { info_kind: 'ipip', info_data: {
    remote: '198.51.100.12', local: '198.51.100.11', ttl: 225, encap: { type: 'gue', sport: 0, dport: 5555 } } } },
  { ifindex: 6, ifname: 'tun-0123456789a', flags: ['POINTOPOINT'], linkinfo: { info_kind: 'ip6tnl', info_data: {
    proto: 'ip6ip6', remote: '2001:db8::2', local: '2001:db8::1', ttl: 64 } } },
  { ifindex: 7, ifname: 'foreign-ipip', flags: ['UP'], linkinfo: { info_kind: 'ipip', info_data: { remote: '198.51.100.9', local: '198.51.100.11' } } },
  { ifindex: 8, ifname: 'tun-abcdefabcde', flags: ['UP'], linkinfo: { info_kind: 'gre' } },
]);

describe('parseOwnedTunnels', () => {
  it('returns only our tunnels, with ends, state and encapsulation', () => {
    assert.deepEqual(parseOwnedTunnels(LINKS), [
      { name: 'tun-e44f6148d50', ifindex: 5, kind: 'ipip', up: true, local: '198.51.100.11', remote: '198.51.100.12', ttl: 225, encapType: 'gue', encapDport: 5555 },
      { name: 'tun-0123456789a', ifindex: 6, kind: 'ip6tnl', up: false, local: '2001:db8::1', remote: '2001:db8::2', ttl: 64 },
    ]);
  });
});

describe('parseFouPorts', () => {
  it('reads gue and ipproto ports of both families; empty output is no ports', () => {
    const json = JSON.stringify([{ port: 5555, gue: null, family: 'inet6' }, { port: 5555, gue: null, family: 'inet' }, { port: 6000, ipproto: 4, family: 'inet' }]);
    assert.deepEqual(parseFouPorts(json), [
      { family: 6, port: 5555, gue: true }, { family: 4, port: 5555, gue: true }, { family: 4, port: 6000, gue: false },
    ]);
    assert.deepEqual(parseFouPorts(''), []);
  });
});
