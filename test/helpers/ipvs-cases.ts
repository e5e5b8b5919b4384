// How IPVS answers sequences of changes, written once and run twice: against FakeIpvs in the unit tests and
// against the real kernel in the VM (test/vm/ipvs-codec.test.ts), so the fake cannot drift from the kernel.
import assert from 'node:assert/strict';
import {
  IPVS_SVC_F_PERSISTENT, ipvsDestination, ipvsService, type Ipvs, type IpvsOp, type IpvsServiceKey,
} from '../../src/kernel/ipvs.ts';

const V4: IpvsServiceKey = { family: 4, protocol: 'tcp', address: '198.51.100.20', port: 80 };
const V6: IpvsServiceKey = { family: 6, protocol: 'udp', address: '2001:db8::20', port: 53 };
const MARK: IpvsServiceKey = { family: 4, fwmark: 42 };
const addV4: IpvsOp = { op: 'add-service', service: ipvsService({ ...V4, scheduler: 'rr' }) };
const addV6: IpvsOp = { op: 'add-service', service: ipvsService({ ...V6, scheduler: 'sh' }) };
const dest = (address: string, more: Partial<Parameters<typeof ipvsDestination>[0]> = {}) => ipvsDestination({ address, port: 8080, ...more });

export interface IpvsCase {
  name: string;
  ops: IpvsOp[];
  /** 'ok' or the errno name of each change, in order. */
  expect: string[];
  /** Checks on the resulting table. */
  check?: (ipvs: Ipvs) => Promise<void>;
}

export const IPVS_CASES: IpvsCase[] = [
  {
    name: 'adding a service twice is EEXIST, and the first one stays',
    ops: [addV4, { op: 'add-service', service: ipvsService({ ...V4, scheduler: 'lc' }) }],
    expect: ['ok', 'EEXIST'],
    check: async (ipvs) => {
      const r = await ipvs.getService(V4);
      assert.ok(r.ok);
      assert.equal(r.value.scheduler, 'rr');
    },
  },
  {
    name: 'updating, deleting, or adding destinations to a missing service is ESRCH',
    ops: [
      { op: 'update-service', service: ipvsService({ ...V4, scheduler: 'rr' }) },
      { op: 'delete-service', service: V4 },
      { op: 'add-destination', service: V4, destination: dest('198.18.0.1') },
      { op: 'update-destination', service: V4, destination: dest('198.18.0.1') },
      { op: 'delete-destination', service: V4, destination: dest('198.18.0.1') },
    ],
    expect: ['ESRCH', 'ESRCH', 'ESRCH', 'ESRCH', 'ESRCH'],
  },
  {
    name: 'an unknown scheduler is ENOENT, a name longer than 15 characters EINVAL, "none" is no scheduler',
    ops: [
      { op: 'add-service', service: ipvsService({ ...V4, scheduler: 'nosuch' }) },
      { op: 'add-service', service: ipvsService({ ...V4, scheduler: 'a-sixteen-chars!' }) },
      { op: 'add-service', service: ipvsService({ ...V4, scheduler: 'none' }) },
      { op: 'update-service', service: ipvsService({ ...V4, scheduler: 'nosuch' }) },
      { op: 'update-service', service: ipvsService({ ...V4, scheduler: 'mh' }) },
    ],
    expect: ['ENOENT', 'EINVAL', 'ok', 'ENOENT', 'ok'],
  },
  {
    name: 'an IPv6 service needs a persistence prefix length of 1 to 128',
    ops: [
      { op: 'add-service', service: ipvsService({ ...V6, scheduler: 'rr', netmask: 0 }) },
      { op: 'add-service', service: ipvsService({ ...V6, scheduler: 'rr', netmask: 129 }) },
      { op: 'add-service', service: ipvsService({ ...V6, scheduler: 'rr', netmask: 64, flags: IPVS_SVC_F_PERSISTENT, timeout: 30 }) },
    ],
    expect: ['EINVAL', 'EINVAL', 'ok'],
  },
  {
    name: 'a destination added twice is EEXIST; updating or deleting an absent one is ENOENT',
    ops: [
      addV4,
      { op: 'add-destination', service: V4, destination: dest('198.18.0.1') },
      { op: 'add-destination', service: V4, destination: dest('198.18.0.1', { weight: 5 }) },
      { op: 'update-destination', service: V4, destination: dest('198.18.0.2') },
      { op: 'delete-destination', service: V4, destination: dest('198.18.0.2') },
      { op: 'add-destination', service: V4, destination: dest('198.18.0.2') },
      { op: 'update-destination', service: V4, destination: dest('198.18.0.1', { weight: 9 }) },
    ],
    expect: ['ok', 'ok', 'EEXIST', 'ENOENT', 'ENOENT', 'ok', 'ok'],
    check: async (ipvs) => {
      const r = await ipvs.listDestinations(V4);
      assert.ok(r.ok);
      // newest first, and the update changed only the weight
      assert.deepEqual(r.value.map((d) => [d.address, d.weight]), [['198.18.0.2', 1], ['198.18.0.1', 9]]);
    },
  },
  {
    name: 'a destination of the other family is EINVAL unless it is tunnelled; deleting it needs no such check',
    ops: [
      addV6,
      { op: 'add-destination', service: V6, destination: dest('198.18.0.3') },
      { op: 'add-destination', service: V6, destination: dest('198.18.0.3', { forward: 'route' }) },
      { op: 'add-destination', service: V6, destination: dest('198.18.0.3', { forward: 'tunnel' }) },
      { op: 'update-destination', service: V6, destination: dest('198.18.0.3', { forward: 'masq' }) },
      { op: 'delete-destination', service: V6, destination: dest('198.18.0.3') },
    ],
    expect: ['ok', 'EINVAL', 'EINVAL', 'ok', 'EINVAL', 'ok'],
  },
  {
    name: 'weights above 2^31-1 and a lower threshold above the upper are ERANGE; a GUE tunnel needs a port',
    ops: [
      addV4,
      { op: 'add-destination', service: V4, destination: dest('198.18.0.4', { weight: 0x80000000 }) },
      { op: 'add-destination', service: V4, destination: dest('198.18.0.4', { upperThreshold: 10, lowerThreshold: 20 }) },
      { op: 'add-destination', service: V4, destination: dest('198.18.0.4', { forward: 'tunnel', tunnel: { type: 'gue', port: 0, flags: 0 } }) },
      { op: 'add-destination', service: V4, destination: dest('198.18.0.4', { forward: 'tunnel', tunnel: { type: 'gue', port: 6080, flags: 0 } }) },
      { op: 'add-destination', service: V4, destination: dest('198.18.0.5', { weight: 0 }) },
    ],
    expect: ['ok', 'ERANGE', 'ERANGE', 'EINVAL', 'ok', 'ok'],
  },
  {
    name: 'multicast, zero-network, broadcast, unspecified and link-local destinations are EINVAL',
    ops: [
      addV4, addV6,
      { op: 'add-destination', service: V4, destination: dest('224.0.0.9') },
      { op: 'add-destination', service: V4, destination: dest('0.0.0.0') },
      { op: 'add-destination', service: V4, destination: dest('255.255.255.255') },
      { op: 'add-destination', service: V6, destination: dest('ff02::1') },
      { op: 'add-destination', service: V6, destination: dest('::') },
      { op: 'add-destination', service: V6, destination: dest('fe80::1') },
      { op: 'add-destination', service: V6, destination: dest('2001:db8::21') },
    ],
    expect: ['ok', 'ok', 'EINVAL', 'EINVAL', 'EINVAL', 'EINVAL', 'EINVAL', 'EINVAL', 'ok'],
  },
  {
    name: 'deleting a service deletes its destinations, and a batch carries on after a refused change',
    ops: [
      { op: 'add-service', service: ipvsService({ ...MARK, scheduler: 'dh' }) },
      { op: 'add-destination', service: MARK, destination: dest('198.18.0.6') },
      { op: 'add-service', service: ipvsService({ ...MARK, scheduler: 'dh' }) },
      { op: 'delete-service', service: MARK },
      { op: 'add-service', service: ipvsService({ ...MARK, scheduler: 'wrr' }) },
    ],
    expect: ['ok', 'ok', 'EEXIST', 'ok', 'ok'],
    check: async (ipvs) => {
      const r = await ipvs.listDestinations(MARK);
      assert.deepEqual(r, { ok: true, value: [] });
      const missing = await ipvs.listDestinations(V4);
      assert.deepEqual(missing, { ok: true, value: [] }, 'a missing service dumps no destinations, without an error');
    },
  },
  {
    name: 'an IPv6 service is found whatever way its address is written',
    ops: [addV6, { op: 'add-destination', service: { ...V6, address: '2001:0db8:0:0::20' }, destination: dest('2001:db8:0::22') }],
    expect: ['ok', 'ok'],
    check: async (ipvs) => {
      const r = await ipvs.listDestinations(V6);
      assert.ok(r.ok);
      assert.deepEqual(r.value.map((d) => d.address), ['2001:db8::22']);
    },
  },
];

/** Applies a case in one batch (starting from an empty table) and checks every outcome. */
export async function runIpvsCase(ipvs: Ipvs, c: IpvsCase): Promise<void> {
  const r = await ipvs.apply(c.ops);
  assert.ok(r.ok, `apply failed: ${JSON.stringify(r)}`);
  const outcomes = c.ops.map((_, i) => r.value.failures.find((f) => f.index === i)?.error.code ?? 'ok');
  assert.deepEqual(outcomes, c.expect);
  assert.equal(r.value.applied, c.expect.filter((e) => e === 'ok').length);
  await c.check?.(ipvs);
}
