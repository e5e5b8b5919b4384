// ProxyController over an in-memory cluster and the fake IPVS: an event touches only its Service, a deleted
// Service or slice is removed, a refused change is retried for its Service only, and any sequence of events
// leaves IPVS exactly as a full sync of the final cluster would.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { IpvsApplier } from '../../../src/controllers/proxy/apply-ipvs.ts';
import { ProxyController, type ProxyDataplane, type ProxySource } from '../../../src/controllers/proxy/controller.ts';
import type { Problem } from '../../../src/controllers/proxy/model.ts';
import type { ProxyState, StateDelta } from '../../../src/controllers/proxy/plan-state.ts';
import { FakeIpvs } from '../../helpers/fake-ipvs.ts';
import { CONFIG, NODE, service, slice } from './fixtures.ts';

class Cluster implements ProxySource {
  svcs = new Map<string, Service>();
  slices = new Map<string, EndpointSlice>();
  services() { return this.svcs.values(); }
  service(key: string) { return this.svcs.get(key); }
  slicesOf(key: string) { return [...this.slices.values()].filter((s) => `${s.metadata!.namespace}/${s.metadata!.labels!['kubernetes.io/service-name']}` === key); }
  slice(key: string) { return this.slices.get(key); }
  node() { return NODE; }
  putService(s: Service) { this.svcs.set(`default/${s.metadata!.name}`, s); return { kind: 'Service', key: `default/${s.metadata!.name}` }; }
  putSlice(s: EndpointSlice) { this.slices.set(`default/${s.metadata!.name}`, s); return { kind: 'EndpointSlice', key: `default/${s.metadata!.name}` }; }
}

/** IPVS only (addresses and netfilter have their own tests), counting what reaches it. */
class IpvsOnly implements ProxyDataplane {
  readonly applier: IpvsApplier;
  deltas: StateDelta[] = [];
  constructor(readonly fake: FakeIpvs) { this.applier = new IpvsApplier(fake); }
  async fullSync(state: ProxyState) {
    const r = await this.applier.fullSync(state.virtualServices(), () => true);
    return new Map([...r.failed].map(([k, e]) => [k, e.code]));
  }
  async apply(delta: StateDelta) {
    this.deltas.push(delta);
    const r = await this.applier.apply(delta.upsert, delta.remove);
    return new Map([...r.failed].map(([k, e]) => [k, e.code]));
  }
}

async function table(fake: FakeIpvs): Promise<string[]> {
  const services = await fake.listServices();
  assert.ok(services.ok);
  const out: string[] = [];
  for (const s of services.value) {
    const d = await fake.listDestinations(s);
    assert.ok(d.ok);
    out.push(`${'address' in s ? `${s.protocol} ${s.address}:${s.port}` : ''} ${s.scheduler} -> ${d.value.map((x) => `${x.address}:${x.port}`).sort().join(',')}`);
  }
  return out.sort();
}

function setup() {
  const cluster = new Cluster();
  const fake = new FakeIpvs();
  const dataplane = new IpvsOnly(fake);
  const problems: Problem[] = [];
  const controller = new ProxyController({ source: cluster, dataplane, config: CONFIG, syncPeriodMs: 300_000, report: (p) => problems.push(p) });
  return { cluster, fake, dataplane, controller, problems };
}

describe('proxy controller', () => {
  it('an EndpointSlice change re-plans only its Service; deleting the slice empties it; deleting the Service removes it', async () => {
    const { cluster, fake, dataplane, controller } = setup();
    cluster.putService(service('a', { clusterIP: '10.96.0.1', clusterIPs: ['10.96.0.1'] }));
    cluster.putService(service('b', { clusterIP: '10.96.0.2', clusterIPs: ['10.96.0.2'] }));
    await controller.fullSync();
    const ref = cluster.putSlice(slice('a', 'IPv4', [{ ip: '198.18.1.1' }]));
    assert.deepEqual((await controller.handleChanges([ref])).failed?.size, 0);
    assert.deepEqual(dataplane.deltas.at(-1)!.upsert.map((v) => v.key), ['TCP/10.96.0.1:80']);
    assert.deepEqual(await table(fake), ['tcp 10.96.0.1:80 rr -> 198.18.1.1:8080', 'tcp 10.96.0.2:80 rr -> ']);
    cluster.slices.delete(ref.key);
    await controller.handleChanges([ref]);
    assert.deepEqual(await table(fake), ['tcp 10.96.0.1:80 rr -> ', 'tcp 10.96.0.2:80 rr -> ']);
    cluster.svcs.delete('default/b');
    await controller.handleChanges([{ kind: 'Service', key: 'default/b' }]);
    assert.deepEqual(await table(fake), ['tcp 10.96.0.1:80 rr -> ']);
  });

  it('a refused change fails only the refs of its Service, and the retry programs it', async () => {
    const { cluster, fake, controller } = setup();
    await controller.fullSync();
    fake.failWith((op) => op.op === 'add-service' && 'address' in op.service && op.service.address === '10.96.0.2', 12);
    const a = cluster.putService(service('a', { clusterIP: '10.96.0.1', clusterIPs: ['10.96.0.1'] }));
    const b = cluster.putService(service('b', { clusterIP: '10.96.0.2', clusterIPs: ['10.96.0.2'] }));
    const out = await controller.handleChanges([a, b]);
    assert.deepEqual([...out.failed!.keys()], ['default/b']);
    fake.clearFailures();
    const retry = await controller.handleChanges([b]);
    assert.equal(retry.failed!.size, 0);
    assert.deepEqual(await table(fake), ['tcp 10.96.0.1:80 rr -> ', 'tcp 10.96.0.2:80 rr -> ']);
  });

  it('a bad annotation is reported once per Service version and the Service is still programmed', async () => {
    const { cluster, fake, controller, problems } = setup();
    const svc = service('a', { clusterIP: '10.96.0.1', clusterIPs: ['10.96.0.1'] }, { annotations: { 'kube-router.io/service.scheduler': 'bogus' } });
    const ref = cluster.putService(svc);
    await controller.fullSync();
    await controller.handleChanges([ref]);
    await controller.fullSync();
    assert.deepEqual(problems.map((p) => p.reason), ['InvalidScheduler']);
    assert.deepEqual(await table(fake), ['tcp 10.96.0.1:80 rr -> ']);
  });

  it('any sequence of Service and slice events leaves IPVS as a full sync of the final cluster would', async () => {
    let seed = 11;
    const rand = (n: number) => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
    for (let round = 0; round < 30; round++) {
      const { cluster, fake, controller } = setup();
      await controller.fullSync();
      for (let step = 0; step < 15; step++) {
        const i = rand(4);
        const name = `s${i}`;
        let ref;
        switch (rand(4)) {
          case 0: ref = cluster.putService(service(name, { clusterIP: `10.96.0.${i + 1}`, clusterIPs: [`10.96.0.${i + 1}`], externalIPs: rand(2) ? ['198.18.10.5'] : [] })); break;
          case 1: ref = cluster.putSlice(slice(name, 'IPv4', Array.from({ length: rand(3) }, (_, k) => ({ ip: `198.18.${i}.${k + rand(3)}` })))); break;
          case 2: cluster.svcs.delete(`default/${name}`); ref = { kind: 'Service', key: `default/${name}` }; break;
          default: cluster.slices.delete(`default/${name}-ipv4`); ref = { kind: 'EndpointSlice', key: `default/${name}-ipv4` };
        }
        const out = await controller.handleChanges([ref]);
        assert.equal(out.failed?.size ?? 0, 0);
      }
      const incremental = await table(fake);
      const fresh = setup();
      fresh.cluster.svcs = cluster.svcs;
      fresh.cluster.slices = cluster.slices;
      await fresh.controller.fullSync();
      assert.deepEqual(incremental, await table(fresh.fake), `round ${round}`);
    }
  });
});
