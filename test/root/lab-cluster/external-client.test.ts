// The lab's external client and the client address pods report, through the CLI as a user runs it: `up --nodes 2`
// with kube-router (BGP pod routes), then `probe external <podIP>` reaches a pod on node 2 through node 1 and the
// pod saw the external client's own address (nothing NATs pod traffic); `probe --batch` carries that as "client".
// Also: ranges given in --kube-router-args reach kube-router untouched and are what the client routes.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { isRoot } from '../../helpers/netns.ts';
import { execIn } from '../../../lab/netns/exec.ts';
import { kernelHasIpvs } from '../../../lab/cluster/kube-router.ts';
import { hasKubectl, isReady, kubectl, labCli, listPods, podManifest, processesMentioning, until, type PodView } from './lab-cli.ts';

const skip = !isRoot ? 'needs root' : !hasKubectl() ? 'needs kubectl' : false;
const PREFIX = 'krt-lx';
const EXTERNAL = '198.51.100.254';

function labNamespaces(): string[] {
  const listed = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
  return listed.split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n.startsWith(`${PREFIX}-`)).sort();
}

describe('lab external client (CLI, kube-router with BGP)', { skip }, () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'krt-lx-'));
  let kubeconfig = '';
  let pods = new Map<string, PodView>();

  after(() => {
    labCli(['down', '--state-dir', stateDir]);
    rmSync(stateDir, { recursive: true, force: true });
  });

  test('up --nodes 2 creates the external client, routed via node 1, and passes --kube-router-args through', async () => {
    const up = labCli(['up', '--nodes', '2', '--prefix', PREFIX, '--state-dir', stateDir,
      '--kube-router-args=--service-external-ip-range=198.19.40.0/24 --v=1']);
    assert.equal(up.code, 0, `up failed: ${up.stderr}`);
    assert.match(up.stdout, new RegExp(`external +${EXTERNAL.replace(/\./g, '\\.')} +${PREFIX}-ext, routes 198\\.18\\.0\\.0/16 198\\.19\\.0\\.0/20 198\\.19\\.40\\.0/24 198\\.19\\.48\\.0/24 via 198\\.51\\.100\\.11`));
    kubeconfig = labCli(['kubeconfig', '--state-dir', stateDir]).stdout.trim();
    const routes = await execIn(`${PREFIX}-ext`, ['ip', '-4', 'route', 'show']);
    for (const dst of ['198.18.0.0/16', '198.19.0.0/20', '198.19.40.0/24', '198.19.48.0/24']) {
      assert.match(routes.stdout, new RegExp(`^${dst.replace(/\./g, '\\.')} via 198\\.51\\.100\\.11 dev eth0`, 'm'));
    }
    // kube-router got the user's range and not the lab's, the lab's other ranges, and the proxy default
    const record = JSON.parse(readFileSync(join(stateDir, 'lab.json'), 'utf8')) as { processes: { role: string; pid: number }[] };
    for (const p of record.processes.filter((p) => p.role === 'kube-router')) {
      const argv = readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').split('\0');
      assert.deepEqual(argv.filter((a) => /ip-range|service-proxy|^--v=/.test(a)), [
        ...(kernelHasIpvs() ? [] : ['--run-service-proxy=false']),
        '--service-cluster-ip-range=198.19.0.0/20', '--loadbalancer-ip-range=198.19.48.0/24', '--service-external-ip-range=198.19.40.0/24', '--v=1',
      ]);
    }
    const shown = labCli(['status', '--state-dir', stateDir]);
    assert.match(shown.stdout, new RegExp(`^external +${EXTERNAL.replace(/\./g, '\\.')} `, 'm'));
  });

  test('probe external <podIP> reaches a pod on node 2 and prints the pod and the external client\'s address', async () => {
    const ports = [{ containerPort: 8080 }, { containerPort: 5353, protocol: 'UDP' }];
    const applied = kubectl(kubeconfig, ['apply', '-f', '-'], [1, 2].map((i) => stringify(podManifest(`x-${i}`, { node: `${PREFIX}-n${i}`, ports }))).join('---\n'));
    assert.equal(applied.code, 0, applied.stderr);
    pods = await until('2 Ready pods', 15_000, async () => {
      const ready = (await listPods(kubeconfig)).filter((p) => isReady(p) && p.status?.podIP);
      return ready.length === 2 ? new Map(ready.map((p) => [p.metadata.name, p])) : undefined;
    });
    const probed = labCli(['probe', 'external', pods.get('x-2')!.status!.podIP!, '8080', '--state-dir', stateDir]);
    assert.equal(probed.code, 0, probed.stderr);
    const [answer, client, ...rest] = probed.stdout.trimEnd().split('\n');
    assert.equal(answer, 'default/x-2');
    assert.match(client ?? '', new RegExp(`^client ${EXTERNAL.replace(/\./g, '\\.')} \\d+$`));
    assert.deepEqual(rest, []);
  });

  test('probe --batch takes "from": "external" and gives every result the client address the pod saw', () => {
    const ip = (name: string): string => pods.get(name)!.status!.podIP!;
    const requests = [
      { from: 'external', host: ip('x-2'), port: 8080 },
      { from: 'external', host: ip('x-1'), port: 5353, protocol: 'udp' },
      { from: 'default/x-1', host: ip('x-2'), port: 8080 },
      { from: 'default/x-2', host: ip('x-1'), port: 5353, protocol: 'udp' },
    ];
    const probed = labCli(['probe', '--batch', '--timeout', '2s', '--state-dir', stateDir], requests.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const results = probed.stdout.trim().split('\n').map((l) => JSON.parse(l) as { connected: boolean; answer?: string; client?: string; clientPort?: number; error?: string });
    assert.deepEqual(results.map((r) => [r.connected, r.answer, r.client]), [
      [true, 'default/x-2', EXTERNAL],
      [true, 'default/x-1', EXTERNAL],
      [true, 'default/x-2', ip('x-1')],
      [true, 'default/x-1', ip('x-2')],
    ], probed.stdout);
    for (const r of results) assert.ok(Number.isInteger(r.clientPort) && r.clientPort! > 0, `clientPort ${r.clientPort}`);
    assert.equal(probed.code, 0);
  });

  test('down removes the external client with the rest of the lab', () => {
    const down = labCli(['down', '--state-dir', stateDir]);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(labNamespaces(), []);
    assert.deepEqual(processesMentioning([stateDir, `/run/krt-lab/${PREFIX}/`]), []);
  });
});
