// The real kubectl (Google Cloud SDK dispatcher -> kubectl 1.30) against the lab API server over HTTPS with a bearer token.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Agent } from 'undici';
import { startTestServer, type TestServer } from './helpers.ts';

const KUBECTL = '/usr/bin/kubectl';
const skip = existsSync(KUBECTL) ? false : 'no /usr/bin/kubectl';

interface Run { code: number; stdout: string; stderr: string }

describe('real kubectl against the lab apiserver', { skip }, () => {
  let server: TestServer;
  let env: NodeJS.ProcessEnv;
  const kubectl = (args: string[], input?: string): Promise<Run> => new Promise((resolve) => {
    const child = execFile(KUBECTL, args, { env, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as NodeJS.ErrnoException).code ?? 1) || 1 : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
  const ok = async (args: string[], input?: string): Promise<string> => {
    const run = await kubectl(args, input);
    assert.equal(run.code, 0, `kubectl ${args.join(' ')} failed: ${run.stderr}`);
    return run.stdout;
  };
  const manifest = (file: string, text: string): Promise<string> => writeFile(join(server.dir, file), text).then(() => join(server.dir, file));

  before(async () => {
    server = await startTestServer({ plainHttp: false, token: undefined });
    env = { PATH: process.env['PATH'], HOME: join(server.dir, 'home'), KUBECONFIG: server.kubeconfigPath };
  });
  after(async () => { await server.close(); });

  it('the kubeconfig carries the CA and token: TLS verifies, and requests without the token are 401', async () => {
    const ca = await readFile(server.caPath ?? '', 'utf8');
    const dispatcher = new Agent({ connect: { ca } });
    const anonymous = await fetch(`${server.url}/api/v1/namespaces`, { dispatcher } as RequestInit);
    assert.equal(anonymous.status, 401);
    const authed = await fetch(`${server.url}/api/v1/namespaces`, { dispatcher, headers: { Authorization: `Bearer ${server.token}` } } as RequestInit);
    assert.equal(authed.status, 200);
    await dispatcher.close();
    assert.match(await ok(['version']), /Server Version: v1\.30\.\d+/);
    assert.match(await ok(['get', 'namespaces']), /kube-system\s+Active/);
  });

  it('create -f, get -o wide/yaml/json and describe show the objects', async () => {
    const file = await manifest('node.yaml', [
      'apiVersion: v1', 'kind: Node', 'metadata: {name: node-1, labels: {node-role.kubernetes.io/worker: ""}}',
      'status: {addresses: [{type: InternalIP, address: 198.51.100.11}], conditions: [{type: Ready, status: "True"}], nodeInfo: {kubeletVersion: v1.30.6}}',
      '---', 'apiVersion: v1', 'kind: Pod', 'metadata: {name: web-1, labels: {app: web}}',
      'spec: {nodeName: node-1, containers: [{name: c, image: busybox, ports: [{name: http, containerPort: 8080}]}]}',
    ].join('\n'));
    assert.match(await ok(['create', '-f', file]), /node\/node-1 created\s+pod\/web-1 created/);
    const nodes = await ok(['get', 'nodes', '-o', 'wide']);
    assert.match(nodes, /^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION\s+INTERNAL-IP/);
    assert.match(nodes, /node-1\s+Ready\s+worker\s+\S+\s+v1\.30\.6\s+198\.51\.100\.11/);
    const pods = await ok(['get', 'pods', '-o', 'wide']);
    assert.match(pods, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE/);
    assert.match(pods, /web-1\s+0\/1\s+Pending\s+0\s+\S+\s+<none>\s+node-1/);
    assert.match(await ok(['get', 'pod', 'web-1', '-o', 'yaml']), /terminationGracePeriodSeconds: 30/);
    const json = JSON.parse(await ok(['get', 'node', 'node-1', '-o', 'json'])) as { spec: { podCIDR: string } };
    assert.equal(json.spec.podCIDR, '198.18.0.0/24');
    const described = await ok(['describe', 'pod', 'web-1']);
    assert.match(described, /Node:\s+node-1/);
    assert.match(described, /Port:\s+8080\/TCP/);
  });

  it('apply -f creates, then updates with a three-way merge (removed fields go away)', async () => {
    const svc = (labels: string, port: string): string => ['apiVersion: v1', 'kind: Service',
      `metadata: {name: web, labels: {${labels}}}`, `spec: {selector: {app: web}, ports: [${port}]}`].join('\n');
    const file = await manifest('svc.yaml', svc('a: "1", b: "2"', '{name: http, port: 80, targetPort: http}'));
    assert.match(await ok(['apply', '-f', file]), /service\/web created/);
    await writeFile(file, svc('a: "1"', '{name: http, port: 80, targetPort: http}, {name: tls, port: 443}'));
    const second = await kubectl(['apply', '-f', file]);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /service\/web configured/);
    const applied = JSON.parse(await ok(['get', 'svc', 'web', '-o', 'json'])) as { metadata: { labels: Record<string, string> }; spec: { clusterIP: string; ports: { name: string }[] } };
    assert.deepEqual(applied.metadata.labels, { a: '1' });
    assert.deepEqual(applied.spec.ports.map((p) => p.name), ['http', 'tls']);
    assert.match(applied.spec.clusterIP, /^198\.19\.0\.\d+$/);
    const services = await ok(['get', 'svc', '-o', 'wide']);
    assert.match(services, /web\s+ClusterIP\s+198\.19\.0\.\d+\s+<none>\s+80\/TCP,443\/TCP\s+\S+\s+app=web/);
  });

  it('a status patch makes the pod an endpoint: EndpointSlice with the named targetPort resolved, describe shows it', async () => {
    await ok(['patch', 'pod', 'web-1', '--subresource=status', '--type=merge', '-p',
      '{"status":{"phase":"Running","podIP":"198.18.0.2","podIPs":[{"ip":"198.18.0.2"}],"conditions":[{"type":"Ready","status":"True"}]}}']);
    let slices = '';
    for (let i = 0; i < 20 && !/198\.18\.0\.2/.test(slices); i++) slices = await ok(['get', 'endpointslices', '-l', 'kubernetes.io/service-name=web']);
    assert.match(slices, /web-\w+\s+IPv4\s+(8080,443|443,8080)\s+198\.18\.0\.2/);
    assert.match(await ok(['describe', 'node', 'node-1']), /PodCIDR:\s+198\.18\.0\.0\/24/);
    assert.match(await ok(['describe', 'svc', 'web']), /IP:\s+198\.19\.0\.\d+/);
  });

  it('label, annotate and patch (merge and strategic) change the object', async () => {
    assert.match(await ok(['label', 'pod', 'web-1', 'tier=front']), /labeled/);
    assert.match(await ok(['annotate', 'pod', 'web-1', 'note=hello']), /annotated/);
    await ok(['patch', 'pod', 'web-1', '--type', 'merge', '-p', '{"metadata":{"labels":{"tier":null,"zone":"z1"}}}']);
    await ok(['patch', 'pod', 'web-1', '-p', '{"spec":{"containers":[{"name":"c","image":"busybox:1.36"}]}}']);
    const patched = JSON.parse(await ok(['get', 'pod', 'web-1', '-o', 'json'])) as { metadata: { labels: Record<string, string>; annotations: Record<string, string> }; spec: { containers: { image: string; ports: unknown[] }[] } };
    assert.deepEqual(patched.metadata.labels, { app: 'web', zone: 'z1' });
    assert.equal(patched.metadata.annotations['note'], 'hello');
    assert.equal(patched.spec.containers[0]?.image, 'busybox:1.36');
    assert.equal(patched.spec.containers[0]?.ports.length, 1);
    const selected = await ok(['get', 'pods', '-l', 'zone in (z1,z2),!tier', '-o', 'name']);
    assert.equal(selected.trim(), 'pod/web-1');
  });

  it('apply --server-side creates and then updates; patch --type=json edits by path', async () => {
    const policy = (labels: string): string => ['apiVersion: networking.k8s.io/v1', 'kind: NetworkPolicy',
      `metadata: {name: ssa, labels: {${labels}}}`, 'spec: {podSelector: {matchLabels: {app: web}}}'].join('\n');
    const file = await manifest('np.yaml', policy('round: "1"'));
    assert.match(await ok(['apply', '--server-side', '-f', file]), /networkpolicy.networking.k8s.io\/ssa serverside-applied/);
    await writeFile(file, policy('round: "2"'));
    assert.match(await ok(['apply', '--server-side', '-f', file]), /serverside-applied/);
    await ok(['patch', 'networkpolicy', 'ssa', '--type=json', '-p', '[{"op":"add","path":"/metadata/labels/extra","value":"x"}]']);
    const applied = JSON.parse(await ok(['get', 'networkpolicy', 'ssa', '-o', 'json'])) as { metadata: { labels: Record<string, string> }; spec: { policyTypes: string[] } };
    assert.deepEqual(applied.metadata.labels, { round: '2', extra: 'x' });
    assert.deepEqual(applied.spec.policyTypes, ['Ingress'], 'defaulted as on create');
    await ok(['delete', 'networkpolicy', 'ssa']);
  });

  it('get -w prints an update made while it watches', async () => {
    const watcher = spawn(KUBECTL, ['get', 'pods', '-w', '--request-timeout=20s'], { env });
    let out = '';
    watcher.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    watcher.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    try {
      const waitFor = async (pattern: RegExp): Promise<void> => {
        for (let i = 0; i < 400 && !pattern.test(out); i++) await new Promise((r) => setTimeout(r, 50));
        assert.match(out, pattern);
      };
      await waitFor(/web-1\s+\d\/1\s+Running/);
      const before = out.split('\n').filter((l) => l.startsWith('web-1')).length;
      await ok(['delete', 'pod', 'web-1', '--wait=false']);
      await waitFor(/web-1\s+\d\/1\s+Terminating/);
      assert.ok(out.split('\n').filter((l) => l.startsWith('web-1')).length > before);
    } finally { watcher.kill(); }
  });

  it('delete removes objects (a pod after its kubelet-style final delete)', async () => {
    await ok(['delete', 'pod', 'web-1', '--grace-period=0', '--force']);
    const gone = await kubectl(['get', 'pod', 'web-1']);
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /NotFound|not found/);
    assert.match(await ok(['delete', 'svc', 'web']), /service "web" deleted/);
  });
});
