// A controller that cannot start ends the daemon with exit code 1 and a fatal log line, after the caches synced
// and the health server was up: it must not live on with a /healthz that still answers (in a DaemonSet the pod
// would look Ready while doing nothing). The failure used is the service proxy's on a kernel without IPVS.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { call, startTestServer, type TestServer } from '../lab-apiserver/helpers.ts';

const bin = new URL('../../../bin/kube-router.js', import.meta.url).pathname;
const built = existsSync(new URL('../../../dist/src/cli/main.js', import.meta.url));
const skip = !built ? 'run `npm run build` first' : existsSync('/proc/net/ip_vs') ? 'needs a kernel without IPVS (the proxy start-up failure is the one used)' : false;

let server: TestServer;
before(async () => {
  if (skip) return;
  server = await startTestServer();
  const node = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' },
    status: { addresses: [{ type: 'InternalIP', address: '198.51.100.11' }] }, spec: { podCIDR: '198.18.0.0/24' } };
  assert.equal((await call(server.url, 'POST', '/api/v1/nodes', node)).status, 201);
});
after(async () => { await server?.close(); });

test('a controller failing at start-up ends the daemon with exit code 1', { skip, timeout: 60_000 }, async () => {
  const kubeconfig = join(server.dir, 'kubeconfig');
  writeFileSync(kubeconfig, JSON.stringify({ apiVersion: 'v1', kind: 'Config', 'current-context': 'lab',
    clusters: [{ name: 'lab', cluster: { server: server.url } }], users: [{ name: 'u', user: {} }],
    contexts: [{ name: 'lab', context: { cluster: 'lab', user: 'u' } }] }));
  const child = spawn(process.execPath, [bin, '--kubeconfig', kubeconfig, '--hostname-override', 'n1', '--run-router=false',
    '--run-firewall=false', '--run-service-proxy=true', '--health-port=0'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, KUBE_ROUTER_LOG_LEVEL: 'info' } });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])));
  clearTimeout(timer);
  assert.equal(signal, null, `kube-router exited by itself (it was killed after 30 s): ${stderr.slice(-600)}`);
  assert.equal(code, 1);
  assert.match(stderr, /starting kube-router/, 'it got as far as starting the controllers');
});
