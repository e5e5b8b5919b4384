// The pod cache keeps what controllers read and drops the rest (status conditions, container statuses, volumes,
// images, env, other annotations, managedFields): per pod this is most of the object a kubelet-run pod carries.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { slimPod } from '../../../src/kube/slim.ts';
import { ClusterCache } from '../../../src/kube/cluster-cache.ts';
import { KubeClient } from '../../../src/kube/client.ts';
import { FakeApiServer } from './fake-apiserver.ts';

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
    name: 'web-1', namespace: 'shop', uid: 'u-1', resourceVersion: '42', generation: 1, labels: { app: 'web' },
    deletionTimestamp: '2026-01-02T00:00:00Z', annotations: { 'kube-router.io/pod-cidr': '10.0.0.0/24' },
  },
  spec: {
    nodeName: 'n1', hostNetwork: false,
    containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 80, protocol: 'TCP' }] }],
    initContainers: [{ name: 'sidecar', restartPolicy: 'Always', ports: [{ name: 'admin', containerPort: 9901 }] }],
  },
  status: { phase: 'Running', podIP: '198.18.0.5', podIPs: [{ ip: '198.18.0.5' }], hostIP: '198.51.100.11' },
};

test('a slimmed pod keeps identity, labels, kube-router annotations, node, hostNetwork, named ports, phase and addresses only', () => {
  assert.deepEqual(slimPod(kubeletPod), kept);
  // a pod with nothing optional stays valid: containers present, no empty objects invented
  assert.deepEqual(slimPod({ metadata: { name: 'p', namespace: 'n' }, spec: { containers: [] } }),
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
  assert.deepEqual(cache.store('pods').get('shop/web-1'), kept);
});
