// FakeIpvs answers like the 6.1 kernel: the shared cases (also run against the VM kernel) plus what only the
// fake offers (recorded batches, injected failures, connection counters) and its copy-on-read state.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { constants } from 'node:os';
import { ipvsDestination, ipvsService, type IpvsServiceKey } from '../../../src/kernel/ipvs.ts';
import { FakeIpvs } from '../../helpers/fake-ipvs.ts';
import { IPVS_CASES, runIpvsCase } from '../../helpers/ipvs-cases.ts';

const ENOMEM = constants.errno.ENOMEM;
const SVC: IpvsServiceKey = { family: 4, protocol: 'tcp', address: '198.51.100.30', port: 443 };

describe('FakeIpvs answers as the kernel does (the cases the VM test runs against the real one)', () => {
  for (const c of IPVS_CASES) test(c.name, () => runIpvsCase(new FakeIpvs(), c));
});

test('a service reads back with the settings it was given, zero counters, and no stats carried in from the caller', async () => {
  const ipvs = new FakeIpvs();
  const spec = ipvsService({ ...SVC, scheduler: 'sh', flags: 0x1 | 0x8, timeout: 600, netmask: 24 });
  assert.deepEqual(await ipvs.addService(spec), { ok: true, value: undefined });
  const got = await ipvs.getService(SVC);
  assert.ok(got.ok);
  assert.equal(got.value.stats?.connections, 0);
  const { stats: _stats, ...settings } = got.value;
  assert.deepEqual(settings, spec);
  // feeding a decoded service (with stats) back as an update keeps only its settings
  assert.ok((await ipvs.updateService({ ...got.value, scheduler: 'rr' })).ok);
  const list = await ipvs.listServices();
  assert.ok(list.ok);
  assert.deepEqual(list.value.map((s) => s.scheduler), ['rr']);
});

test('what the fake returns is a copy: changing it does not change the table', async () => {
  const ipvs = new FakeIpvs();
  await ipvs.addService(ipvsService({ ...SVC, scheduler: 'rr' }));
  await ipvs.addDestination(SVC, ipvsDestination({ address: '198.18.1.1', port: 443 }));
  const dests = await ipvs.listDestinations(SVC);
  assert.ok(dests.ok && dests.value[0]);
  dests.value[0].weight = 99;
  const again = await ipvs.listDestinations(SVC);
  assert.ok(again.ok);
  assert.equal(again.value[0]?.weight, 1);
});

test('every batch is recorded as sent, single changes as batches of one', async () => {
  const ipvs = new FakeIpvs();
  await ipvs.addService(ipvsService({ ...SVC, scheduler: 'rr' }));
  await ipvs.apply([
    { op: 'add-destination', service: SVC, destination: ipvsDestination({ address: '198.18.1.1', port: 443 }) },
    { op: 'add-destination', service: SVC, destination: ipvsDestination({ address: '198.18.1.2', port: 443 }) },
  ]);
  assert.deepEqual(ipvs.batches.map((b) => b.map((op) => op.op)), [['add-service'], ['add-destination', 'add-destination']]);
});

test('an injected failure refuses the matching changes with its errno and lets the rest through', async () => {
  const ipvs = new FakeIpvs();
  await ipvs.addService(ipvsService({ ...SVC, scheduler: 'rr' }));
  ipvs.failWith((op) => op.op === 'add-destination' && op.destination.address === '198.18.1.2', ENOMEM);
  const r = await ipvs.apply(['198.18.1.1', '198.18.1.2', '198.18.1.3'].map((address) => ({
    op: 'add-destination' as const, service: SVC, destination: ipvsDestination({ address, port: 443 }),
  })));
  assert.ok(r.ok);
  assert.equal(r.value.applied, 2);
  assert.deepEqual(r.value.failures.map((f) => [f.index, f.error.code, f.error.errno]), [[1, 'ENOMEM', ENOMEM]]);
  ipvs.clearFailures();
  assert.ok((await ipvs.addDestination(SVC, ipvsDestination({ address: '198.18.1.2', port: 443 }))).ok);
});

test('connection counters set on a destination show in its listing (for draining before deletion)', async () => {
  const ipvs = new FakeIpvs();
  await ipvs.addService(ipvsService({ ...SVC, scheduler: 'rr' }));
  await ipvs.addDestination(SVC, ipvsDestination({ address: '198.18.1.1', port: 443 }));
  ipvs.setConnections(SVC, { address: '198.18.1.1', port: 443 }, 3, 7);
  const r = await ipvs.listDestinations(SVC);
  assert.ok(r.ok);
  assert.deepEqual([r.value[0]?.activeConnections, r.value[0]?.inactiveConnections], [3, 7]);
});

test('timeouts start at the kernel defaults; 0 keeps a value, a value above 2^31-1 is EINVAL', async () => {
  const ipvs = new FakeIpvs();
  assert.deepEqual(await ipvs.getTimeouts(), { ok: true, value: { tcp: 900, tcpFin: 120, udp: 300 } });
  assert.ok((await ipvs.setTimeouts({ tcp: 3600, udp: 0 })).ok);
  assert.deepEqual(await ipvs.getTimeouts(), { ok: true, value: { tcp: 3600, tcpFin: 120, udp: 300 } });
  const bad = await ipvs.setTimeouts({ tcpFin: 0x80000000 });
  assert.ok(!bad.ok && bad.error.code === 'EINVAL');
});

test('a tunnel destination without tunnel settings reads back as IPIP, and loses them when it stops tunnelling', async () => {
  const ipvs = new FakeIpvs();
  await ipvs.addService(ipvsService({ ...SVC, scheduler: 'rr' }));
  await ipvs.addDestination(SVC, ipvsDestination({ address: '198.18.1.1', port: 443, forward: 'tunnel' }));
  let r = await ipvs.listDestinations(SVC);
  assert.ok(r.ok);
  assert.deepEqual(r.value[0]?.tunnel, { type: 'ipip', port: 0, flags: 0 });
  await ipvs.updateDestination(SVC, ipvsDestination({ address: '198.18.1.1', port: 443, forward: 'masq' }));
  r = await ipvs.listDestinations(SVC);
  assert.ok(r.ok);
  assert.equal(r.value[0]?.tunnel, undefined);
});
