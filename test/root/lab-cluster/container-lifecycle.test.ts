// Container lifecycle details of the lab kubelet that the deploy/ manifests rely on. The startupProbe
// (`rollout status` and a rolling update wait for kube-router's /healthz through it): until the probe succeeds
// the container is neither started nor ready; failureThreshold failures in a row restart it. Stopping: SIGTERM
// goes to the container's main process only, as with a runtime (kube-router's graceful restart depends on its
// gobgpd not being signalled too), and what it started is killed once it exited.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRoot } from '../../helpers/netns.ts';
import { hasKubectl, kubectl, labCli, until } from './lab-cli.ts';
import { buildBusyboxImage } from './busybox-image.ts';

const PREFIX = 'krt-cl';
const hasUmoci = spawnSync('umoci', ['--version']).status === 0;
const skip = !isRoot ? 'needs root' : !hasKubectl() ? 'needs kubectl' : !hasUmoci ? 'needs umoci (apt-get install umoci)' : false;

interface ContainerStatus { ready: boolean; started: boolean; restartCount: number; state: { running?: { startedAt: string } } }

const pod = (name: string, script: string, port: number | undefined, failureThreshold: number, gate: string): string => JSON.stringify({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' },
  spec: {
    nodeName: `${PREFIX}-n1`, hostNetwork: true, automountServiceAccountToken: false, terminationGracePeriodSeconds: 1,
    containers: [{
      name: 'c', image: 'lab/busybox:1', command: ['sh', '-c', script],
      ...(port ? { startupProbe: { httpGet: { path: '/healthz', port }, periodSeconds: 1, failureThreshold } } : {}),
      volumeMounts: [{ name: 'gate', mountPath: '/gate' }],
    }],
    volumes: [{ name: 'gate', hostPath: { path: gate } }],
  },
});

describe('lab kubelet: startup probes and stopping', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'krt-cl-'));
  const stateDir = join(dir, 'state'), gate = join(dir, 'gate');
  let kubeconfig = '';
  const kc = (args: string[], input?: string): string => {
    const r = kubectl(kubeconfig, args, input);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const status = (name: string): { ready: boolean; c?: ContainerStatus } => {
    const p = JSON.parse(kc(['get', 'pod', name, '-o', 'json'])) as { status?: { conditions?: Array<{ type: string; status: string }>; containerStatuses?: ContainerStatus[] } };
    return { ready: (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'), c: p.status?.containerStatuses?.[0] };
  };

  before(() => {
    spawnSync('mkdir', ['-p', gate]);
    process.env['KUBE_ROUTER_LAB_IMAGE_DIR'] = join(dir, 'images');
    const loaded = labCli(['image', 'load', buildBusyboxImage(dir), '--as', 'lab/busybox:1']);
    assert.equal(loaded.code, 0, loaded.stderr);
    const up = labCli(['up', '--nodes', '1', '--no-kube-router', '--prefix', PREFIX, '--state-dir', stateDir]);
    assert.equal(up.code, 0, `up failed: ${up.stderr}`);
    kubeconfig = labCli(['kubeconfig', '--state-dir', stateDir]).stdout.trim();
  });

  after(() => {
    labCli(['down', '--state-dir', stateDir]);
    rmSync(dir, { recursive: true, force: true });
  });

  test('a running container is neither started nor ready until its startupProbe succeeds', async () => {
    kc(['apply', '-f', '-'], pod('slow', 'while [ ! -e /gate/open ]; do sleep 0.2; done; mkdir -p /www; echo ok > /www/healthz; exec httpd -f -p 20251 -h /www', 20251, 60, gate));
    const running = await until('the container running', 30_000, async () => status('slow').c?.state.running);
    // three probe periods while it runs without answering
    await until('3 s of running', 10_000, async () => (Date.now() - Date.parse(running.startedAt) > 3000 ? true : undefined));
    const waiting = status('slow');
    assert.equal(waiting.ready, false, 'not Ready before the startup probe succeeded');
    assert.equal(waiting.c?.started, false);
    assert.equal(waiting.c?.restartCount, 0);
    writeFileSync(join(gate, 'open'), '');
    const started = await until('Ready once /healthz answers', 20_000, async () => { const s = status('slow'); return s.ready ? s : undefined; });
    assert.equal(started.c?.started, true);
    kc(['delete', 'pod', 'slow', '--wait=true']);
  });

  test('failureThreshold failed startup probes restart the container', async () => {
    kc(['apply', '-f', '-'], pod('never', 'exec sleep 3600', 20252, 2, gate));
    const restarted = await until('a restart', 30_000, async () => { const s = status('never'); return (s.c?.restartCount ?? 0) >= 1 ? s : undefined; });
    assert.equal(restarted.ready, false);
    kc(['delete', 'pod', 'never', '--wait=true']);
  });

  test('deleting the pod signals only the main process; what it started is killed after it exits', async () => {
    const script = `(trap 'echo x > /gate/child-term; exit 0' TERM; while :; do sleep 0.2; done) &
echo $! > /gate/child-pid
trap 'echo x > /gate/main-term; exit 0' TERM
while :; do sleep 0.2; done`;
    kc(['apply', '-f', '-'], pod('family', script, undefined, 0, gate));
    const childPid = await until('the child started', 30_000, async () => existsSync(join(gate, 'child-pid')) ? Number(readFileSync(join(gate, 'child-pid'), 'utf8')) : undefined);
    kc(['delete', 'pod', 'family', '--wait=true']);
    assert.ok(existsSync(join(gate, 'main-term')), 'the main process got SIGTERM');
    assert.ok(!existsSync(join(gate, 'child-term')), 'the child did not get SIGTERM');
    await until('the child gone', 10_000, async () => { try { process.kill(childPid, 0); return undefined; } catch { return true; } });
  });
});
