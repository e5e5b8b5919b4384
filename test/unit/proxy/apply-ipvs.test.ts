// IpvsApplier against the in-memory IPVS with the kernel's semantics: minimal batches on the event path with no
// listing, repair of drift, and a full sync that deletes only the stale services it owns.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IpvsApplier, ipvsKeyOf, ipvsSpecOf } from '../../../src/controllers/proxy/apply-ipvs.ts';
import { virtualServiceKey, type VirtualService } from '../../../src/controllers/proxy/model.ts';
import { planService } from '../../../src/controllers/proxy/plan-service.ts';
import { ipvsService, type IpvsService } from '../../../src/kernel/ipvs.ts';
import { FakeIpvs } from '../../helpers/fake-ipvs.ts';
import { CONFIG, NODE, service, slice } from './fixtures.ts';

function counting(fake: FakeIpvs): { lists: () => number } {
  let n = 0;
  const list = fake.listServices.bind(fake);
  fake.listServices = async () => { n++; return list(); };
  return { lists: () => n };
}

const vsOf = (name: string, ip: string, eps: string[], extra: object = {}, annotations: Record<string, string> = {}): VirtualService =>
  planService(service(name, { clusterIP: ip, clusterIPs: [ip], ...extra }, { annotations }), [slice(name, 'IPv4', eps.map((e) => ({ ip: e })))], NODE, CONFIG).virtualServices[0]!;

async function kernelView(fake: FakeIpvs): Promise<string[]> {
  const out: string[] = [];
  const services = await fake.listServices();
  assert.ok(services.ok);
  for (const s of services.value) {
    const d = await fake.listDestinations(s);
    assert.ok(d.ok);
    const key = 'fwmark' in s ? `fwmark ${s.fwmark}` : `${s.protocol} ${s.address}:${s.port}`;
    out.push(`${key} ${s.scheduler} f${s.flags} t${s.timeout} -> ${d.value.map((x) => `${x.address}:${x.port}/${x.weight}`).sort().join(',')}`);
  }
  return out.sort();
}

describe('IPVS applier', () => {
  it('creates a virtual service with its destinations in one batch, then sends only the destination difference', async () => {
    const fake = new FakeIpvs();
    const seen = counting(fake);
    const applier = new IpvsApplier(fake);
    await applier.apply([vsOf('a', '10.96.0.1', ['198.18.1.1', '198.18.1.2'])], []);
    assert.deepEqual(await kernelView(fake), ['tcp 10.96.0.1:80 rr f0 t0 -> 198.18.1.1:8080/1,198.18.1.2:8080/1']);
    fake.batches.length = 0;
    const r = await applier.apply([vsOf('a', '10.96.0.1', ['198.18.1.2', '198.18.1.3'])], []);
    assert.equal(fake.batches.length, 1);
    assert.deepEqual(fake.batches[0]!.map((o) => `${o.op} ${'destination' in o ? o.destination.address : ''}`), ['add-destination 198.18.1.3', 'delete-destination 198.18.1.1']);
    assert.equal(r.failed.size, 0);
    assert.equal(seen.lists(), 1, 'only the test listed the kernel');
  });

  it('a scheduler or affinity change updates the service in place (its destinations stay)', async () => {
    const fake = new FakeIpvs();
    const applier = new IpvsApplier(fake);
    await applier.apply([vsOf('a', '10.96.0.1', ['198.18.1.1'])], []);
    fake.batches.length = 0;
    await applier.apply([vsOf('a', '10.96.0.1', ['198.18.1.1'], { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } } }, { 'kube-router.io/service.scheduler': 'mh', 'kube-router.io/service.schedflags': 'flag-1,flag-2' })], []);
    assert.deepEqual(fake.batches[0]!.map((o) => o.op), ['update-service']);
    assert.deepEqual(await kernelView(fake), ['tcp 10.96.0.1:80 mh f25 t60 -> 198.18.1.1:8080/1']);
  });

  it('a service deleted behind its back is re-created on the next change for it (drift repaired without a dump)', async () => {
    const fake = new FakeIpvs();
    const applier = new IpvsApplier(fake);
    const a = vsOf('a', '10.96.0.1', ['198.18.1.1']);
    await applier.apply([a], []);
    assert.ok((await fake.deleteService(ipvsKeyOf(a))).ok);
    const r = await applier.apply([vsOf('a', '10.96.0.1', ['198.18.1.1', '198.18.1.2'])], []);
    assert.equal(r.failed.size, 0);
    assert.deepEqual(await kernelView(fake), ['tcp 10.96.0.1:80 rr f0 t0 -> 198.18.1.1:8080/1,198.18.1.2:8080/1']);
  });

  it('a refused change is reported for its service only; the rest of the batch is applied', async () => {
    const fake = new FakeIpvs();
    const applier = new IpvsApplier(fake);
    fake.failWith((op) => op.op === 'add-service' && 'address' in op.service && op.service.address === '10.96.0.2', 12);
    const r = await applier.apply([vsOf('a', '10.96.0.1', ['198.18.1.1']), vsOf('b', '10.96.0.2', ['198.18.1.2'])], []);
    assert.deepEqual([...r.failed.keys()], ['TCP/10.96.0.2:80']);
    assert.deepEqual(await kernelView(fake), ['tcp 10.96.0.1:80 rr f0 t0 -> 198.18.1.1:8080/1']);
    fake.clearFailures();
    const again = await applier.apply([vsOf('b', '10.96.0.2', ['198.18.1.2'])], []);
    assert.equal(again.failed.size, 0);
    assert.equal((await kernelView(fake)).length, 2);
  });

  it('full sync converges planned services, deletes stale owned ones and never touches a foreign one', async () => {
    const fake = new FakeIpvs();
    const foreign = ipvsService({ family: 4, protocol: 'tcp', address: '198.51.100.200', port: 443, scheduler: 'wlc' });
    assert.ok((await fake.addService(foreign)).ok);
    const staleOwned = ipvsService({ family: 4, protocol: 'udp', address: '10.96.0.9', port: 53, scheduler: 'rr' });
    assert.ok((await fake.addService(staleOwned)).ok);
    const drifted = vsOf('a', '10.96.0.1', ['198.18.1.1', '198.18.1.2']);
    assert.ok((await fake.addService({ ...ipvsSpecOf(drifted), scheduler: 'lc' })).ok);
    const owned = (s: IpvsService) => 'address' in s && s.address.startsWith('10.96.');
    const applier = new IpvsApplier(fake);
    const r = await applier.fullSync([drifted, vsOf('b', '10.96.0.2', ['198.18.1.3'])], owned);
    assert.equal(r.deletedStale, 1);
    assert.deepEqual(await kernelView(fake), [
      'tcp 10.96.0.1:80 rr f0 t0 -> 198.18.1.1:8080/1,198.18.1.2:8080/1',
      'tcp 10.96.0.2:80 rr f0 t0 -> 198.18.1.3:8080/1',
      'tcp 198.51.100.200:443 wlc f0 t0 -> ',
    ]);
    fake.batches.length = 0;
    const quiet = await applier.fullSync([drifted, vsOf('b', '10.96.0.2', ['198.18.1.3'])], owned);
    assert.equal(quiet.ops, 0, 'a second full sync finds nothing to do');
    assert.equal(fake.batches.length, 0);
  });

  it('full sync deletes a service it programmed that the ownership rule no longer claims (a NodePort on a vanished node address)', async () => {
    const fake = new FakeIpvs();
    const local = new Set(['198.51.100.11', '198.51.100.111']);
    const owned = (s: IpvsService) => 'address' in s && (s.address.startsWith('10.96.') || local.has(s.address));
    const cluster = vsOf('np', '10.96.0.5', ['198.18.1.1']);
    const onNode = (address: string): VirtualService => ({ ...cluster, key: virtualServiceKey('TCP', address, 30080), address, port: 30080, frontend: 'NodePort' });
    const foreign = ipvsService({ family: 4, protocol: 'tcp', address: '198.51.100.200', port: 30080, scheduler: 'wlc' });
    assert.ok((await fake.addService(foreign)).ok);
    const applier = new IpvsApplier(fake);
    await applier.fullSync([cluster, onNode('198.51.100.11'), onNode('198.51.100.111')], owned);
    assert.equal((await kernelView(fake)).length, 4);
    local.delete('198.51.100.111');
    const r = await applier.fullSync([cluster, onNode('198.51.100.11')], owned);
    assert.equal(r.deletedStale, 1);
    assert.deepEqual((await kernelView(fake)).map((l) => l.split(' ').slice(0, 2).join(' ')), ['tcp 10.96.0.5:80', 'tcp 198.51.100.11:30080', 'tcp 198.51.100.200:30080']);
  });

  it('removing a Service deletes its virtual service; an unknown key is ignored', async () => {
    const fake = new FakeIpvs();
    const applier = new IpvsApplier(fake);
    await applier.apply([vsOf('a', '10.96.0.1', ['198.18.1.1'])], []);
    await applier.apply([], ['TCP/10.96.0.1:80', 'TCP/10.96.0.77:80']);
    assert.deepEqual(await kernelView(fake), []);
  });
});
