// Store indexes and notifications, and the shared ClusterCache: per-kind indexes, the change feed,
// starting only the requested resources, and the cache-sync timeout.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { Store, objectKey } from '../../../src/kube/cache.ts';
import { ClusterCache, INDEX, type ClusterChange } from '../../../src/kube/cluster-cache.ts';
import { KubeClient } from '../../../src/kube/client.ts';
import { FakeApiServer } from './fake-apiserver.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function pod(ns: string, name: string, node: string | undefined, rv = '1'): Pod {
  return { metadata: { namespace: ns, name, resourceVersion: rv }, spec: { containers: [], ...(node ? { nodeName: node } : {}) } };
}

test('objects are keyed namespace/name, or name when cluster-scoped', () => {
  assert.equal(objectKey(pod('ns1', 'a', undefined)), 'ns1/a');
  assert.equal(objectKey({ metadata: { name: 'node-1' } }), 'node-1');
});

test('an index follows updates and deletes: a pod moving node is only listed under its new node', () => {
  const store = new Store<Pod>('Pod', { byNode: (p) => (p.spec?.nodeName ? [p.spec.nodeName] : []) });
  const seen: string[] = [];
  store.onChange((e) => seen.push(`${e.type} ${e.key}`));
  store.upsert(pod('a', 'p1', 'n1'));
  store.upsert(pod('a', 'p2', 'n1'));
  store.upsert(pod('b', 'p3', undefined));
  assert.deepEqual(store.byIndex('byNode', 'n1').map(objectKey).sort(), ['a/p1', 'a/p2']);
  store.upsert(pod('a', 'p2', 'n2', '2'));
  assert.deepEqual(store.byIndex('byNode', 'n1').map(objectKey), ['a/p1']);
  assert.deepEqual(store.byIndex('byNode', 'n2').map(objectKey), ['a/p2']);
  store.remove('a/p1');
  assert.deepEqual(store.byIndex('byNode', 'n1'), []);
  assert.deepEqual(store.indexValues('byNode'), ['n2']);
  assert.equal(store.remove('a/absent'), undefined);
  assert.deepEqual(seen, ['add a/p1', 'add a/p2', 'add b/p3', 'update a/p2', 'delete a/p1']);
  assert.throws(() => store.byIndex('nope', 'x'));
});

test('a throwing listener does not stop later listeners', () => {
  const store = new Store<Pod>('Pod');
  const seen: string[] = [];
  store.onChange(() => {
    throw new Error('boom');
  });
  store.onChange((e) => seen.push(e.key));
  store.upsert(pod('a', 'p1', 'n1'));
  assert.deepEqual(seen, ['a/p1']);
});

async function startCache(server: FakeApiServer, resources: ConstructorParameters<typeof ClusterCache>[1]): Promise<ClusterCache> {
  const client = new KubeClient({ server: server.url, insecureSkipTlsVerify: false, source: 'test' });
  const cache = new ClusterCache(client, resources, { idleTimeoutMs: 5000, backoffInitialMs: 5, backoffMaxMs: 20 });
  cleanups.push(async () => {
    await cache.stop();
    await client.close();
    await server.close();
  });
  cache.start();
  return cache;
}

test('the cluster cache indexes pods by node and namespace, slices by service, and reports every change with its kind', async () => {
  const server = await FakeApiServer.start();
  server.script('/api/v1/pods', { lists: [{ items: [pod('ns1', 'p1', 'n1'), pod('ns2', 'p2', 'n1'), pod('ns2', 'p3', 'n2')], resourceVersion: '5' }] });
  const slice = (name: string, svc?: string) => ({
    metadata: { namespace: 'ns1', name, resourceVersion: '3', ...(svc ? { labels: { 'kubernetes.io/service-name': svc } } : {}) },
    addressType: 'IPv4',
    endpoints: [],
  });
  server.script('/apis/discovery.k8s.io/v1/endpointslices', {
    lists: [{ items: [slice('web-abc', 'web'), slice('web-def', 'web'), slice('orphan')], resourceVersion: '4' }],
  });
  const cache = await startCache(server, ['pods', 'endpointslices']);
  const changes: ClusterChange[] = [];
  cache.onChange((c) => changes.push(c));
  await cache.waitForSync(2000);
  assert.ok(cache.hasSynced());
  const pods = cache.store('pods');
  assert.deepEqual(pods.byIndex(INDEX.byNode, 'n1').map(objectKey).sort(), ['ns1/p1', 'ns2/p2']);
  assert.deepEqual(pods.byIndex(INDEX.byNamespace, 'ns2').map(objectKey).sort(), ['ns2/p2', 'ns2/p3']);
  const slices = cache.store('endpointslices');
  assert.deepEqual(slices.byIndex(INDEX.service, 'ns1/web').map(objectKey).sort(), ['ns1/web-abc', 'ns1/web-def']);
  assert.deepEqual(slices.indexValues(INDEX.service), ['ns1/web']);
  assert.deepEqual(
    changes.map((c) => `${c.kind} ${c.type} ${c.key}`).sort(),
    ['EndpointSlice add ns1/orphan', 'EndpointSlice add ns1/web-abc', 'EndpointSlice add ns1/web-def', 'Pod add ns1/p1', 'Pod add ns2/p2', 'Pod add ns2/p3'],
  );
  assert.throws(() => cache.store('nodes'), /nodes was not requested/);
  assert.deepEqual(new Set(server.requests.map((r) => r.path)), new Set(['/api/v1/pods', '/apis/discovery.k8s.io/v1/endpointslices']));
  assert.ok(Object.values(cache.lastEventAt()).every((t) => t > 0));
});

test('waitForSync rejects after the timeout, naming the resources that never listed', async () => {
  const server = await FakeApiServer.start();
  server.script('/api/v1/nodes', { lists: [{ items: [], resourceVersion: '1' }] });
  server.script('/api/v1/namespaces', { lists: Array.from({ length: 1000 }, () => ({ status: 500 })) });
  const cache = await startCache(server, ['nodes', 'namespaces']);
  const started = Date.now();
  await assert.rejects(cache.waitForSync(300), (e: Error) => {
    assert.match(e.message, /still waiting for namespaces$/);
    return true;
  });
  assert.ok(Date.now() - started >= 290);
  const last = cache.lastEventAt();
  assert.ok((last['nodes'] ?? 0) > 0, 'nodes listed');
  assert.equal(last['namespaces'], 0, 'namespaces never listed');
  assert.equal(cache.hasSynced(), false);
});
