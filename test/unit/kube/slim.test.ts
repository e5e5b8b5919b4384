// The caches keep what controllers read and drop the rest: for pods status conditions, container statuses, volumes,
// images, env, other annotations, managedFields (most of what a kubelet-run pod carries); for EndpointSlices each
// endpoint's targetRef, hostname, zone and hints; for Services the selector and status conditions; for Nodes the
// images, conditions, capacity and node info. Slimmed objects hold absent fields as undefined (one shape per
// kind), so what is kept is compared as the API would serve it: through JSON.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import type { Node, Pod, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { podIPsOf, slimEndpointSlice, slimNode, slimPod, slimService } from '../../../src/kube/slim.ts';
import { ClusterCache } from '../../../src/kube/cluster-cache.ts';
import { KubeClient } from '../../../src/kube/client.ts';
import { FakeApiServer } from './fake-apiserver.ts';

/** The object as JSON carries it: undefined fields are absent. */
const asSent = <T>(o: T): T => JSON.parse(JSON.stringify(o)) as T;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

const kubeletPod: Pod = {
  apiVersion: 'v1', kind: 'Pod',
  metadata: {
    name: 'web-1', namespace: 'shop', uid: 'u-1', resourceVersion: '42', generation: 1, creationTimestamp: '2026-01-01T00:00:00Z',
    labels: { app: 'web' }, deletionTimestamp: '2026-01-02T00:00:00Z',
    annotations: { 'kube-router.io/pod-cidr': '10.0.0.0/24', 'kubectl.kubernetes.io/last-applied-configuration': '{"big":"json"}' },
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: 'rs' }],
    managedFields: [{ manager: 'kubectl', operation: 'Update' }],
  },
  spec: {
    nodeName: 'n1', hostNetwork: false, serviceAccountName: 'default', volumes: [{ name: 'v', emptyDir: {} }],
    containers: [{ name: 'c', image: 'nginx', env: [{ name: 'A', value: 'b' }], ports: [{ name: 'http', containerPort: 80, protocol: 'TCP' }] }],
    initContainers: [{ name: 'sidecar', image: 'envoy', restartPolicy: 'Always', ports: [{ name: 'admin', containerPort: 9901 }] }],
  },
  status: {
    phase: 'Running', podIP: '198.18.0.5', podIPs: [{ ip: '198.18.0.5' }], hostIP: '198.51.100.11', qosClass: 'BestEffort',
    conditions: [{ type: 'Ready', status: 'True' }], containerStatuses: [{ name: 'c', image: 'nginx', imageID: 'x', ready: true, restartCount: 0 }],
  },
};

const kept: Pod = {
  apiVersion: 'v1', kind: 'Pod',
  metadata: {
    name: 'web-1', namespace: 'shop', uid: 'u-1', resourceVersion: '42', labels: { app: 'web' },
    annotations: { 'kube-router.io/pod-cidr': '10.0.0.0/24' },
  },
  spec: {
    nodeName: 'n1', hostNetwork: false,
    containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 80, protocol: 'TCP' }] }],
    initContainers: [{ name: 'sidecar', restartPolicy: 'Always', ports: [{ name: 'admin', containerPort: 9901 }] }],
  },
  // podIPs holds only podIP: not kept (podIPsOf reads both)
  status: { phase: 'Running', podIP: '198.18.0.5', hostIP: '198.51.100.11' },
};

test('a slimmed pod keeps identity, labels, kube-router annotations, node, hostNetwork, named ports, phase and addresses only', () => {
  assert.deepEqual(asSent(slimPod(kubeletPod)), kept);
  // a pod with nothing optional stays valid: containers present, no empty objects invented
  assert.deepEqual(asSent(slimPod({ metadata: { name: 'p', namespace: 'n' }, spec: { containers: [] } })),
    { metadata: { name: 'p', namespace: 'n' }, spec: { containers: [] } });
});

test('the cluster cache stores pods slimmed', async () => {
  const server = await FakeApiServer.start();
  server.script('/api/v1/pods', { lists: [{ items: [kubeletPod], resourceVersion: '50' }] });
  const client = new KubeClient({ server: server.url, insecureSkipTlsVerify: false, source: 'test' });
  const cache = new ClusterCache(client, ['pods'], { idleTimeoutMs: 5000, backoffInitialMs: 5, backoffMaxMs: 20 });
  cleanups.push(async () => { await cache.stop(); await client.close(); await server.close(); });
  cache.start();
  await cache.waitForSync(2000);
  assert.deepEqual(asSent(cache.store('pods').get('shop/web-1')), kept);
});

const fullSlice: EndpointSlice = {
  apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4',
  metadata: {
    name: 'web-abc', namespace: 'shop', uid: 'u-s', resourceVersion: '7', generation: 2, creationTimestamp: '2026-01-01T00:00:00Z',
    labels: { 'kubernetes.io/service-name': 'web', 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' },
    annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': '2026-01-01T00:00:00Z', 'control-plane.alpha.kubernetes.io/leader': '{}' },
    ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: 'web', uid: 'svc' }],
  },
  ports: [{ name: 'http', protocol: 'TCP', port: 8080, appProtocol: 'http' }],
  endpoints: [
    { addresses: ['198.18.0.5'], conditions: { ready: true, serving: true, terminating: false }, nodeName: 'n1', zone: 'z1', hostname: 'web-1',
      targetRef: { kind: 'Pod', namespace: 'shop', name: 'web-1', uid: 'u-1' }, hints: { forZones: [{ name: 'z1' }] } },
    { addresses: ['198.18.0.6'], conditions: { ready: false, serving: true, terminating: true }, nodeName: 'n2' },
    { addresses: ['198.18.0.7'] },
  ],
};

test('a slimmed EndpointSlice keeps identity, labels, the leader annotation, ports, and per endpoint addresses, conditions and node', () => {
  const slim = slimEndpointSlice(fullSlice);
  assert.deepEqual(asSent(slim), {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4',
    metadata: {
      name: 'web-abc', namespace: 'shop', resourceVersion: '7',
      labels: { 'kubernetes.io/service-name': 'web', 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' },
      annotations: { 'control-plane.alpha.kubernetes.io/leader': '{}' },
    },
    ports: [{ name: 'http', protocol: 'TCP', port: 8080 }],
    endpoints: [
      { addresses: ['198.18.0.5'], conditions: { ready: true, serving: true, terminating: false }, nodeName: 'n1' },
      { addresses: ['198.18.0.6'], conditions: { ready: false, serving: true, terminating: true }, nodeName: 'n2' },
      { addresses: ['198.18.0.7'] },
    ],
  });
  // ready endpoints share one conditions object, which nothing can change
  const again = slimEndpointSlice(fullSlice);
  assert.equal(again.endpoints[0]!.conditions, slim.endpoints[0]!.conditions);
  assert.ok(Object.isFrozen(slim.endpoints[0]!.conditions));
});

test('a dual-stack pod keeps its podIPs; podIPsOf gives every address once, podIP first', () => {
  const dual = slimPod({ metadata: { name: 'd', namespace: 'n' }, status: { podIP: '198.18.0.9', podIPs: [{ ip: '198.18.0.9' }, { ip: '2001:db8::9' }] } });
  assert.deepEqual(asSent(dual.status), { podIP: '198.18.0.9', podIPs: [{ ip: '198.18.0.9' }, { ip: '2001:db8::9' }] });
  assert.deepEqual(podIPsOf(dual), ['198.18.0.9', '2001:db8::9']);
  assert.deepEqual(podIPsOf(slimPod(kubeletPod)), ['198.18.0.5']);
  assert.deepEqual(podIPsOf({ status: { podIPs: [{ ip: '2001:db8::1' }] } }), ['2001:db8::1']);
  assert.deepEqual(podIPsOf({ metadata: { name: 'pending' } }), []);
});

test('replicas share their label map and container table, every pod its namespace, node and host strings; shared parts are frozen', () => {
  // as from JSON.parse: every object its own copies
  const replica = (i: number): Pod => asSent({ ...kubeletPod, metadata: { ...kubeletPod.metadata, name: `web-${i}` } });
  const [a, b] = [slimPod(replica(1)), slimPod(replica(2))];
  assert.equal(a.metadata!.labels, b.metadata!.labels);
  assert.equal(a.spec!.containers, b.spec!.containers);
  assert.ok(Object.isFrozen(a.metadata!.labels) && Object.isFrozen(a.spec!.containers[0]!.ports![0]));
  assert.throws(() => { (a.metadata!.labels as Record<string, string>)['app'] = 'db'; }, TypeError);
  // a pod whose labels differ gets its own map; the source object is never frozen (the caller may still own it)
  const other = replica(3);
  other.metadata!.labels = { app: 'db' };
  const c = slimPod(other);
  assert.notEqual(c.metadata!.labels, a.metadata!.labels);
  assert.deepEqual(c.metadata!.labels, { app: 'db' });
  assert.ok(!Object.isFrozen(other.metadata!.labels));
  // slices of one Service share their ports table
  const s1 = slimEndpointSlice(asSent(fullSlice));
  const s2 = slimEndpointSlice(asSent({ ...fullSlice, metadata: { ...fullSlice.metadata, name: 'web-def' } }));
  assert.equal(s1.ports, s2.ports);
  assert.equal(s1.metadata!.labels, s2.metadata!.labels);
});

test('a slimmed Service keeps identity, labels, kube-router annotations, the spec but its selector, and the load balancer ingress', () => {
  const svc: Service = {
    apiVersion: 'v1', kind: 'Service',
    metadata: {
      name: 'web', namespace: 'shop', uid: 'u-v', resourceVersion: '9', labels: { 'service.kubernetes.io/headless': '' },
      annotations: { 'kube-router.io/service.scheduler': 'sh', 'kubectl.kubernetes.io/last-applied-configuration': '{"big":"json"}' },
      managedFields: [{ manager: 'kubectl' }],
    },
    spec: {
      type: 'LoadBalancer', selector: { app: 'web' }, clusterIP: '198.19.0.10', clusterIPs: ['198.19.0.10'], externalIPs: ['198.19.32.1'],
      ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP', nodePort: 30080 }], externalTrafficPolicy: 'Local',
      internalTrafficPolicy: 'Cluster', sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } },
      ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack',
    },
    status: { loadBalancer: { ingress: [{ ip: '198.19.48.1', ipMode: 'VIP' }] }, conditions: [{ type: 'x', status: 'True', lastTransitionTime: 't', reason: 'r', message: 'm' }] },
  };
  const { selector: _selector, ...spec } = svc.spec!;
  assert.deepEqual(asSent(slimService(svc)), {
    apiVersion: 'v1', kind: 'Service',
    metadata: { name: 'web', namespace: 'shop', uid: 'u-v', resourceVersion: '9', labels: { 'service.kubernetes.io/headless': '' },
      annotations: { 'kube-router.io/service.scheduler': 'sh' } },
    spec, status: { loadBalancer: { ingress: [{ ip: '198.19.48.1', ipMode: 'VIP' }] } },
  });
});

test('a slimmed Node keeps identity, labels, kube-router annotations, pod CIDRs and addresses', () => {
  const node: Node = {
    apiVersion: 'v1', kind: 'Node',
    metadata: { name: 'n1', uid: 'u-n', resourceVersion: '3', labels: { 'kubernetes.io/hostname': 'n1' },
      annotations: { 'kube-router.io/node.asn': '64512', 'node.alpha.kubernetes.io/ttl': '0' } },
    spec: { podCIDR: '198.18.0.0/24', podCIDRs: ['198.18.0.0/24'], providerID: 'x', taints: [{ key: 'k', effect: 'NoSchedule' }] },
    status: {
      addresses: [{ type: 'InternalIP', address: '198.51.100.11' }, { type: 'Hostname', address: 'n1' }],
      conditions: [{ type: 'Ready', status: 'True' }], images: [{ names: ['nginx'], sizeBytes: 1 }],
      nodeInfo: { architecture: 'amd64', bootID: '', containerRuntimeVersion: '', kernelVersion: '', kubeProxyVersion: '', kubeletVersion: '', machineID: '', operatingSystem: 'linux', osImage: '', systemUUID: '' },
    },
  };
  assert.deepEqual(asSent(slimNode(node)), {
    apiVersion: 'v1', kind: 'Node',
    metadata: { name: 'n1', uid: 'u-n', resourceVersion: '3', labels: { 'kubernetes.io/hostname': 'n1' }, annotations: { 'kube-router.io/node.asn': '64512' } },
    spec: { podCIDR: '198.18.0.0/24', podCIDRs: ['198.18.0.0/24'] },
    status: { addresses: [{ type: 'InternalIP', address: '198.51.100.11' }, { type: 'Hostname', address: 'n1' }] },
  });
});

test('the cluster cache stores EndpointSlices, Services and Nodes slimmed', async () => {
  const server = await FakeApiServer.start();
  server.script('/apis/discovery.k8s.io/v1/endpointslices', { lists: [{ items: [fullSlice], resourceVersion: '50' }] });
  server.script('/api/v1/services', { lists: [{ items: [{ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop' }, spec: { selector: { app: 'web' }, clusterIP: '198.19.0.10' } }], resourceVersion: '50' }] });
  server.script('/api/v1/nodes', { lists: [{ items: [{ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' }, status: { images: [{ names: ['x'] }], addresses: [] } }], resourceVersion: '50' }] });
  const client = new KubeClient({ server: server.url, insecureSkipTlsVerify: false, source: 'test' });
  const cache = new ClusterCache(client, ['endpointslices', 'services', 'nodes'], { idleTimeoutMs: 5000, backoffInitialMs: 5, backoffMaxMs: 20 });
  cleanups.push(async () => { await cache.stop(); await client.close(); await server.close(); });
  cache.start();
  await cache.waitForSync(2000);
  assert.deepEqual(asSent(cache.store('endpointslices').get('shop/web-abc')), asSent(slimEndpointSlice(fullSlice)));
  assert.equal(cache.store('endpointslices').get('shop/web-abc')?.endpoints[0]?.targetRef, undefined);
  assert.deepEqual(asSent(cache.store('services').get('shop/web')), { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop' }, spec: { clusterIP: '198.19.0.10' } });
  assert.deepEqual(asSent(cache.store('nodes').get('n1')), { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' }, status: { addresses: [] } });
});
