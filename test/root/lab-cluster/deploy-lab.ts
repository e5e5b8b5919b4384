// Helpers for the tests that install kube-router from deploy/<variant>.yaml into a lab without kube-router:
// the image (built by deploy/image/build.sh, loaded into a per-test image store), the manifest with only the
// documented lab-specific edits done in memory, workload pods, probes in batches, and the proof that each
// node's kube-router is a process running from the image's root filesystem in that node's namespace.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isReady, kubectl, labCli, listPods, podManifest, until, type PodView } from './lab-cli.ts';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const ARCHIVE = join(REPO, 'build/image/kube-router.oci.tar');
const BUILD_SCRIPT = join(REPO, 'deploy/image/build.sh');
/** The image every manifest names (deploy/README.md "The image contract"). */
export const IMAGE = 'kube-router:0.1.0';

/**
 * Makes sure build/image/kube-router.oci.tar is current (build.sh only hashes its inputs when nothing changed)
 * and returns why the image cannot be had, or false. `make test-deploy` builds it first, so this is quick there.
 */
export function imageUnavailable(): string | false {
  if (!existsSync(BUILD_SCRIPT)) return existsSync(ARCHIVE) ? false : 'no deploy/image/build.sh and no build/image/kube-router.oci.tar';
  const r = spawnSync('bash', [BUILD_SCRIPT], { encoding: 'utf8', cwd: REPO, timeout: 30 * 60_000 });
  if (r.status === 0 && existsSync(ARCHIVE)) return false;
  return `the image could not be built (bash deploy/image/build.sh: ${(r.stderr || r.error?.message || '').trim().split('\n').slice(-3).join(' | ')})`;
}

/** A manifest from deploy/ as text, with the given literal replacements (each must match, so drift fails). */
export function variantManifest(variant: string, edits: Array<[from: RegExp | string, to: string]> = []): string {
  let text = readFileSync(join(REPO, 'deploy', `${variant}.yaml`), 'utf8');
  for (const [from, to] of edits) {
    const next = text.replace(from, to);
    assert.notEqual(next, text, `deploy/${variant}.yaml no longer contains ${String(from)}`);
    text = next;
  }
  return text;
}

export interface ProbeLine { from: string; host: string; port: number; connected: boolean; answer?: string; error?: string; expect?: boolean; pair?: string }

/** One lab: its own prefix, state directory and image store; `down` in `close()`. */
export class DeployLab {
  readonly dir = mkdtempSync(join(tmpdir(), 'krt-deploy-'));
  readonly stateDir = join(this.dir, 'state');
  kubeconfig = '';
  apiServer = '';

  /** `imageDir`: an image store to share between labs (unpacking the image once); default one of its own. */
  constructor(readonly prefix: string, readonly nodes: number, private readonly imageDir?: string) {}

  node(i: number): string { return `${this.prefix}-n${i}`; }

  /** Loads the archive under each reference, then `up --no-kube-router` with `extraUp` flags. */
  up(refs: string[], extraUp: string[] = []): void {
    process.env['KUBE_ROUTER_LAB_IMAGE_DIR'] = this.imageDir ?? join(this.dir, 'images');
    for (const ref of refs) {
      const loaded = labCli(['image', 'load', ARCHIVE, '--tag', IMAGE, '--as', ref]);
      assert.equal(loaded.code, 0, `image load --as ${ref}: ${loaded.stderr}`);
    }
    const up = labCli(['up', '--nodes', String(this.nodes), '--no-kube-router', '--prefix', this.prefix, '--state-dir', this.stateDir, ...extraUp]);
    assert.equal(up.code, 0, `up failed: ${up.stderr}`);
    this.kubeconfig = labCli(['kubeconfig', '--state-dir', this.stateDir]).stdout.trim();
    this.apiServer = /server: (\S+)/.exec(readFileSync(this.kubeconfig, 'utf8'))?.[1] ?? '';
  }

  close(): void {
    if (existsSync(this.stateDir)) labCli(['down', '--state-dir', this.stateDir]);
    rmSync(this.dir, { recursive: true, force: true });
  }

  kc(args: string[], input?: string): string {
    const r = kubectl(this.kubeconfig, args, input);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  }

  /** `kubectl apply` then `rollout status` of ds/kube-router: one Ready pod per node. */
  applyAndRollOut(manifest: string, timeout = '240s'): PodView[] {
    this.kc(['apply', '-f', '-'], manifest);
    this.kc(['-n', 'kube-system', 'rollout', 'status', 'ds/kube-router', `--timeout=${timeout}`]);
    return this.routerPodsNow();
  }

  routerPodsNow(): PodView[] {
    const list = JSON.parse(this.kc(['-n', 'kube-system', 'get', 'pods', '-l', 'k8s-app=kube-router', '-o', 'json'])) as { items: PodView[] };
    return list.items;
  }

  /**
   * For every node: the kube-router pod is Ready and its main process is the image's node running the image's
   * kube-router, chrooted into that pod's overlay and in that node's network namespace.
   */
  assertRunningFromImage(pods: PodView[]): void {
    assert.deepEqual(pods.map((p) => p.spec.nodeName).sort(), Array.from({ length: this.nodes }, (_, i) => this.node(i + 1)));
    assert.ok(pods.every(isReady), 'every kube-router pod is Ready');
    const procs = imageKubeRouterProcesses();
    for (const pod of pods) {
      const node = pod.spec.nodeName ?? '';
      const podDir = join(this.stateDir, 'nodes', node, 'pods', pod.metadata.uid);
      const mine = procs.filter((p) => p.root.startsWith(podDir));
      assert.equal(mine.length, 1, `one image kube-router process rooted in ${podDir} (found ${JSON.stringify(procs)})`);
      assert.equal(mine[0]!.netns, statSync(`/run/netns/${node}`).ino, `the kube-router of ${node} runs in ${node}'s namespace`);
    }
  }

  /** Pods `default/<name>` (lab agents answering on 8080), created at once, waited Ready; name -> pod IP. */
  async pods(specs: Array<{ name: string; node: number; labels?: Record<string, string> }>): Promise<Map<string, string>> {
    const docs = specs.map((s) => JSON.stringify(podManifest(s.name, { node: this.node(s.node), labels: s.labels ?? {} })));
    this.kc(['apply', '-f', '-'], docs.join('\n'));
    const want = new Set(specs.map((s) => s.name));
    const ready = await until('workload pods Ready', 60_000, async () => {
      const all = (await listPods(this.kubeconfig)).filter((p) => want.has(p.metadata.name));
      return all.length === want.size && all.every((p) => isReady(p) && p.status?.podIP) ? all : undefined;
    });
    return new Map(ready.map((p) => [p.metadata.name, p.status?.podIP ?? '']));
  }

  /** One `probe --batch` run (a separate process, as a user runs it); extra fields come back as sent. */
  async probe(requests: Array<Record<string, unknown>>, timeout = '1s'): Promise<ProbeLine[]> {
    const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), fileURLToPath(new URL('../../../lab/cli/run.ts', import.meta.url)),
      'probe', '--batch', '--timeout', timeout, '--state-dir', this.stateDir], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '', errText = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { errText += d.toString(); });
    child.stdin.end(requests.map((r) => JSON.stringify(r)).join('\n') + '\n');
    await new Promise<void>((resolve) => child.on('close', () => resolve()));
    const lines = out.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as ProbeLine);
    assert.equal(lines.length, requests.length, `probe --batch answered ${lines.length} of ${requests.length}: ${errText}`);
    return lines;
  }

  /** Probes until every line's `connected` equals its `expect` (NetworkPolicy programming is asynchronous). */
  async untilVerdicts(what: string, requests: Array<Record<string, unknown> & { expect: boolean }>, timeoutMs = 60_000): Promise<ProbeLine[]> {
    let last: ProbeLine[] = [];
    try {
      return await until(what, timeoutMs, async () => {
        last = await this.probe(requests);
        return last.every((l) => l.connected === l.expect) ? last : undefined;
      });
    } catch (e) {
      throw new Error(`${(e as Error).message}; last: ${JSON.stringify(last.filter((l) => l.connected !== l.expect))}`);
    }
  }

  logs(pod: PodView, container = 'kube-router'): string {
    return this.kc(['-n', 'kube-system', 'logs', pod.metadata.name, '-c', container]);
  }
}

interface ImageProcess { pid: number; root: string; netns: number }

/** Processes running the image's kube-router entry (`node /usr/local/lib/kube-router/bin/kube-router.js`). */
export function imageKubeRouterProcesses(): ImageProcess[] {
  const found: ImageProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv[0] !== '/usr/local/bin/node' || argv[1] !== '/usr/local/lib/kube-router/bin/kube-router.js') continue;
      found.push({ pid: Number(entry), root: readlinkSync(`/proc/${entry}/root`), netns: statSync(`/proc/${entry}/ns/net`).ino });
    } catch { /* exited meanwhile */ }
  }
  return found;
}

/** A NetworkPolicy admitting to pods labelled `app=<app>` on 8080 only from pods labelled `role=<from>`. */
export function allowOnlyFrom(app: string, from: string): string {
  return JSON.stringify({
    apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: `${app}-from-${from}`, namespace: 'default' },
    spec: { podSelector: { matchLabels: { app } }, policyTypes: ['Ingress'],
      ingress: [{ from: [{ podSelector: { matchLabels: { role: from } } }], ports: [{ port: 8080, protocol: 'TCP' }] }] },
  });
}
