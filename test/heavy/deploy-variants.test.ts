// Every variant in deploy/ installed from the image into a lab without kube-router (`up --no-kube-router`, two
// nodes), with only the documented lab-specific edits done here in memory, then `rollout status` and proof that
// each node's kube-router runs from the image and does its job:
// - generic-routing-firewall: pods route across nodes, a NetworkPolicy admits and drops real connections; then a
//   rolling upgrade to a second tag of the same image under continuous probes: no wrong verdict while each
//   node's kube-router is replaced.
// - firewall-only (next to the lab's own bridge + static routes, as next to another CNI): policy verdicts, with
//   the manifest's unprivileged NET_ADMIN/NET_RAW container.
// - advertise-routes-only: an external gobgpd in the lab's external-client namespace (the edit: its address as
//   --peer-router-ips) learns every node's pod CIDR and a Service's ClusterIP.
// - generic-all-features (edit: --master = the lab's API) and kubeadm-all-features (the test creates the
//   kube-system/kube-proxy ConfigMap kubeadm would have, with the lab's address): this host's kernel has no IPVS,
//   so as shipped kube-router refuses to start, saying so (the documented behaviour); with the one further edit
//   --run-service-proxy=false the rest of the manifest (its API address, routing, firewall) is proven as above.
//   The IPVS proxy itself is proven in the VM (make test-proxy), not from the image.
// `make test-deploy` builds the image first. About 5 minutes on the shared 2-core box.
import { after, before, describe, test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { isRoot } from '../helpers/netns.ts';
import { hasKubectl, isReady, until, type PodView } from '../root/lab-cluster/lab-cli.ts';
import { DeployLab, IMAGE, imageUnavailable, variantManifest, type ProbeLine } from '../root/lab-cluster/deploy-lab.ts';
import { assertAnswers, crossNodePairs, policyPairs, WEB_POLICY, workload } from '../root/lab-cluster/deploy-checks.ts';
import { GobgpdSupervisor } from '../../src/bgp/gobgpd-supervisor.ts';
import { connectGobgp, type GobgpSpeaker } from '../../src/bgp/gobgp-client.ts';

const PREFIX = 'krt-dv';
const UPGRADED = 'kube-router:0.1.0-upgrade';
const hasUmoci = spawnSync('umoci', ['--version']).status === 0;
const preconditions = !isRoot ? 'needs root' : !hasKubectl() ? 'needs kubectl' : !hasUmoci ? 'needs umoci' : false;
const skip = preconditions || imageUnavailable();
// One image store for all the labs below: the image is unpacked once.
const images = mkdtempSync(join(tmpdir(), 'krt-dv-images-'));
after(() => rmSync(images, { recursive: true, force: true }));

/** Routing and policy, the proof shared by every variant that routes pods and enforces policy. */
async function routesAndEnforces(lab: DeployLab): Promise<Map<string, string>> {
  const ips = await workload(lab);
  assertAnswers(await lab.untilVerdicts('pods reach each other across nodes', crossNodePairs(ips)), ips);
  lab.kc(['apply', '-f', '-'], WEB_POLICY);
  assertAnswers(await lab.untilVerdicts('the policy enforced', policyPairs(ips)), ips);
  return ips;
}

describe('deploy/generic-routing-firewall.yaml, then a rolling upgrade under probes', { skip }, () => {
  const lab = new DeployLab(PREFIX, 2, images);
  before(() => lab.up([IMAGE, UPGRADED]));
  after(() => lab.close());

  test('routes and enforces; a rolling upgrade keeps every verdict while each node is replaced', async () => {
    const shipped = variantManifest('generic-routing-firewall');
    const pods = lab.applyAndRollOut(shipped);
    lab.assertRunningFromImage(pods);
    const ips = await routesAndEnforces(lab);
    const pairs = policyPairs(ips);

    lab.kc(['apply', '-f', '-'], variantManifest('generic-routing-firewall', [[/image: kube-router:0\.1\.0$/gm, `image: ${UPGRADED}`]]));
    const rollout = spawn('kubectl', ['--kubeconfig', lab.kubeconfig, '-n', 'kube-system', 'rollout', 'status', 'ds/kube-router', '--timeout=300s'], { stdio: 'ignore' });
    const rolled = new Promise<number>((resolve) => rollout.on('close', (code) => resolve(code ?? 1)));
    let done = false;
    void rolled.then(() => { done = true; });
    let probes = 0;
    const wrong: ProbeLine[] = [];
    // Nodes seen without a Ready kube-router between two probe rounds: the rounds covered each node's restart.
    const restarting = new Set<string>();
    while (!done) {
      const lines = await lab.probe(pairs);
      probes += lines.length;
      wrong.push(...lines.filter((l) => l.connected !== l.expect));
      const readyOn = new Set(lab.routerPodsNow().filter(isReady).map((p) => p.spec.nodeName));
      for (let i = 1; i <= lab.nodes; i++) if (!readyOn.has(lab.node(i))) restarting.add(lab.node(i));
    }
    assert.equal(await rolled, 0, 'rollout status succeeded');
    const upgraded = lab.routerPodsNow();
    lab.assertRunningFromImage(upgraded);
    assert.ok(upgraded.every((p) => !pods.some((old) => old.metadata.uid === p.metadata.uid)), 'every kube-router pod was replaced');
    const tags = upgraded.map((p) => (p as PodView & { spec: { containers: Array<{ image: string }> } }).spec.containers[0]!.image);
    assert.deepEqual(tags, tags.map(() => UPGRADED));
    console.log(`upgrade: ${probes} probes during the rollout, ${wrong.length} wrong verdicts; nodes seen restarting: ${[...restarting].join(', ')}`);
    assert.deepEqual(wrong, [], `no wrong verdict during the upgrade (${probes} probes)`);
    assert.deepEqual([...restarting].sort(), [lab.node(1), lab.node(2)], 'probes ran while each node had no Ready kube-router');
  });
});

describe('deploy/firewall-only.yaml next to another pod network', { skip }, () => {
  const lab = new DeployLab(PREFIX, 2, images);
  before(() => lab.up([IMAGE], ['--static-routes']));
  after(() => lab.close());

  test('as shipped (NET_ADMIN and NET_RAW, not privileged): a NetworkPolicy admits and drops real connections', async () => {
    const pods = lab.applyAndRollOut(variantManifest('firewall-only'));
    lab.assertRunningFromImage(pods);
    await routesAndEnforces(lab);
  });
});

describe('deploy/advertise-routes-only.yaml with an external BGP router', { skip }, () => {
  const lab = new DeployLab(PREFIX, 2, images);
  const EXT = '198.51.100.254';
  let routerSup: GobgpdSupervisor | undefined;
  let router: GobgpSpeaker | undefined;
  const learned = new Map<string, string>();
  before(async () => {
    lab.up([IMAGE], ['--static-routes']);
    routerSup = new GobgpdSupervisor({ socketPath: join(lab.dir, 'router.sock'), adminPort: 0, netns: `${PREFIX}-ext` });
    const up = await routerSup.start();
    assert.ok(up.ok, JSON.stringify(up));
    const connected = connectGobgp({ target: routerSup.apiTarget });
    assert.ok(connected.ok);
    router = connected.value;
    const started = await router.start({ asn: 64513, routerId: EXT, listenAddresses: [EXT], listenPort: 179 });
    assert.ok(started.ok, JSON.stringify(started));
    for (const i of [1, 2]) {
      const added = await router.addPeer({ neighborAddress: `198.51.100.${10 + i}`, peerAsn: 64512, families: ['ipv4'], holdTimeSec: 9, keepaliveSec: 3, connectRetrySec: 1 });
      assert.ok(added.ok, JSON.stringify(added));
    }
    router.watch({ onBestPath: (e) => { if (e.withdrawal) learned.delete(e.prefix); else if (!e.isLocal) learned.set(e.prefix, e.nextHop); } });
  });
  after(async () => {
    router?.close();
    await routerSup?.stop();
    lab.close();
  });

  test('edit --peer-router-ips only: the router learns every pod CIDR from its node and the Service ClusterIP', async () => {
    const pods = lab.applyAndRollOut(variantManifest('advertise-routes-only', [[/--peer-router-ips=192\.0\.2\.1/, `--peer-router-ips=${EXT}`]]));
    lab.assertRunningFromImage(pods);
    const nodes = JSON.parse(lab.kc(['get', 'nodes', '-o', 'json'])) as { items: Array<{ spec: { podCIDR: string }; status: { addresses: Array<{ type: string; address: string }> } }> };
    lab.kc(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] } }));
    const clusterIp = lab.kc(['get', 'service', 'web', '-o', 'jsonpath={.spec.clusterIP}']).trim();
    const want = new Map(nodes.items.map((n) => [n.spec.podCIDR, n.status.addresses.find((a) => a.type === 'InternalIP')!.address]));
    await until('the router to learn every pod CIDR and the ClusterIP', 60_000, async () =>
      [...want].every(([cidr, hop]) => learned.get(cidr) === hop) && learned.has(`${clusterIp}/32`) ? true : undefined)
      .catch((e: Error) => { throw new Error(`${e.message}; learned ${JSON.stringify([...learned])}`); });
  });
});

for (const variant of ['generic-all-features', 'kubeadm-all-features'] as const) {
  describe(`deploy/${variant}.yaml on a kernel without IPVS`, { skip }, () => {
    const lab = new DeployLab(PREFIX, 2, images);
    before(() => lab.up([IMAGE]));
    after(() => lab.close());
    const manifest = (extra: Array<[RegExp, string]>): string => variant === 'generic-all-features'
      ? variantManifest(variant, [[/--master=https:\/\/192\.0\.2\.10:6443[^\n]*/, `--master=${lab.apiServer}`], ...extra])
      : variantManifest(variant, extra);

    test('as shipped kube-router refuses to start without IPVS; without the proxy it routes and enforces', async () => {
      if (variant === 'kubeadm-all-features') lab.kc(['apply', '-f', '-'], kubeProxyConfigMap(lab.apiServer));
      lab.kc(['apply', '-f', '-'], manifest([]));
      const refused = await until('kube-router to exit for want of IPVS on every node', 120_000, async () => {
        const pods = lab.routerPodsNow();
        const exited = pods.filter((p) => lastExit(p) === 1 && /needs IPVS/.test(lab.logs(p)));
        return pods.length === 2 && exited.length === 2 ? pods : undefined;
      });
      assert.ok(refused.every((p) => !p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')));
      const pods = lab.applyAndRollOut(manifest([[/--run-service-proxy=true/, '--run-service-proxy=false']]));
      lab.assertRunningFromImage(pods);
      await routesAndEnforces(lab);
    });
  });
}

function lastExit(pod: PodView): number | undefined {
  const statuses = (pod as { status?: { containerStatuses?: Array<{ name: string; lastState?: { terminated?: { exitCode: number } } }> } }).status?.containerStatuses ?? [];
  return statuses.find((c) => c.name === 'kube-router')?.lastState?.terminated?.exitCode;
}

/** What kubeadm writes for kube-proxy: the API server's address, the service account's CA and token files. */
function kubeProxyConfigMap(server: string): string {
  const sa = '/var/run/secrets/kubernetes.io/serviceaccount';
  const kubeconfig = `apiVersion: v1
kind: Config
clusters:
- cluster: {certificate-authority: ${sa}/ca.crt, server: ${server}}
  name: default
contexts:
- context: {cluster: default, namespace: default, user: default}
  name: default
current-context: default
users:
- name: default
  user: {tokenFile: ${sa}/token}
`;
  return JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kube-proxy', namespace: 'kube-system' }, data: { 'kubeconfig.conf': kubeconfig } });
}
