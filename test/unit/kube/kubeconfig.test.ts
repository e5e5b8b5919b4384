// Kubeconfig and in-cluster loading, proven by connecting: mutual TLS against a server that requires
// client certificates, CA and server-name checks, bearer/basic credentials, contexts, --master and token rotation.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { stringify } from 'yaml';
import { KubeClient } from '../../../src/kube/client.ts';
import { type ClientConfig, type LoadOptions, loadClientConfig } from '../../../src/kube/kubeconfig.ts';
import { makeTestPki, startHttps, type TestHttpsServer, type TestPki } from './certs.ts';
import { FakeApiServer, sendJson, status } from './fake-apiserver.ts';

let pki: TestPki;
let mtls: TestHttpsServer;
let tls: TestHttpsServer;
let tlsByName: TestHttpsServer;
let plain: FakeApiServer;
let dir: string;

before(async () => {
  pki = makeTestPki();
  mtls = await startHttps({ cert: pki.serverIpCert, key: pki.serverIpKey, ca: pki.caCert, requireClientCert: true });
  tls = await startHttps({ cert: pki.serverIpCert, key: pki.serverIpKey, ca: pki.caCert, requireClientCert: false });
  tlsByName = await startHttps({ cert: pki.serverDnsCert, key: pki.serverDnsKey, ca: pki.caCert, requireClientCert: false });
  plain = await FakeApiServer.start();
  // The plain server accepts only the token in `validToken` (a rotation test changes it).
  plain.extra = (req, res) => {
    const ok = req.headers.authorization === `Bearer ${validToken}` || !req.headers.authorization?.startsWith('Bearer ');
    sendJson(res, ok ? 200 : 401, ok ? { kind: 'Namespace', metadata: { name: 'default' } } : status(401, 'Unauthorized'));
    return true;
  };
  dir = mkdtempSync(join(tmpdir(), 'kubeconfig-'));
});

after(async () => {
  await Promise.all([mtls.close(), tls.close(), tlsByName.close(), plain.close()]);
  pki.remove();
  rmSync(dir, { recursive: true, force: true });
});

let validToken = 'token-1';
let fileCount = 0;

function writeKubeconfig(doc: object): string {
  const path = join(dir, `config-${fileCount++}`);
  writeFileSync(path, stringify(doc));
  return path;
}

function simpleKubeconfig(cluster: object, user: object, extra: object = {}): string {
  return writeKubeconfig({
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': 'main',
    contexts: [{ name: 'main', context: { cluster: 'c', user: 'u', namespace: 'kube-system' } }],
    clusters: [{ name: 'c', cluster }],
    users: [{ name: 'u', user }],
    ...extra,
  });
}

function load(opts: LoadOptions): ClientConfig {
  const loaded = loadClientConfig(opts);
  if (!loaded.ok) assert.fail(loaded.error);
  return loaded.value;
}

async function fetchDefault(config: ClientConfig) {
  const client = new KubeClient(config, { version: '9.9.9' });
  try {
    return await client.get<{ metadata: { name: string } }>('/api/v1/namespaces/default');
  } finally {
    await client.close();
  }
}

const b64 = (path: string) => readFileSync(path).toString('base64');

test('client certificate and CA files (paths relative to the kubeconfig) authenticate to a server that requires client certs', async () => {
  const path = simpleKubeconfig(
    { server: mtls.url, 'certificate-authority': relative(dir, pki.caCert) },
    { 'client-certificate': pki.clientCert, 'client-key': pki.clientKey },
  );
  const config = load({ kubeconfigPath: path });
  assert.equal(config.namespace, 'kube-system');
  const res = await fetchDefault(config);
  assert.ok(res.ok, JSON.stringify(res));
  assert.equal(res.value.metadata.name, 'kube-router-test');
});

test('without a client certificate the mutual-TLS server refuses the connection', async () => {
  const config = load({ kubeconfigPath: simpleKubeconfig({ server: mtls.url, 'certificate-authority-data': b64(pki.caCert) }, { token: 'x' }) });
  const res = await fetchDefault(config);
  assert.ok(!res.ok);
  assert.equal(res.error.code, 0);
});

test('an untrusted server certificate is refused unless insecure-skip-tls-verify is set', async () => {
  const user = { 'client-certificate-data': b64(pki.clientCert), 'client-key-data': b64(pki.clientKey) };
  const strict = await fetchDefault(load({ kubeconfigPath: simpleKubeconfig({ server: mtls.url }, user) }));
  assert.ok(!strict.ok);
  const insecure = await fetchDefault(load({ kubeconfigPath: simpleKubeconfig({ server: mtls.url, 'insecure-skip-tls-verify': true }, user) }));
  assert.ok(insecure.ok, JSON.stringify(insecure));
  assert.equal(insecure.value.metadata.name, 'kube-router-test');
});

test('tls-server-name checks the server certificate against that name instead of the URL host', async () => {
  const cluster = { server: tlsByName.url, 'certificate-authority-data': b64(pki.caCert) };
  const byHost = await fetchDefault(load({ kubeconfigPath: simpleKubeconfig(cluster, { token: 't' }) }));
  assert.ok(!byHost.ok, 'the certificate does not name 127.0.0.1');
  const byName = await fetchDefault(load({ kubeconfigPath: simpleKubeconfig({ ...cluster, 'tls-server-name': 'kube.test' }, { token: 't' }) }));
  assert.ok(byName.ok, JSON.stringify(byName));
});

test('a static token, a token file and basic auth are sent as Authorization with the kube-router User-Agent', async () => {
  writeFileSync(join(dir, 'user-token'), 'from-file\n');
  const before = plain.requests.length;
  for (const user of [{ token: 'token-1' }, { tokenFile: 'user-token' }, { username: 'admin', password: 's3cret' }]) {
    validToken = 'token-1';
    if ('tokenFile' in user) validToken = 'from-file';
    const res = await fetchDefault(load({ kubeconfigPath: simpleKubeconfig({ server: plain.url }, user) }));
    assert.ok(res.ok, JSON.stringify(res));
  }
  const seen = plain.requests.slice(before);
  assert.deepEqual(
    seen.map((r) => r.headers.authorization),
    ['Bearer token-1', 'Bearer from-file', `Basic ${Buffer.from('admin:s3cret').toString('base64')}`],
  );
  assert.ok(seen.every((r) => r.headers['user-agent'] === 'kube-router/9.9.9'));
});

test('the current-context is used unless a context is named; unknown names and exec users are clear errors', () => {
  const path = writeKubeconfig({
    'current-context': 'one',
    contexts: [
      { name: 'one', context: { cluster: 'c1', user: 'u1' } },
      { name: 'two', context: { cluster: 'c2', user: 'u2' } },
      { name: 'three', context: { cluster: 'c1', user: 'u3' } },
    ],
    clusters: [
      { name: 'c1', cluster: { server: 'https://198.51.100.1:6443' } },
      { name: 'c2', cluster: { server: 'https://198.51.100.2:6443/' } },
    ],
    users: [
      { name: 'u1', user: { token: 'one' } },
      { name: 'u2', user: { token: 'two' } },
      { name: 'u3', user: { exec: { command: 'aws' } } },
    ],
  });
  const one = load({ kubeconfigPath: path });
  assert.equal(one.server, 'https://198.51.100.1:6443');
  assert.equal(one.token?.current(), 'one');
  const two = load({ kubeconfigPath: path, context: 'two' });
  assert.equal(two.server, 'https://198.51.100.2:6443');
  assert.equal(two.token?.current(), 'two');
  const missing = loadClientConfig({ kubeconfigPath: path, context: 'nope' });
  assert.ok(!missing.ok && missing.error.includes('"nope"') && missing.error.includes(path));
  const exec = loadClientConfig({ kubeconfigPath: path, context: 'three' });
  assert.ok(!exec.ok && exec.error.includes('"u3"') && exec.error.includes('exec'));
  const absent = loadClientConfig({ kubeconfigPath: join(dir, 'absent') });
  assert.ok(!absent.ok && absent.error.includes(join(dir, 'absent')) && absent.error.includes('ENOENT'));
});

test('--master overrides the kubeconfig server', () => {
  const path = simpleKubeconfig({ server: 'https://198.51.100.1:6443' }, { token: 't' });
  assert.equal(load({ kubeconfigPath: path, master: 'https://198.51.100.9:443' }).server, 'https://198.51.100.9:443');
  assert.equal(load({ kubeconfigPath: path, master: '198.51.100.9:6443' }).server, 'https://198.51.100.9:6443');
});

function inClusterDir(token: string): string {
  const sa = mkdtempSync(join(dir, 'sa-'));
  writeFileSync(join(sa, 'token'), token);
  writeFileSync(join(sa, 'ca.crt'), readFileSync(pki.caCert));
  writeFileSync(join(sa, 'namespace'), 'kube-system');
  return sa;
}

test('in-cluster config uses the service host, the service-account token, CA and namespace', async () => {
  const sa = inClusterDir('sa-token');
  const port = new URL(tls.url).port;
  const config = load({ inClusterDir: sa, env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: port } });
  assert.equal(config.namespace, 'kube-system');
  const res = await fetchDefault(config);
  assert.ok(res.ok, JSON.stringify(res));
  assert.equal(tls.seen.at(-1)?.authorization, 'Bearer sa-token');
  const v6 = load({ inClusterDir: sa, env: { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' } });
  assert.equal(v6.server, 'https://[fd00::1]:443');
  const outside = loadClientConfig({ inClusterDir: sa, env: {} });
  assert.ok(!outside.ok && outside.error.includes('KUBERNETES_SERVICE_HOST'));
});

test('a rotated in-cluster token is picked up at once after a 401, and by the periodic mtime check', async () => {
  const sa = inClusterDir('token-1');
  validToken = 'token-1';
  const env = { KUBERNETES_SERVICE_HOST: '198.51.100.7', KUBERNETES_SERVICE_PORT: '443' };
  // --master alone: the in-cluster credentials, sent to the overridden host.
  const slow = load({ inClusterDir: sa, env, master: plain.url });
  assert.equal(slow.server, plain.url);
  const client = new KubeClient(slow);
  const fast = new KubeClient(load({ inClusterDir: sa, env, master: plain.url, tokenRecheckMs: 0 }));
  try {
    assert.ok((await client.get('/api/v1/namespaces/default')).ok);
    const rotate = (token: string, mtimeSec: number) => {
      writeFileSync(join(sa, 'token'), token);
      utimesSync(join(sa, 'token'), mtimeSec, mtimeSec);
    };
    rotate('token-2', 2_000_000_000);
    validToken = 'token-2';
    const before = plain.requests.length;
    assert.ok((await client.get('/api/v1/namespaces/default')).ok, 'retried with the re-read token');
    assert.deepEqual(plain.requests.slice(before).map((r) => r.headers.authorization), ['Bearer token-1', 'Bearer token-2']);
    rotate('token-3', 2_000_000_100);
    validToken = 'token-3';
    const mark = plain.requests.length;
    assert.ok((await fast.get('/api/v1/namespaces/default')).ok);
    assert.deepEqual(plain.requests.slice(mark).map((r) => r.headers.authorization), ['Bearer token-3'], 'no 401 needed');
  } finally {
    await client.close();
    await fast.close();
  }
});

test('an exec credential plugin supplies the token, is run again after a 401 and before expiry; a failing or interactive one is a clear error', async () => {
  // The plugin prints token exec-<n>, n counting its runs, with an expiry `ttl` seconds ahead (file "ttl").
  const plugins = mkdtempSync(join(dir, 'exec-'));
  const script = join(plugins, 'get-token');
  writeFileSync(join(plugins, 'ttl'), '3600');
  writeFileSync(script, `#!/bin/sh
set -e
cd "$(dirname "$0")"
n=$(( $(cat runs 2>/dev/null || echo 0) + 1 )); echo $n > runs
[ "$MODE" = fail ] && { echo "no credentials for you" >&2; exit 3; }
case "$KUBERNETES_EXEC_INFO" in *'"interactive":false'*) ;; *) echo "no exec info" >&2; exit 4;; esac
exp=$(date -u -d "@$(( $(date +%s) + $(cat ttl) ))" +%Y-%m-%dT%H:%M:%SZ)
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"exec-%s","expirationTimestamp":"%s"}}' "$n" "$exp"
`, { mode: 0o755 });
  const user = (extra: object = {}) => ({ exec: { apiVersion: 'client.authentication.k8s.io/v1', command: './exec-' + script.split('/exec-')[1], args: [], env: [{ name: 'MODE', value: 'ok' }], ...extra } });
  const config = load({ kubeconfigPath: simpleKubeconfig({ server: plain.url }, user()) });
  const client = new KubeClient(config);
  try {
    validToken = 'exec-2';
    const before = plain.requests.length;
    assert.ok((await client.get('/api/v1/namespaces/default')).ok, 'a 401 runs the plugin again and the request is retried');
    assert.deepEqual(plain.requests.slice(before).map((r) => r.headers.authorization), ['Bearer exec-1', 'Bearer exec-2']);
    // A token about to expire is replaced before it is sent.
    writeFileSync(join(plugins, 'ttl'), '5');
    assert.equal(config.token?.refreshNow(), true);
    validToken = 'exec-4';
    const mark = plain.requests.length;
    assert.ok((await client.get('/api/v1/namespaces/default')).ok);
    assert.deepEqual(plain.requests.slice(mark).map((r) => r.headers.authorization), ['Bearer exec-4'], 'no 401 needed');
  } finally {
    await client.close();
    validToken = 'token-1';
  }
  const failing = loadClientConfig({ kubeconfigPath: simpleKubeconfig({ server: plain.url }, user({ env: [{ name: 'MODE', value: 'fail' }] })) });
  assert.ok(!failing.ok && failing.error.includes('no credentials for you'), failing.ok ? '' : failing.error);
  const interactive = loadClientConfig({ kubeconfigPath: simpleKubeconfig({ server: plain.url }, user({ interactiveMode: 'Always' })) });
  assert.ok(!interactive.ok && interactive.error.includes('interactive'));
  const authProvider = loadClientConfig({ kubeconfigPath: simpleKubeconfig({ server: plain.url }, { 'auth-provider': { name: 'gcp' } }) });
  assert.ok(!authProvider.ok && authProvider.error.includes('auth-provider'));
});
