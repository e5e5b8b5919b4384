// Helpers for the lab-cluster tests: run `kube-router-lab` (from sources) and kubectl against a lab, read the
// API, and find what a lab left in the kernel (namespaces, processes).
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { labApiClient } from '../../../lab/cli/api-client.ts';

export const PREFIX = 'krt-lc';
const CLI = fileURLToPath(new URL('../../../lab/cli/run.ts', import.meta.url));

export interface Ran { code: number; stdout: string; stderr: string }

/** `kube-router-lab ARGS` as a separate process, like a user runs it. */
export function labCli(args: string[], input?: string): Ran {
  const r = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), CLI, ...args], { input, encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

export function kubectl(kubeconfig: string, args: string[], input?: string): Ran {
  const r = spawnSync('kubectl', ['--kubeconfig', kubeconfig, ...args], { input, encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

export function hasKubectl(): boolean {
  return spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;
}

export interface PodView {
  metadata: { name: string; namespace: string; uid: string; labels?: Record<string, string> };
  spec: { nodeName?: string };
  status?: { podIP?: string; hostIP?: string; phase?: string; conditions?: { type: string; status: string }[] };
}

export const isReady = (p: PodView): boolean => (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

export async function listPods(kubeconfig: string, namespace = 'default'): Promise<PodView[]> {
  return (await labApiClient(kubeconfig).getJson<{ items: PodView[] }>(`/api/v1/namespaces/${namespace}/pods`)).items;
}

export async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function labNamespaces(): string[] {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return r.stdout.split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n.startsWith(`${PREFIX}-`)).sort();
}

/** Pids whose command line mentions any of the needles (the lab's state paths). */
export function processesMentioning(needles: string[]): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let cmdline: string;
    try { cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8'); } catch { continue; }
    if (needles.some((n) => cmdline.includes(n))) found.push(Number(entry));
  }
  return found;
}

/** A pod manifest for the lab (YAML-free JSON; kubectl takes a stream of JSON documents). */
export function podManifest(name: string, opts: { node?: string; labels?: Record<string, string>; ports?: { containerPort: number; protocol?: string }[]; annotations?: Record<string, string>; hostNetwork?: boolean }): Record<string, unknown> {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, labels: opts.labels ?? {}, annotations: opts.annotations ?? {} },
    spec: {
      ...(opts.node ? { nodeName: opts.node } : {}),
      ...(opts.hostNetwork ? { hostNetwork: true } : {}),
      containers: [{ name: 'agent', image: 'kube-router-lab/agent', ports: opts.ports ?? [{ containerPort: 8080 }] }],
    },
  };
}
