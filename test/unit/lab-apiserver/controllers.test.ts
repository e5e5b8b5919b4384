// The lab control loops: node pod-CIDR allocation, ClusterIP/NodePort allocation and EndpointSlice maintenance.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LabApi } from '../../../lab/apiserver/api.ts';
import type { KubeObject } from '../../../lab/apiserver/resources.ts';
import { startLabControllers, type LabControllerOptions } from '../../../lab/controllers/index.ts';

const settle = async (): Promise<void> => { for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r)); };

function lab(options: LabControllerOptions = {}): { api: LabApi; stop(): void } {
  const api = new LabApi();
  const controllers = startLabControllers(api, { serviceCidrs: ['198.51.100.0/29'], endpointSliceBatchMs: 0, ...options });
  return { api, stop: () => { controllers.stop(); api.close(); } };
}

const service = (name: string, spec: Record<string, unknown>): KubeObject =>
  ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { ports: [{ port: 80 }], ...spec } });

describe('lab controllers', () => {
  it('gives each node the next free /24 of the cluster CIDR, and a /64 too when dual-stack', async () => {
    const single = lab({ clusterCidrs: ['198.18.0.0/16'] });
    const nodes = single.api.type('', 'nodes');
    single.api.create(nodes, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'taken' }, spec: { podCIDR: '198.18.0.0/24', podCIDRs: ['198.18.0.0/24'] } });
    single.api.create(nodes, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' } });
    single.api.create(nodes, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n2' } });
    await settle();
    const cidrs = (name: string, api: LabApi): unknown => { const n = api.get(nodes, undefined, name); return n.ok ? n.value['spec'] : undefined; };
    assert.deepEqual(cidrs('n1', single.api), { podCIDR: '198.18.1.0/24', podCIDRs: ['198.18.1.0/24'] });
    assert.deepEqual(cidrs('n2', single.api), { podCIDR: '198.18.2.0/24', podCIDRs: ['198.18.2.0/24'] });
    single.stop();
    const dual = lab({ clusterCidrs: ['198.18.0.0/16', 'fd00:10::/56'] });
    dual.api.create(nodes, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'd1' } });
    dual.api.create(nodes, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'd2' } });
    await settle();
    assert.deepEqual(cidrs('d2', dual.api), { podCIDR: '198.18.1.0/24', podCIDRs: ['198.18.1.0/24', 'fd00:10:0:1::/64'] });
    dual.stop();
  });

  it('allocates ClusterIPs from the service CIDR, honours requested ones and rejects duplicates', () => {
    const { api, stop } = lab();
    const services = api.type('', 'services');
    const first = api.create(services, service('a', {}));
    assert.ok(first.ok);
    assert.deepEqual([first.value['spec']], [{ ...(first.value['spec'] as object), clusterIP: '198.51.100.1', clusterIPs: ['198.51.100.1'], ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack' }]);
    const requested = api.create(services, service('b', { clusterIP: '198.51.100.3' }));
    assert.ok(requested.ok && (requested.value['spec'] as { clusterIP: string }).clusterIP === '198.51.100.3');
    const duplicate = api.create(services, service('c', { clusterIP: '198.51.100.3' }));
    assert.ok(!duplicate.ok && duplicate.error.code === 422 && /already allocated/.test(duplicate.error.message));
    const outside = api.create(services, service('d', { clusterIP: '198.51.100.200' }));
    assert.ok(!outside.ok && /not in the valid range/.test(outside.error.message));
    const next = api.create(services, service('e', {}));
    assert.ok(next.ok && (next.value['spec'] as { clusterIP: string }).clusterIP === '198.51.100.2');
    const headless = api.create(services, service('h', { clusterIP: 'None' }));
    assert.ok(headless.ok && (headless.value['spec'] as { clusterIPs: string[] }).clusterIPs[0] === 'None');
    // an update that leaves clusterIP out keeps it; one that changes it is rejected
    const current = api.get(services, 'default', 'a');
    assert.ok(current.ok);
    const spec = { ...(current.value['spec'] as Record<string, unknown>) };
    delete spec['clusterIP']; delete spec['clusterIPs'];
    const kept = api.update(services, { ...current.value, spec });
    assert.ok(kept.ok && (kept.value['spec'] as { clusterIP: string }).clusterIP === '198.51.100.1');
    const changed = api.update(services, { ...kept.value, spec: { ...(kept.value['spec'] as object), clusterIP: '198.51.100.5', clusterIPs: ['198.51.100.5'] } });
    assert.ok(!changed.ok && changed.error.code === 422);
    stop();
  });

  it('allocates NodePorts for NodePort and LoadBalancer services and rejects taken or out-of-range ones', () => {
    const { api, stop } = lab();
    const services = api.type('', 'services');
    const nodePorts = (o: KubeObject): number[] => ((o['spec'] as { ports: { nodePort?: number }[] }).ports).map((p) => p.nodePort ?? 0);
    const a = api.create(services, service('np', { type: 'NodePort', ports: [{ name: 'a', port: 80 }, { name: 'b', port: 81, nodePort: 30000 }] }));
    assert.ok(a.ok);
    assert.deepEqual(nodePorts(a.value), [30001, 30000]);
    const lb = api.create(services, service('lb', { type: 'LoadBalancer', externalTrafficPolicy: 'Local' }));
    assert.ok(lb.ok);
    assert.deepEqual([nodePorts(lb.value), (lb.value['spec'] as { healthCheckNodePort: number }).healthCheckNodePort], [[30002], 30003]);
    const clash = api.create(services, service('clash', { type: 'NodePort', ports: [{ port: 80, nodePort: 30001 }] }));
    assert.ok(!clash.ok && /already allocated/.test(clash.error.message));
    const range = api.create(services, service('range', { type: 'NodePort', ports: [{ port: 80, nodePort: 8080 }] }));
    assert.ok(!range.ok && /30000-32767/.test(range.error.message));
    const plain = api.create(services, service('plain', { ports: [{ port: 80, nodePort: 30010 }] }));
    assert.ok(plain.ok);
    assert.deepEqual(nodePorts(plain.value), [0]);
    stop();
  });

  it('keeps an EndpointSlice per resolved port set with named targetPorts looked up per pod', async () => {
    const { api, stop } = lab();
    const pods = api.type('', 'pods');
    const slices = api.type('discovery.k8s.io', 'endpointslices');
    api.create(api.type('', 'services'), service('web', { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }, { name: 'metrics', port: 9100 }] }));
    const runPod = (name: string, httpPort: number, ip: string, ready: boolean): void => {
      const created = api.create(pods, { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default', labels: { app: 'web' } },
        spec: { nodeName: 'node-1', containers: [{ name: 'c', image: 'x', ports: [{ name: 'http', containerPort: httpPort }] }] } });
      assert.ok(created.ok);
      const status = { phase: 'Running', podIP: ip, podIPs: [{ ip }], conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] };
      assert.ok(api.update(pods, { ...created.value, status }, 'status').ok);
    };
    runPod('a', 8080, '198.18.1.2', true);
    runPod('b', 8081, '198.18.1.3', false);
    runPod('c', 8080, '198.18.1.4', true);
    api.create(pods, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'other', namespace: 'default', labels: { app: 'db' } }, spec: { containers: [{ name: 'c', image: 'x' }] } });
    await settle();
    const summary = (): string[] => api.list(slices, 'default').map((s) => {
      const ports = (s['ports'] as { name: string; port: number }[]).map((p) => `${p.name}:${p.port}`).sort().join(',');
      const endpoints = (s['endpoints'] as { addresses: string[]; conditions: Record<string, boolean>; targetRef: { name: string } }[])
        .map((e) => `${e.targetRef.name}=${e.addresses[0]}(${['ready', 'serving', 'terminating'].filter((c) => e.conditions[c]).join('+')})`).join(' ');
      return `${String(s['addressType'])} [${ports}] ${endpoints}`;
    }).sort();
    assert.deepEqual(summary(), [
      'IPv4 [http:8080,metrics:9100] a=198.18.1.2(ready+serving) c=198.18.1.4(ready+serving)',
      'IPv4 [http:8081,metrics:9100] b=198.18.1.3()',
    ]);
    const slice = api.list(slices, 'default')[0];
    assert.equal(slice?.metadata.labels?.['kubernetes.io/service-name'], 'web');
    assert.equal(slice?.metadata.labels?.['endpointslice.kubernetes.io/managed-by'], 'endpointslice-controller.k8s.io');
    assert.equal((slice?.['endpoints'] as { nodeName: string }[])[0]?.nodeName, 'node-1');
    // graceful deletion: the endpoint stays, terminating, serving but not ready
    api.delete(pods, 'default', 'a');
    await settle();
    assert.deepEqual(summary()[0], 'IPv4 [http:8080,metrics:9100] a=198.18.1.2(serving+terminating) c=198.18.1.4(ready+serving)');
    api.delete(pods, 'default', 'a', { gracePeriodSeconds: 0 });
    api.delete(pods, 'default', 'b', { gracePeriodSeconds: 0 });
    await settle();
    assert.deepEqual(summary(), ['IPv4 [http:8080,metrics:9100] c=198.18.1.4(ready+serving)']);
    api.delete(api.type('', 'services'), 'default', 'web');
    await settle();
    assert.deepEqual(summary(), []);
    stop();
  });

  it('a selector service without matching pods gets an empty slice, a slice deleted by hand comes back, and the first endpoint fills it in place', async () => {
    const { api, stop } = lab();
    const slices = api.type('discovery.k8s.io', 'endpointslices');
    api.create(api.type('', 'services'), service('lonely', { selector: { app: 'none' } }));
    api.create(api.type('', 'services'), service('manual', {}));
    await settle();
    const listed = api.list(slices, 'default');
    assert.deepEqual(listed.map((s) => [s.metadata.labels?.['kubernetes.io/service-name'], (s['endpoints'] as unknown[]).length]), [['lonely', 0]]);
    api.delete(slices, 'default', listed[0]?.metadata.name ?? '');
    await settle();
    const recreated = api.list(slices, 'default');
    assert.equal(recreated.length, 1);
    // the first endpoint fills the existing slice instead of replacing it
    const pods = api.type('', 'pods');
    const created = api.create(pods, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default', labels: { app: 'none' } },
      spec: { nodeName: 'n', containers: [{ name: 'c', image: 'x' }] } });
    assert.ok(created.ok);
    api.update(pods, { ...created.value, status: { phase: 'Running', podIP: '198.18.5.5' } }, 'status');
    await settle();
    const filled = api.list(slices, 'default');
    assert.deepEqual(filled.map((s) => [s.metadata.name, (s['endpoints'] as { addresses: string[] }[]).map((e) => e.addresses[0]), (s['ports'] as { port: number }[]).map((p) => p.port)]),
      [[recreated[0]?.metadata.name, ['198.18.5.5'], [80]]]);
    stop();
  });
  it('dual-stack: PreferDualStack services get an address per family and an EndpointSlice per family', async () => {
    const { api, stop } = lab({ serviceCidrs: ['198.51.100.0/29', 'fd00:96::/112'] });
    const services = api.type('', 'services');
    const svc = api.create(services, service('ds', { ipFamilyPolicy: 'PreferDualStack', selector: { app: 'ds' } }));
    assert.ok(svc.ok);
    const spec = svc.value['spec'] as { clusterIPs: string[]; ipFamilies: string[] };
    assert.deepEqual([spec.clusterIPs, spec.ipFamilies], [['198.51.100.1', 'fd00:96::1'], ['IPv4', 'IPv6']]);
    const pods = api.type('', 'pods');
    const created = api.create(pods, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default', labels: { app: 'ds' } },
      spec: { nodeName: 'n', containers: [{ name: 'c', image: 'x' }] } });
    assert.ok(created.ok);
    api.update(pods, { ...created.value, status: { phase: 'Running', podIPs: [{ ip: '198.18.1.9' }, { ip: 'fd00:10:0:1::9' }] } }, 'status');
    await settle();
    const byFamily = api.list(api.type('discovery.k8s.io', 'endpointslices'), 'default')
      .map((s) => `${String(s['addressType'])}=${(s['endpoints'] as { addresses: string[] }[]).map((e) => e.addresses[0]).join(',')}`).sort();
    assert.deepEqual(byFamily, ['IPv4=198.18.1.9', 'IPv6=fd00:10:0:1::9']);
    stop();
    const single = lab();
    const refused = single.api.create(services, service('req', { ipFamilyPolicy: 'RequireDualStack' }));
    assert.ok(!refused.ok && refused.error.code === 422);
    single.stop();
  });
  it('the control loops go quiet: no writes once nodes and slices match their plans', async () => {
    const { api, stop } = lab();
    api.create(api.type('', 'services'), service('quiet', { selector: { app: 'q' } }));
    const created = api.create(api.type('', 'pods'), { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'q', namespace: 'default', labels: { app: 'q' } },
      spec: { nodeName: 'n', containers: [{ name: 'c', image: 'x' }] } });
    assert.ok(created.ok);
    api.update(api.type('', 'pods'), { ...created.value, status: { phase: 'Running', podIP: '198.18.0.3' } }, 'status');
    api.create(api.type('', 'nodes'), { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n' } });
    await new Promise((r) => setTimeout(r, 100));
    const settled = api.objects.resourceVersion;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(api.objects.resourceVersion, settled);
    stop();
  });
  it('splits a service with more endpoints than maxEndpointsPerSlice over several slices', async () => {
    const { api, stop } = lab({ maxEndpointsPerSlice: 2 });
    api.create(api.type('', 'services'), service('big', { selector: { app: 'big' } }));
    const pods = api.type('', 'pods');
    for (let i = 0; i < 5; i++) {
      const created = api.create(pods, { apiVersion: 'v1', kind: 'Pod', metadata: { name: `b${i}`, namespace: 'default', labels: { app: 'big' } },
        spec: { nodeName: 'n', containers: [{ name: 'c', image: 'x' }] } });
      assert.ok(created.ok);
      api.update(pods, { ...created.value, status: { phase: 'Running', podIP: `198.18.0.${i + 2}` } }, 'status');
    }
    await settle();
    const sizes = api.list(api.type('discovery.k8s.io', 'endpointslices'), 'default').map((s) => (s['endpoints'] as unknown[]).length).sort();
    assert.deepEqual(sizes, [1, 2, 2]);
    stop();
  });
});
