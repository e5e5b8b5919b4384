// KubeClient request shapes and results: verbs, paths, patch content types, and Kubernetes Status
// failures turned into typed ApiError values.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { KubeClient, resourcePath } from '../../../src/kube/client.ts';
import { FakeApiServer, sendJson, status, type SeenRequest } from './fake-apiserver.ts';

let server: FakeApiServer;
let client: KubeClient;
let last: SeenRequest | undefined;

before(async () => {
  server = await FakeApiServer.start();
  server.extra = (req, res) => {
    last = req;
    if (req.path.endsWith('/missing')) sendJson(res, 404, status(404, 'NotFound', 'services "missing" not found'));
    else if (req.path.endsWith('/conflict')) sendJson(res, 409, status(409, 'Conflict', 'the object has been modified'));
    else if (req.path.endsWith('/html')) {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html>bad gateway</html>');
    } else sendJson(res, 200, { kind: 'Service', metadata: { name: 'web', namespace: 'ns' }, echo: req.body ? JSON.parse(req.body) : null });
    return true;
  };
  client = new KubeClient({ server: server.url, insecureSkipTlsVerify: false, source: 'test' });
});

after(async () => {
  await client.close();
  await server.close();
});

test('resourcePath builds core, group, namespaced, named and subresource paths', () => {
  assert.equal(resourcePath('v1', 'nodes'), '/api/v1/nodes');
  assert.equal(resourcePath('v1', 'services', 'ns', 'web', 'status'), '/api/v1/namespaces/ns/services/web/status');
  assert.equal(resourcePath('coordination.k8s.io/v1', 'leases', 'kube-system', 'lb'), '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/lb');
});

test('each verb sends the right method, path and content type, and returns the decoded object', async () => {
  const svc = resourcePath('v1', 'services', 'ns', 'web');
  const calls: Array<[string, () => Promise<{ ok: boolean }>, string, string | undefined]> = [
    ['GET', () => client.get(svc), svc, undefined],
    ['POST', () => client.create(resourcePath('v1', 'services', 'ns'), { metadata: { name: 'web' } }), '/api/v1/namespaces/ns/services', 'application/json'],
    ['PUT', () => client.update(svc, { metadata: { name: 'web' } }), svc, 'application/json'],
    ['PUT', () => client.updateStatus(svc, { status: {} }), `${svc}/status`, 'application/json'],
    ['PATCH', () => client.patch(svc, { metadata: { labels: { a: 'b' } } }), svc, 'application/merge-patch+json'],
    ['PATCH', () => client.patch(svc, { spec: { ports: [] } }, 'strategic'), svc, 'application/strategic-merge-patch+json'],
    ['DELETE', () => client.delete(svc), svc, undefined],
  ];
  for (const [method, call, path, contentType] of calls) {
    const res = await call();
    assert.ok(res.ok, `${method} ${path}`);
    assert.equal(last?.method, method);
    assert.equal(last?.path, path);
    assert.equal(last?.headers['content-type'], contentType);
    assert.equal(last?.headers.accept, 'application/json');
  }
  const patched = await client.patch<{ echo: unknown }>(svc, { metadata: { labels: { a: 'b' } } });
  assert.ok(patched.ok);
  assert.deepEqual(patched.value.echo, { metadata: { labels: { a: 'b' } } });
});

test('a Kubernetes Status failure becomes an ApiError with its code, reason and message', async () => {
  const missing = await client.get(resourcePath('v1', 'services', 'ns', 'missing'));
  assert.deepEqual(missing, { ok: false, error: { code: 404, reason: 'NotFound', message: 'services "missing" not found' } });
  const conflict = await client.update(resourcePath('v1', 'services', 'ns', 'conflict'), {});
  assert.ok(!conflict.ok && conflict.error.code === 409 && conflict.error.reason === 'Conflict');
  const html = await client.get('/html');
  assert.ok(!html.ok && html.error.code === 502 && html.error.message.includes('bad gateway'));
});

test('an unreachable server is an ApiError with code 0, not an exception', async () => {
  const dead = new KubeClient({ server: 'http://127.0.0.1:1', insecureSkipTlsVerify: false, source: 'test' });
  const res = await dead.get('/api/v1/nodes');
  await dead.close();
  assert.ok(!res.ok);
  assert.equal(res.error.code, 0);
  assert.equal(res.error.reason, 'ConnectionError');
});
