// The IPVS genl codec: decoding replies captured from the VM's 6.1 kernel (fixtures/ipvs-*.hex, made by
// fixtures/capture-ipvs.ts after the ipvsadm commands listed there) and encoding requests against hand-derived bytes.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { NLM_F_ACK, parseMessages } from '../../../src/kernel/netlink/codec.ts';
import {
  IPVS_SVC_F_PERSISTENT, IPVS_SVC_F_SCHED_MH_FALLBACK, IPVS_SVC_F_SCHED_MH_PORT, decodeConfig, decodeDestinationMessage,
  decodeDestinationNest, decodeInfo, decodeServiceMessage, decodeServiceNest, encodeDestinationSpec, encodeGetDestinations,
  encodeGetService, encodeIpvsOp, encodeIpvsOps, encodeServiceSpec, encodeSetConfig, ipvsDestination, ipvsService, type IpvsOp,
  type IpvsStats,
} from '../../../src/kernel/netlink/ipvs.ts';
import { frameRequests } from '../../../src/kernel/netlink/socket.ts';
import { hex } from './fixtures.ts';

const fixture = (name: string): Buffer => hex(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));
const IPVS_FAMILY_ID = 0x20; // the id the VM kernel gave the IPVS family (the type of every captured reply)

const NO_TRAFFIC: IpvsStats = {
  connections: 0, inPackets: 0, outPackets: 0, inBytes: 0, outBytes: 0, connectionsPerSecond: 0,
  inPacketsPerSecond: 0, outPacketsPerSecond: 0, inBytesPerSecond: 0, outBytesPerSecond: 0,
};
// one TCP SYN (60 bytes) sent to the v4 service before the capture
const ONE_SYN: IpvsStats = { ...NO_TRAFFIC, connections: 1, inPackets: 1, inBytes: 60, inBytesPerSecond: 7 };

test('a GET_SERVICE dump from the kernel decodes to the v4, v6 and fwmark services ipvsadm created', () => {
  const messages = parseMessages(fixture('ipvs-services-dump.hex'));
  assert.ok(messages.every((m) => m.type === IPVS_FAMILY_ID));
  assert.deepEqual(messages.map(decodeServiceMessage), [
    // -A -t 198.51.100.10:80 -s rr
    { family: 4, protocol: 'tcp', address: '198.51.100.10', port: 80, scheduler: 'rr', flags: 0, timeout: 0, netmask: 32, stats: ONE_SYN },
    // -A -u [2001:db8::10]:53 -s mh -b mh-fallback,mh-port
    {
      family: 6, protocol: 'udp', address: '2001:db8::10', port: 53, scheduler: 'mh',
      flags: IPVS_SVC_F_SCHED_MH_FALLBACK | IPVS_SVC_F_SCHED_MH_PORT, timeout: 0, netmask: 128, stats: NO_TRAFFIC,
    },
    // -A -f 7 -s lc -p 60 -M 255.255.255.0
    { family: 4, fwmark: 7, scheduler: 'lc', flags: IPVS_SVC_F_PERSISTENT, timeout: 60, netmask: 24, stats: NO_TRAFFIC },
  ]);
});

test('the kernel-set HASHED flag is not reported as a service setting', () => {
  const [first] = parseMessages(fixture('ipvs-services-dump.hex'));
  assert.ok(first);
  // the raw flags attribute of the rr service is 0x00000002 (hashed) with mask ~0
  assert.ok(first.payload.toString('hex').includes('0c00070002000000ffffffff'));
  assert.equal(decodeServiceMessage(first)?.flags, 0);
});

test('GET_DEST dumps decode masq destinations with thresholds and counters, a v6 direct-route one and a GUE tunnel one', () => {
  const dests = (file: string, family: 4 | 6) => parseMessages(fixture(file)).map((m) => decodeDestinationMessage(m, family));
  const counters = { activeConnections: 0, inactiveConnections: 0, persistentConnections: 0 };
  // the kernel lists a service's destinations newest first
  assert.deepEqual(dests('ipvs-dests-v4-dump.hex', 4), [
    { family: 4, address: '198.18.0.12', port: 8080, forward: 'masq', weight: 3, upperThreshold: 100, lowerThreshold: 50, ...counters, activeConnections: 1, stats: ONE_SYN },
    { family: 4, address: '198.18.0.11', port: 8080, forward: 'masq', weight: 1, upperThreshold: 0, lowerThreshold: 0, ...counters, stats: NO_TRAFFIC },
  ]);
  assert.deepEqual(dests('ipvs-dests-v6-dump.hex', 6), [
    { family: 6, address: '2001:db8::11', port: 53, forward: 'route', weight: 2, upperThreshold: 0, lowerThreshold: 0, ...counters, stats: NO_TRAFFIC },
  ]);
  assert.deepEqual(dests('ipvs-dests-fwmark-dump.hex', 4), [
    {
      family: 4, address: '198.18.0.13', port: 0, forward: 'tunnel', weight: 5, upperThreshold: 0, lowerThreshold: 0, ...counters,
      tunnel: { type: 'gue', port: 6080, flags: 0 }, stats: NO_TRAFFIC,
    },
  ]);
});

test('GET_INFO and GET_CONFIG replies decode to the version, table size and default timeouts', () => {
  assert.deepEqual(parseMessages(fixture('ipvs-info.hex')).map(decodeInfo), [{ version: 0x010201, connectionTableSize: 4096 }]);
  assert.deepEqual(parseMessages(fixture('ipvs-config.hex')).map(decodeConfig), [{ tcp: 900, tcpFin: 120, udp: 300 }]);
});

test('a reply of another command is not taken for a service, destination, info or config', () => {
  const [info] = parseMessages(fixture('ipvs-info.hex'));
  assert.ok(info);
  assert.equal(decodeServiceMessage(info), undefined);
  assert.equal(decodeDestinationMessage(info, 4), undefined);
  assert.equal(decodeConfig(info), undefined);
  const [service] = parseMessages(fixture('ipvs-services-dump.hex'));
  assert.ok(service);
  assert.equal(decodeInfo(service), undefined);
});

test('adding a persistent IPv4 TCP service is framed byte for byte as the kernel expects', () => {
  const service = ipvsService({ family: 4, protocol: 'tcp', address: '198.51.100.10', port: 80, scheduler: 'rr', flags: IPVS_SVC_F_PERSISTENT, timeout: 300 });
  const m = encodeIpvsOp(IPVS_FAMILY_ID, { op: 'add-service', service });
  assert.equal(frameRequests([{ ...m, flags: m.flags | NLM_F_ACK }], 9).toString('hex'), hex(`
    5c000000 2000 0500 09000000 00000000   # nlmsghdr: len 92, IPVS family, REQUEST|ACK, seq 9
    01 01 0000                             # genlmsghdr: NEW_SERVICE, version 1
    4800 0100                              # IPVS_CMD_ATTR_SERVICE (nested, 72 bytes)
      0600 0100 0200 0000                  #   AF: AF_INET
      0600 0200 0600 0000                  #   PROTOCOL: TCP
      0800 0300 c633640a                   #   ADDR: 198.51.100.10 (4 bytes are enough)
      0600 0400 0050 0000                  #   PORT: 80, network order
      0700 0600 727200 00                  #   SCHED_NAME: "rr\\0"
      0c00 0700 01000000 ffffffff          #   FLAGS: persistent, mask ~0
      0800 0800 2c010000                   #   TIMEOUT: 300 s
      0800 0900 ffffffff                   #   NETMASK: 255.255.255.255`).toString('hex'));
});

test('adding an IPv6 direct-route destination carries the service key, the destination and its address family', () => {
  const service = { family: 6 as const, protocol: 'udp' as const, address: '2001:db8::10', port: 53 };
  const destination = ipvsDestination({ address: '2001:db8::11', port: 53, forward: 'route', weight: 2 });
  const m = encodeIpvsOp(IPVS_FAMILY_ID, { op: 'add-destination', service, destination });
  assert.equal(m.type, IPVS_FAMILY_ID);
  assert.equal(m.flags, 0, 'IPVS needs no CREATE/EXCL: the command says what to do');
  assert.equal(m.payload.toString('hex'), hex(`
    05 01 0000                                             # NEW_DEST, version 1
    3000 0100                                              # IPVS_CMD_ATTR_SERVICE
      0600 0100 0a00 0000                                  #   AF: AF_INET6
      0600 0200 1100 0000                                  #   PROTOCOL: UDP
      1400 0300 20010db8000000000000000000000010           #   ADDR: 2001:db8::10
      0600 0400 0035 0000                                  #   PORT: 53
    4800 0200                                              # IPVS_CMD_ATTR_DEST
      1400 0100 20010db8000000000000000000000011           #   ADDR: 2001:db8::11
      0600 0200 0035 0000                                  #   PORT: 53
      0600 0b00 0a00 0000                                  #   ADDR_FAMILY: AF_INET6
      0800 0300 03000000                                   #   FWD_METHOD: direct routing
      0800 0400 02000000                                   #   WEIGHT: 2
      0800 0500 00000000                                   #   U_THRESH: none
      0800 0600 00000000                                   #   L_THRESH: none`).toString('hex'));
});

test('deleting a destination of a fwmark service sends only the identifying fields', () => {
  const m = encodeIpvsOp(IPVS_FAMILY_ID, { op: 'delete-destination', service: { family: 4, fwmark: 7 }, destination: { address: '198.18.0.13', port: 0 } });
  assert.equal(m.payload.toString('hex'), hex(`
    07 01 0000                       # DEL_DEST
    1400 0100                        # SERVICE
      0600 0100 0200 0000            #   AF: AF_INET
      0800 0500 07000000             #   FWMARK: 7
    1c00 0200                        # DEST
      0800 0100 c612000d             #   ADDR: 198.18.0.13
      0600 0200 0000 0000            #   PORT: 0
      0600 0b00 0200 0000            #   ADDR_FAMILY: AF_INET`).toString('hex'));
});

test('an IPv6 persistence netmask travels as a host-order prefix length, an IPv4 one as a network-order mask', () => {
  const v6 = encodeServiceSpec(ipvsService({ family: 6, protocol: 'tcp', address: '2001:db8::1', port: 443, scheduler: 'sh', netmask: 64 }));
  assert.ok(v6.toString('hex').includes('0800090040000000'), v6.toString('hex'));
  const v4 = encodeServiceSpec(ipvsService({ family: 4, protocol: 'tcp', address: '198.51.100.1', port: 443, scheduler: 'sh', netmask: 24 }));
  assert.ok(v4.toString('hex').includes('08000900ffffff00'), v4.toString('hex'));
});

test('service and destination settings survive an encode/decode round trip', () => {
  const services = [
    ipvsService({ family: 6, protocol: 'sctp', address: '2001:db8::1', port: 3868, scheduler: 'sh', flags: IPVS_SVC_F_PERSISTENT, timeout: 10800, netmask: 64 }),
    ipvsService({ family: 4, fwmark: 0x3fff, scheduler: 'mh', flags: IPVS_SVC_F_SCHED_MH_PORT, persistenceEngine: 'sip' }),
    ipvsService({ family: 4, protocol: 'udp', address: '198.51.100.53', port: 53, scheduler: 'dh', netmask: 0 }),
  ];
  for (const s of services) assert.deepEqual(decodeServiceNest(encodeServiceSpec(s).subarray(4)), s);
  const tunnel = ipvsDestination({ address: '198.18.0.9', port: 0, forward: 'tunnel', weight: 7, upperThreshold: 10, lowerThreshold: 5, tunnel: { type: 'gre', port: 0, flags: 1 } });
  const decoded = decodeDestinationNest(encodeDestinationSpec(tunnel).subarray(4), 6);
  assert.deepEqual(decoded, { ...tunnel, family: 4, activeConnections: 0, inactiveConnections: 0, persistentConnections: 0 });
});

test('a destination reply without ADDR_FAMILY (older kernels) takes the family of its service', () => {
  const nest = encodeDestinationSpec(ipvsDestination({ address: '2001:db8::7', port: 80 })).subarray(4);
  // drop the ADDR_FAMILY attribute (the third one: ADDR is 20 bytes, PORT 8, ADDR_FAMILY 8)
  const withoutFamily = Buffer.concat([nest.subarray(0, 28), nest.subarray(36)]);
  assert.equal(decodeDestinationNest(withoutFamily, 6)?.address, '2001:db8::7');
  assert.equal(decodeDestinationNest(withoutFamily, 6)?.family, 6);
});

test('dump and get requests carry the service key only when one is asked for', () => {
  assert.equal(encodeGetService().toString('hex'), '04010000');
  assert.equal(encodeGetDestinations({ family: 4, fwmark: 1 }).toString('hex'), '080100001400010006000100020000000800050001000000');
});

test('SET_CONFIG leaves out timeouts that are 0, which the kernel keeps', () => {
  assert.equal(encodeSetConfig(IPVS_FAMILY_ID, { tcp: 900, tcpFin: 0, udp: 30 }).payload.toString('hex'), hex(`
    0c 01 0000                 # SET_CONFIG
    0800 0400 84030000         # TIMEOUT_TCP 900
    0800 0600 1e000000         # TIMEOUT_UDP 30`).toString('hex'));
});

test('a service key whose address is of the other family is a caller bug', () => {
  assert.throws(() => encodeServiceSpec(ipvsService({ family: 6, protocol: 'tcp', address: '198.51.100.1', port: 80, scheduler: 'rr' })), TypeError);
});

test('a batch encodes each change as it would be encoded alone, the service key included', () => {
  const service = ipvsService({ family: 6, protocol: 'tcp', address: '2001:db8::1', port: 443, scheduler: 'rr' });
  const ops: IpvsOp[] = [
    { op: 'add-service', service },
    ...Array.from({ length: 300 }, (_, i): IpvsOp => ({ op: 'add-destination', service, destination: ipvsDestination({ address: `2001:db8::${i + 16}`, port: 8443 }) })),
    { op: 'update-destination', service, destination: ipvsDestination({ address: '2001:db8::10', port: 8443, forward: 'tunnel', tunnel: { type: 'gue', port: 6080, flags: 1 } }) },
    { op: 'delete-destination', service, destination: { address: '2001:db8::11', port: 8443 } },
    { op: 'update-service', service: { ...service, scheduler: 'sh' } },
    { op: 'delete-service', service },
  ];
  const batch = encodeIpvsOps(IPVS_FAMILY_ID, ops);
  assert.deepEqual(batch.map((m) => m.payload.toString('hex')), ops.map((op) => encodeIpvsOp(IPVS_FAMILY_ID, op).payload.toString('hex')));
});
