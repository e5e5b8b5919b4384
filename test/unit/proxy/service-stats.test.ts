// kube_router_service_* come from one IPVS listing per scrape, with upstream's labels, only for our services.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IpvsApplier } from '../../../src/controllers/proxy/apply-ipvs.ts';
import { ProxyState } from '../../../src/controllers/proxy/plan-state.ts';
import { planService } from '../../../src/controllers/proxy/plan-service.ts';
import { serviceStats } from '../../../src/controllers/proxy/service-stats.ts';
import { ipvsService } from '../../../src/kernel/ipvs.ts';
import { registry, setServiceStatsSource } from '../../../src/observe/metrics.ts';
import { FakeIpvs } from '../../helpers/fake-ipvs.ts';
import { CONFIG, NODE, service, slice } from './fixtures.ts';

describe('per-service IPVS metrics', () => {
  it('expose the kernel counters of our virtual services with namespace, name, VIP, protocol and port', async () => {
    const fake = new FakeIpvs();
    const state = new ProxyState();
    const plan = planService(service('web', { clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10'] }), [slice('web', 'IPv4', [{ ip: '198.18.1.2' }])], NODE, CONFIG);
    state.set('default/web', plan);
    await new IpvsApplier(fake).apply(plan.virtualServices, []);
    assert.ok((await fake.addService(ipvsService({ family: 4, protocol: 'tcp', address: '198.51.100.200', port: 443, scheduler: 'rr' }))).ok);
    // The fake keeps no traffic counters: give the listing some, as the kernel would after traffic.
    const list = fake.listServices.bind(fake);
    let listings = 0;
    fake.listServices = async () => {
      listings++;
      const r = await list();
      return r.ok ? { ok: true, value: r.value.map((s) => ({ ...s, stats: { ...s.stats!, connections: 7, inBytes: 1234, connectionsPerSecond: 2 } })) } : r;
    };
    setServiceStatsSource(() => serviceStats(fake, state));
    try {
      const text = await registry.metrics();
      const labels = 'svc_namespace="default",service_name="web",service_vip="10.96.0.10",protocol="tcp",port="80"';
      assert.match(text, new RegExp(`kube_router_service_total_connections\\{${labels}\\} 7`));
      assert.match(text, new RegExp(`kube_router_service_bytes_in\\{${labels}\\} 1234`));
      assert.match(text, new RegExp(`kube_router_service_cps\\{${labels}\\} 2`));
      assert.doesNotMatch(text, /198\.51\.100\.200/, 'a foreign virtual service has no series');
      assert.equal(listings, 1, 'one IPVS listing serves every per-service metric of a scrape');
    } finally {
      setServiceStatsSource(undefined);
    }
  });
});
