// The lab API server at load: the ClusterIP/NodePort index under concurrent creates and deletes, and a speed
// smoke (Services, Pods and their EndpointSlices created over HTTP) so a slowdown of the store, the allocator or
// the EndpointSlice loop shows in `make test`.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { call, startTestServer } from './helpers.ts';
import { apiWriter, inParallel } from '../../../bench/api-writer.ts';

const svc = (name: string, spec: Record<string, unknown> = {}): unknown =>
  ({ apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { ports: [{ port: 80 }], ...spec } });

describe('lab apiserver at scale', () => {
  it('concurrent Service creates never share a ClusterIP or NodePort; a deleted Service frees both', async () => {
    // 198.51.100.0/27: 30 usable ClusterIPs; NodePorts 30000-30039
    const server = await startTestServer({ controllers: { serviceCidrs: ['198.51.100.0/27'], nodePortRange: [30000, 30039], endpointSlices: false } });
    try {
      const results = await Promise.all(Array.from({ length: 34 }, (_, i) =>
        call(server.url, 'POST', '/api/v1/namespaces/default/services', svc(`s${i}`, { type: 'NodePort' }))));
      const created = results.filter((r) => r.status === 201);
      assert.equal(created.length, 30);
      assert.ok(results.filter((r) => r.status !== 201).every((r) => r.status === 422 && /range is full/.test(r.body.message)));
      const ips = created.map((r) => r.body.spec.clusterIP as string);
      const ports = created.map((r) => r.body.spec.ports[0].nodePort as number);
      assert.equal(new Set(ips).size, ips.length);
      assert.equal(new Set(ports).size, ports.length);
      const victim = created[5]!.body;
      assert.equal((await call(server.url, 'DELETE', `/api/v1/namespaces/default/services/${victim.metadata.name}`)).status, 200);
      const reuse = await call(server.url, 'POST', '/api/v1/namespaces/default/services', svc('again', { type: 'NodePort' }));
      assert.equal(reuse.status, 201);
      assert.equal(reuse.body.spec.clusterIP, victim.spec.clusterIP);
      // the freed NodePort can be requested explicitly
      const port = await call(server.url, 'POST', '/api/v1/namespaces/default/services',
        svc('port', { type: 'NodePort', clusterIP: 'None', ports: [{ port: 80, nodePort: victim.spec.ports[0].nodePort }] }));
      assert.equal(port.status, 201, JSON.stringify(port.body));
      const taken = await call(server.url, 'POST', '/api/v1/namespaces/default/services',
        svc('taken', { type: 'NodePort', clusterIP: 'None', ports: [{ port: 80, nodePort: ports[0] }] }));
      assert.equal(taken.status, 422);
      assert.match(taken.body.message, /already allocated/);
    } finally {
      await server.close();
    }
  });

  it('creates 2,000 Services and writes 2,000 Pods (create + status) over HTTP at >= 200 writes/s and keeps their EndpointSlices current', async () => {
    const server = await startTestServer({ controllers: { serviceCidrs: ['198.19.0.0/16'] } });
    try {
      const count = 2000;
      const client = apiWriter({ server: server.url });
      let t = performance.now();
      await inParallel(count, 16, async (i) => {
        const r = await client.send('POST', '/api/v1/namespaces/default/services',
          svc(`s${i}`, { selector: { app: `a${i}` }, ports: [{ port: 80, targetPort: 8080 }] }));
        assert.equal(r.status, 201);
      });
      const serviceRate = count / ((performance.now() - t) / 1000);
      t = performance.now();
      await inParallel(count, 16, async (i) => {
        const ip = `198.18.${i >> 8}.${i & 255}`;
        const r = await client.send('POST', '/api/v1/namespaces/default/pods', {
          apiVersion: 'v1', kind: 'Pod', metadata: { name: `p${i}`, labels: { app: `a${Math.floor(i / 10)}` } },
          spec: { nodeName: `fake-${i % 20}`, containers: [{ name: 'c', image: 'x' }] },
        });
        assert.equal(r.status, 201);
        const status = await client.send('PUT', `/api/v1/namespaces/default/pods/p${i}/status`, {
          ...r.body, status: { phase: 'Running', podIP: ip, podIPs: [{ ip }], conditions: [{ type: 'Ready', status: 'True' }] },
        });
        assert.equal(status.status, 200);
      });
      // two writes per pod (create, then the status a kubelet would write)
      const podWriteRate = 2 * count / ((performance.now() - t) / 1000);
      client.close();
      // services s0..s199 select 10 pods each: wait for the slices to say so
      const deadline = Date.now() + 30_000;
      let endpoints = 0;
      while (Date.now() < deadline) {
        const slices = await call(server.url, 'GET', '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices');
        endpoints = (slices.body.items as { endpoints?: unknown[] }[]).reduce((n, s) => n + (s.endpoints?.length ?? 0), 0);
        if (endpoints === count) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(endpoints, count);
      // bounds with room for a loaded 2-core machine (measured unloaded: see docs/bench-scale.md)
      console.log(`rates: services ${serviceRate.toFixed(0)}/s pod writes ${podWriteRate.toFixed(0)}/s`);
      assert.ok(serviceRate >= 200, `Service creates at ${serviceRate.toFixed(0)}/s`);
      assert.ok(podWriteRate >= 200, `Pod writes (create + status) at ${podWriteRate.toFixed(0)}/s`);
    } finally {
      await server.close();
    }
  });
});
