// Server wiring: several HTTPS listeners with certificates valid for each, the kubeconfig file, the kubernetes Service, dry-run.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { Agent } from 'undici';
import { call, startTestServer, type TestServer } from './helpers.ts';

describe('lab apiserver server wiring', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ plainHttp: false, token: 'test-token', listen: ['127.0.0.1:0', '127.0.0.2:0'],
      advertiseAddress: '198.51.100.1', controllers: { serviceCidrs: ['198.51.100.128/25'] } });
  });
  after(async () => { await server.close(); });

  it('writes a kubeconfig with the server URL, CA data and token', async () => {
    const config = parse(await readFile(server.kubeconfigPath, 'utf8')) as {
      clusters: { cluster: { server: string; 'certificate-authority-data': string } }[]; users: { user: { token: string } }[]; 'current-context': string };
    assert.equal(config.clusters[0]?.cluster.server, server.url);
    assert.equal(Buffer.from(config.clusters[0]?.cluster['certificate-authority-data'] ?? '', 'base64').toString(), await readFile(server.caPath ?? '', 'utf8'));
    assert.equal(config.users[0]?.user.token, 'test-token');
    assert.equal(config['current-context'], 'lab');
  });

  it('every listener serves HTTPS with a certificate valid for its address', async () => {
    assert.equal(server.urls.length, 2);
    const dispatcher = new Agent({ connect: { ca: await readFile(server.caPath ?? '', 'utf8') } });
    try {
      for (const url of server.urls) {
        const response = await fetch(`${url}/api/v1/namespaces/default`, { dispatcher, headers: { Authorization: 'Bearer test-token' } } as RequestInit);
        assert.equal(response.status, 200, url);
        const wrong = await fetch(`${url}/api/v1/namespaces/default`, { dispatcher, headers: { Authorization: 'Bearer nope' } } as RequestInit);
        assert.equal(wrong.status, 401);
      }
    } finally { await dispatcher.close(); }
  });

  it('publishes default/kubernetes on the first service IP with an EndpointSlice to the advertised address', () => {
    const svc = server.store.get(server.store.type('', 'services'), 'default', 'kubernetes');
    assert.ok(svc.ok);
    assert.equal((svc.value['spec'] as { clusterIP: string }).clusterIP, '198.51.100.129');
    const slice = server.store.get(server.store.type('discovery.k8s.io', 'endpointslices'), 'default', 'kubernetes');
    assert.ok(slice.ok);
    assert.deepEqual((slice.value['endpoints'] as { addresses: string[] }[])[0]?.addresses, ['198.51.100.1']);
    assert.deepEqual((slice.value['ports'] as { port: number }[])[0]?.port, Number(new URL(server.url).port));
  });
});

describe('lab apiserver dry-run', () => {
  it('dryRun=All validates and answers but stores nothing', async () => {
    const server = await startTestServer({ controllers: false });
    try {
      const created = await call(server.url, 'POST', '/api/v1/namespaces/default/services?dryRun=All', { metadata: { name: 'dry' }, spec: { ports: [{ port: 80 }] } });
      assert.equal(created.status, 201);
      assert.equal(created.body.spec.sessionAffinity, 'None');
      assert.equal((await call(server.url, 'GET', '/api/v1/namespaces/default/services/dry')).status, 404);
      const invalid = await call(server.url, 'POST', '/api/v1/namespaces/default/services?dryRun=All', { metadata: { name: 'dry' }, spec: {} });
      assert.equal(invalid.status, 422);
      await call(server.url, 'DELETE', '/api/v1/namespaces/default?dryRun=All');
      assert.equal((await call(server.url, 'GET', '/api/v1/namespaces/default')).status, 200);
    } finally { await server.close(); }
  });
});

describe('lab apiserver client-certificate auth', () => {
  it('accepts a client certificate from the kubeconfig and rejects requests without one', async () => {
    const server = await startTestServer({ plainHttp: false, token: false, clientCertAuth: true, controllers: false });
    try {
      const config = parse(await readFile(server.kubeconfigPath, 'utf8')) as { users: { user: Record<string, string> }[] };
      const user = config.users[0]?.user ?? {};
      assert.equal(user['token'], undefined);
      const decode = (field: string): string => Buffer.from(user[field] ?? '', 'base64').toString();
      const ca = await readFile(server.caPath ?? '', 'utf8');
      const withCert = new Agent({ connect: { ca, cert: decode('client-certificate-data'), key: decode('client-key-data') } });
      const without = new Agent({ connect: { ca } });
      try {
        assert.equal((await fetch(`${server.url}/api/v1/namespaces`, { dispatcher: withCert } as RequestInit)).status, 200);
        assert.equal((await fetch(`${server.url}/api/v1/namespaces`, { dispatcher: without } as RequestInit)).status, 401);
        assert.equal((await fetch(`${server.url}/version`, { dispatcher: without } as RequestInit)).status, 200);
      } finally { await withCert.close(); await without.close(); }
    } finally { await server.close(); }
  });
});
