// rtnetlink route/rule/address encoding against hand-derived bytes, and route decoding of a captured kernel dump.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NLM_F_ACK, parseMessages } from '../../../src/kernel/netlink/codec.ts';
import {
  ROUTE_PROTOCOL_KUBE_ROUTER, RTN_UNICAST, RT_SCOPE_LINK, RT_SCOPE_UNIVERSE, RT_TABLE_MAIN, decodeRoute, decodeRule,
  encodeRoute, encodeRule, routeWithDefaults, ruleWithDefaults,
} from '../../../src/kernel/netlink/rtnetlink.ts';
import { frameRequests } from '../../../src/kernel/netlink/socket.ts';
import { ROUTE_DUMP, hex } from './fixtures.ts';

test('kube-router stamps its routes with protocol 17 like upstream', () => {
  assert.equal(ROUTE_PROTOCOL_KUBE_ROUTER, 17);
});

test('an IPv4 route add is framed byte for byte as the kernel expects', () => {
  const route = routeWithDefaults({ dst: '198.51.100.0/24', gateway: '198.18.0.1', oif: 3, priority: 100 });
  const m = encodeRoute(route, 'add');
  const wire = frameRequests([{ ...m, flags: m.flags | NLM_F_ACK }], 7);
  assert.equal(wire.toString('hex'), hex(`
    44000000 1800 0506 07000000 00000000   # nlmsghdr: len 68, RTM_NEWROUTE, REQUEST|ACK|EXCL|CREATE, seq 7
    02 18 00 00 fe 11 00 01 00000000      # rtmsg: AF_INET /24, table main, proto 17, universe, unicast
    0800 0f00 fe000000                    # RTA_TABLE 254
    0800 0100 c6336400                    # RTA_DST 198.51.100.0
    0800 0500 c6120001                    # RTA_GATEWAY 198.18.0.1
    0800 0400 03000000                    # RTA_OIF 3
    0800 0600 64000000                    # RTA_PRIORITY 100`).toString('hex'));
});

test('an IPv6 route in a table above 255 carries the table only in RTA_TABLE', () => {
  const route = routeWithDefaults({ dst: '2001:db8:2::/64', gateway: '2001:db8:1::2', oif: 3, table: 1000 });
  const m = encodeRoute(route, 'replace');
  assert.equal(m.flags, 0x500, 'CREATE|REPLACE');
  assert.equal(m.payload.toString('hex'), [
    '0a40000000110001', '00000000',
    '08000f00e8030000',
    '1400010020010db8000200000000000000000000',
    '1400050020010db8000100000000000000000002',
    '0800040003000000',
  ].join(''));
});

test('a route delete matches any scope but keeps protocol and type, so only our routes go', () => {
  const m = encodeRoute(routeWithDefaults({ dst: '198.18.0.7/32', gateway: '198.51.100.2' }), 'delete');
  assert.equal(m.type, 25);
  assert.equal(m.flags, 0);
  assert.equal(m.payload.subarray(0, 12).toString('hex'), '02200000' + 'fe' + '11' + 'ff' + '01' + '00000000');
});

test('route defaults choose link scope only for IPv4 routes without a gateway', () => {
  assert.equal(routeWithDefaults({ dst: '198.18.0.0/24', oif: 2 }).scope, RT_SCOPE_LINK);
  assert.equal(routeWithDefaults({ dst: '198.18.0.0/24', gateway: '198.51.100.1' }).scope, RT_SCOPE_UNIVERSE);
  assert.equal(routeWithDefaults({ dst: '2001:db8::/64', oif: 2 }).scope, RT_SCOPE_UNIVERSE);
  assert.throws(() => encodeRoute({ ...routeWithDefaults({ dst: '198.18.0.0/24' }), family: 6 }, 'add'), TypeError);
});

test('a captured kernel route dump decodes to plain Route objects', () => {
  const routes = parseMessages(ROUTE_DUMP).map(decodeRoute).filter((r) => r !== undefined);
  assert.deepEqual(routes, [
    { family: 4, dst: '198.18.5.0/24', table: RT_TABLE_MAIN, protocol: 17, scope: 0, type: RTN_UNICAST, gateway: '198.51.100.2', oif: 3, priority: 100 },
    { family: 4, dst: '198.51.100.0/24', table: RT_TABLE_MAIN, protocol: 2, scope: RT_SCOPE_LINK, type: RTN_UNICAST, oif: 3, src: '198.51.100.1' },
    { family: 6, dst: '2001:db8:2::/64', table: 1000, protocol: 17, scope: 0, type: RTN_UNICAST, gateway: '2001:db8:1::2', oif: 3, priority: 1024 },
  ]);
});

test('encoding a decoded route reproduces the kernel route it came from', () => {
  const first = parseMessages(ROUTE_DUMP)[0]!;
  const again = encodeRoute(decodeRoute(first)!, 'add');
  assert.deepEqual(decodeRoute({ ...first, payload: again.payload }), decodeRoute(first));
});

test('"from 198.51.100.0/24 lookup 77" encodes as fib_rule_hdr + FRA_TABLE/PRIORITY/SRC', () => {
  const rule = ruleWithDefaults({ src: '198.51.100.0/24', table: 77, priority: 32764 });
  assert.equal(encodeRule(rule).toString('hex'), [
    '02001800', '4d000001', '00000000', // AF_INET, dst_len 0, src_len 24, tos 0, table 77, res, res, FR_ACT_TO_TBL, flags
    '08000f004d000000', // FRA_TABLE 77
    '08000600fc7f0000', // FRA_PRIORITY 32764
    '08000200c6336400', // FRA_SRC 198.51.100.0
  ].join(''));
});

test('rules decode back to what was encoded, IPv6 and inverted selectors included', () => {
  for (const rule of [
    ruleWithDefaults({ src: '2001:db8::/48', table: 1000, priority: 10, invert: true, protocol: 17 }),
    ruleWithDefaults({ family: 4, table: 254, priority: 0, fwmark: 0x2000, fwmask: 0x2000, iifname: 'kube-bridge' }),
  ]) {
    const payload = encodeRule(rule);
    assert.deepEqual(decodeRule({ type: 32, flags: 0, seq: 0, pid: 0, payload }), rule);
  }
});
