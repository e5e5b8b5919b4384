// The lab API server's REST verbs over HTTP: CRUD, optimistic concurrency, defaulting, validation, pagination, selectors, patches.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { call, pod, startTestServer, type TestServer } from './helpers.ts';

describe('lab apiserver REST verbs', () => {
  let server: TestServer;
  let base: string;
  before(async () => { server = await startTestServer({ controllers: false }); base = server.url; });
  after(async () => { await server.close(); });

  it('creates, gets and lists a pod with server-set metadata and defaults', async () => {
    const created = await call(base, 'POST', '/api/v1/namespaces/default/pods', pod('p1', { app: 'a' }, { containers: [{ name: 'c', image: 'x', ports: [{ containerPort: 80 }] }] }));
    assert.equal(created.status, 201);
    const meta = created.body.metadata;
    assert.match(meta.uid, /^[0-9a-f-]{36}$/);
    assert.match(meta.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(meta.generation, 1);
    assert.equal(created.body.spec.containers[0].ports[0].protocol, 'TCP');
    assert.equal(created.body.spec.restartPolicy, 'Always');
    assert.equal(created.body.spec.dnsPolicy, 'ClusterFirst');
    assert.equal(created.body.spec.terminationGracePeriodSeconds, 30);
    assert.equal(created.body.status.phase, 'Pending');
    const got = await call(base, 'GET', '/api/v1/namespaces/default/pods/p1');
    assert.equal(got.body.metadata.resourceVersion, meta.resourceVersion);
    const listed = await call(base, 'GET', '/api/v1/pods');
    assert.equal(listed.body.kind, 'PodList');
    assert.deepEqual(listed.body.items.map((p: any) => p.metadata.name), ['p1']);
    assert.ok(Number(listed.body.metadata.resourceVersion) >= Number(meta.resourceVersion));
  });

  it('generateName produces a unique name and a duplicate name is 409 AlreadyExists', async () => {
    const generated = await call(base, 'POST', '/api/v1/namespaces/default/pods', { ...pod(''), metadata: { generateName: 'gen-' } });
    assert.equal(generated.status, 201);
    assert.match(generated.body.metadata.name, /^gen-[a-z0-9]{5}$/);
    const again = await call(base, 'POST', '/api/v1/namespaces/default/pods', pod(generated.body.metadata.name));
    assert.equal(again.status, 409);
    assert.equal(again.body.reason, 'AlreadyExists');
  });

  it('update with a stale resourceVersion is a 409 Conflict; a no-op update keeps the resourceVersion', async () => {
    const created = (await call(base, 'POST', '/apis/coordination.k8s.io/v1/namespaces/default/leases', { metadata: { name: 'l1' }, spec: { holderIdentity: 'a' } })).body;
    const first = await call(base, 'PUT', '/apis/coordination.k8s.io/v1/namespaces/default/leases/l1', { ...created, spec: { holderIdentity: 'b' } });
    assert.equal(first.status, 200);
    assert.notEqual(first.body.metadata.resourceVersion, created.metadata.resourceVersion);
    const stale = await call(base, 'PUT', '/apis/coordination.k8s.io/v1/namespaces/default/leases/l1', { ...created, spec: { holderIdentity: 'c' } });
    assert.equal(stale.status, 409);
    assert.equal(stale.body.reason, 'Conflict');
    const noop = await call(base, 'PUT', '/apis/coordination.k8s.io/v1/namespaces/default/leases/l1', first.body);
    assert.equal(noop.body.metadata.resourceVersion, first.body.metadata.resourceVersion);
    const reordered = Object.fromEntries(Object.entries(first.body).reverse());
    reordered['metadata'] = Object.fromEntries(Object.entries(first.body.metadata).reverse());
    const noopReordered = await call(base, 'PUT', '/apis/coordination.k8s.io/v1/namespaces/default/leases/l1', reordered);
    assert.equal(noopReordered.body.metadata.resourceVersion, first.body.metadata.resourceVersion);
    assert.equal(first.body.metadata.generation, 2);
  });

  it('status subresource writes only status; main-resource writes keep status', async () => {
    const node = (await call(base, 'POST', '/api/v1/nodes', { metadata: { name: 'n1' } })).body;
    const withStatus = await call(base, 'PUT', '/api/v1/nodes/n1/status', { ...node, metadata: { ...node.metadata, labels: { ignored: 'yes' } },
      status: { addresses: [{ type: 'InternalIP', address: '198.51.100.11' }] } });
    assert.equal(withStatus.status, 200);
    assert.equal(withStatus.body.status.addresses[0].address, '198.51.100.11');
    assert.equal(withStatus.body.metadata.labels, undefined);
    const mainWrite = await call(base, 'PUT', '/api/v1/nodes/n1', { ...withStatus.body, spec: { unschedulable: true }, status: {} });
    assert.equal(mainWrite.body.status.addresses[0].address, '198.51.100.11');
    assert.equal(mainWrite.body.spec.unschedulable, true);
  });

  it('rejects invalid objects with 422 and field causes', async () => {
    const badName = await call(base, 'POST', '/api/v1/namespaces/default/services', { metadata: { name: 'Bad_Name' }, spec: { ports: [{ port: 70000 }] } });
    assert.equal(badName.status, 422);
    assert.equal(badName.body.reason, 'Invalid');
    const fields = badName.body.details.causes.map((c: any) => c.field);
    assert.ok(fields.includes('metadata.name'));
    assert.ok(fields.includes('spec.ports[0].port'));
    const noContainers = await call(base, 'POST', '/api/v1/namespaces/default/pods', { metadata: { name: 'empty' }, spec: {} });
    assert.deepEqual(noContainers.body.details.causes.map((c: any) => c.field), ['spec.containers']);
    const badCidr = await call(base, 'POST', '/apis/networking.k8s.io/v1/namespaces/default/networkpolicies', { metadata: { name: 'np' },
      spec: { ingress: [{ from: [{ ipBlock: { cidr: '198.51.100.0/33' } }, { ipBlock: { cidr: '198.51.100.0/24', except: ['198.18.0.0/24'] } }] }] } });
    assert.equal(badCidr.status, 422);
    assert.deepEqual(badCidr.body.details.causes.map((c: any) => c.field),
      ['spec.ingress[0].from[0].ipBlock.cidr', 'spec.ingress[0].from[1].ipBlock.except[0]']);
  });

  it('pod updates may change images but not other spec fields', async () => {
    const created = (await call(base, 'POST', '/api/v1/namespaces/default/pods', pod('immutable'))).body;
    const image = await call(base, 'PUT', '/api/v1/namespaces/default/pods/immutable', { ...created, spec: { ...created.spec, containers: [{ ...created.spec.containers[0], image: 'busybox:1.37' }] } });
    assert.equal(image.status, 200);
    const ports = await call(base, 'PUT', '/api/v1/namespaces/default/pods/immutable', { ...image.body, spec: { ...image.body.spec, containers: [{ ...image.body.spec.containers[0], ports: [{ containerPort: 1 }] }] } });
    assert.equal(ports.status, 422);
    assert.equal(ports.body.details.causes[0].reason, 'FieldValueForbidden');
  });

  it('accepts YAML request bodies', async () => {
    const response = await fetch(`${base}/api/v1/namespaces/default/services`, { method: 'POST', headers: { 'Content-Type': 'application/yaml' },
      body: 'metadata:\n  name: from-yaml\nspec:\n  ports:\n  - port: 8080\n' });
    assert.equal(response.status, 201);
    const body = await response.json() as { spec: { ports: { targetPort: number }[] } };
    assert.equal(body.spec.ports[0]?.targetPort, 8080);
  });

  it('namespaced objects need an existing namespace; missing objects are 404 NotFound', async () => {
    const orphan = await call(base, 'POST', '/api/v1/namespaces/nowhere/pods', pod('p'));
    assert.equal(orphan.status, 404);
    assert.equal(orphan.body.details.name, 'nowhere');
    const missing = await call(base, 'GET', '/api/v1/namespaces/default/pods/none');
    assert.deepEqual([missing.status, missing.body.kind, missing.body.reason], [404, 'Status', 'NotFound']);
  });

  it('defaults services, network policies and namespaces like the real API', async () => {
    const svc = (await call(base, 'POST', '/api/v1/namespaces/default/services', { metadata: { name: 'np-svc' },
      spec: { type: 'NodePort', ports: [{ port: 80 }] } })).body;
    assert.deepEqual([svc.spec.sessionAffinity, svc.spec.ports[0].protocol, svc.spec.ports[0].targetPort, svc.spec.internalTrafficPolicy,
      svc.spec.externalTrafficPolicy], ['None', 'TCP', 80, 'Cluster', 'Cluster']);
    const plain = (await call(base, 'POST', '/api/v1/namespaces/default/services', { metadata: { name: 'plain' }, spec: { ports: [{ port: 81 }] } })).body;
    assert.equal(plain.spec.type, 'ClusterIP');
    assert.equal(plain.spec.externalTrafficPolicy, undefined);
    const np = (await call(base, 'POST', '/apis/networking.k8s.io/v1/namespaces/default/networkpolicies', { metadata: { name: 'eg' },
      spec: { podSelector: {}, egress: [{ ports: [{ port: 53 }] }] } })).body;
    assert.deepEqual(np.spec.policyTypes, ['Ingress', 'Egress']);
    assert.equal(np.spec.egress[0].ports[0].protocol, 'TCP');
    const ingressOnly = (await call(base, 'POST', '/apis/networking.k8s.io/v1/namespaces/default/networkpolicies', { metadata: { name: 'in' }, spec: {} })).body;
    assert.deepEqual(ingressOnly.spec.policyTypes, ['Ingress']);
    const ns = (await call(base, 'POST', '/api/v1/namespaces', { metadata: { name: 'team-a' } })).body;
    assert.equal(ns.metadata.labels['kubernetes.io/metadata.name'], 'team-a');
    assert.equal(ns.status.phase, 'Active');
  });

  it('paginates lists with limit/continue and filters by label and field selectors', async () => {
    await call(base, 'POST', '/api/v1/namespaces', { metadata: { name: 'pages' } });
    for (let i = 0; i < 5; i++) {
      await call(base, 'POST', '/api/v1/namespaces/pages/pods', pod(`q${i}`, { tier: i % 2 ? 'odd' : 'even', ...(i === 4 ? { canary: '' } : {}) }, { nodeName: `node-${i % 2}` }));
    }
    const names: string[] = [];
    let token = '';
    let pages = 0;
    do {
      const page = await call(base, 'GET', `/api/v1/namespaces/pages/pods?limit=2${token ? `&continue=${token}` : ''}`);
      names.push(...page.body.items.map((p: any) => p.metadata.name));
      token = page.body.metadata.continue ?? '';
      pages++;
    } while (token);
    assert.deepEqual([names, pages], [['q0', 'q1', 'q2', 'q3', 'q4'], 3]);
    const select = async (query: string): Promise<string[]> =>
      (await call(base, 'GET', `/api/v1/namespaces/pages/pods?${query}`)).body.items.map((p: any) => p.metadata.name);
    assert.deepEqual(await select('labelSelector=tier%3Dodd'), ['q1', 'q3']);
    assert.deepEqual(await select('labelSelector=tier%20in%20(odd%2Ceven)%2C!canary'), ['q0', 'q1', 'q2', 'q3']);
    assert.deepEqual(await select('labelSelector=tier%20notin%20(odd)%2Ccanary'), ['q4']);
    assert.deepEqual(await select('labelSelector=tier!%3Deven'), ['q1', 'q3']);
    assert.deepEqual(await select('fieldSelector=spec.nodeName%3Dnode-1'), ['q1', 'q3']);
    assert.deepEqual(await select('fieldSelector=metadata.name%3D%3Dq2'), ['q2']);
    assert.deepEqual(await select('fieldSelector=status.phase!%3DPending'), []);
  });

  it('applies merge, strategic-merge and JSON patches, including to status', async () => {
    await call(base, 'POST', '/api/v1/namespaces/default/pods', pod('patchme', { a: '1' },
      { containers: [{ name: 'c', image: 'x', ports: [{ containerPort: 80 }] }, { name: 'd', image: 'y' }] }));
    const path = '/api/v1/namespaces/default/pods/patchme';
    const merged = await call(base, 'PATCH', path, { metadata: { labels: { a: null, b: '2' } } }, 'application/merge-patch+json');
    assert.deepEqual(merged.body.metadata.labels, { b: '2' });
    const strategic = await call(base, 'PATCH', path, { spec: { containers: [{ name: 'd', image: 'z' }] } }, 'application/strategic-merge-patch+json');
    assert.deepEqual(strategic.body.spec.containers.map((c: any) => `${c.name}=${c.image}`), ['c=x', 'd=z']);
    const json = await call(base, 'PATCH', path, [{ op: 'add', path: '/metadata/annotations', value: { k: 'v' } }, { op: 'test', path: '/spec/containers/0/name', value: 'c' }], 'application/json-patch+json');
    assert.deepEqual(json.body.metadata.annotations, { k: 'v' });
    const failedTest = await call(base, 'PATCH', path, [{ op: 'test', path: '/spec/containers/0/name', value: 'nope' }], 'application/json-patch+json');
    assert.equal(failedTest.status, 422);
    const status = await call(base, 'PATCH', `${path}/status`, { status: { podIP: '198.18.0.5', conditions: [{ type: 'Ready', status: 'True' }] } }, 'application/merge-patch+json');
    assert.equal(status.body.status.podIP, '198.18.0.5');
    const staleRv = await call(base, 'PATCH', path, { metadata: { resourceVersion: '1', labels: { c: '3' } } }, 'application/merge-patch+json');
    assert.equal(staleRv.status, 409);
    const noManager = await call(base, 'PATCH', path, {}, 'application/apply-patch+yaml');
    assert.equal(noManager.status, 422, 'server-side apply needs a fieldManager');
    const unsupported = await call(base, 'PATCH', path, {}, 'application/cbor');
    assert.equal(unsupported.status, 415);
  });

  it('serves discovery documents kubectl relies on', async () => {
    assert.equal((await call(base, 'GET', '/version')).body.minor, '30');
    const core = (await call(base, 'GET', '/api/v1')).body;
    const pods = core.resources.find((r: any) => r.name === 'pods');
    assert.deepEqual([pods.kind, pods.namespaced, pods.shortNames], ['Pod', true, ['po']]);
    assert.ok(core.resources.some((r: any) => r.name === 'pods/status'));
    const groups = (await call(base, 'GET', '/apis')).body.groups.map((g: any) => g.name);
    for (const g of ['discovery.k8s.io', 'networking.k8s.io', 'coordination.k8s.io', 'events.k8s.io']) assert.ok(groups.includes(g), g);
    const netpol = (await call(base, 'GET', '/apis/networking.k8s.io/v1')).body.resources[0];
    assert.deepEqual([netpol.name, netpol.shortNames], ['networkpolicies', ['netpol']]);
  });
});
