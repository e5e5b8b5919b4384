// The daemon side of bench:scale: starts kube-router in a lab node's namespace the way the lab does, follows its
// start-up through /healthz?verbose (caches filled = phase running; a controller's first full sync = its first
// recorded sync), samples its RSS and CPU from /proc, and counts the kernel objects it made in that namespace.
import type { ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { PPROF_PORT } from '../src/observe/profiling.ts';
import { execIn } from '../lab/netns/exec.ts';
import { kernelHasIpvs, startKubeRouter } from '../lab/cluster/kube-router.ts';
import { clusterPaths, DEFAULT_HEALTH_PORT, type ClusterRecord } from '../lab/cluster/layout.ts';
import { serviceRanges } from '../lab/cluster/service-ranges.ts';

export const METRICS_PORT = 20245;

export interface StartupReport {
  cachesFilledS: number;
  /** Seconds from start to each controller's first successful full sync. */
  firstSyncS: Record<string, number>;
  peakRssMb: number;
  /**
   * CPU seconds another process (the lab API server) used from the poll that saw the caches filled to the one
   * that saw the firewall's first sync, and that window's length: what shared the two cores with that sync.
   */
  otherCpuDuringNetpolSync?: { cpuS: number; windowS: number };
}

interface HealthBody { phase?: string; components?: { name: string; lastSyncOk: boolean | null; lastSyncAgoMs: number | null }[] }

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function procStatus(pid: number): { rssMb: number; hwmMb: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
}

/** utime + stime of a process in seconds. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;  // utime, stime (fields 14, 15) in clock ticks of 1/100 s
}

async function httpGet(netns: string, port: number, path: string): Promise<string | undefined> {
  const r = await execIn(netns, ['socat', '-t5', '-T5', '-', `TCP:127.0.0.1:${port}`], { input: `GET ${path} HTTP/1.0\r\nHost: localhost\r\n\r\n` });
  const split = r.stdout.indexOf('\r\n\r\n');
  return split < 0 ? undefined : r.stdout.slice(split + 4);
}

export class BenchDaemon {
  readonly child: ChildProcess;
  readonly startedAt = performance.now();
  readonly proxy: boolean;

  constructor(readonly record: ClusterRecord, readonly node: { name: string; netns: string; ip: string }, extraArgs: readonly string[] = []) {
    const paths = clusterPaths(record.options.stateDir);
    this.proxy = kernelHasIpvs();
    this.child = startKubeRouter({
      node, kubeconfig: record.kubeconfig ?? '', conflistFile: paths.kubeRouterConflist(node.name), logDir: paths.logs,
      extraArgs: [...serviceRanges(record.options).args, `--metrics-port=${METRICS_PORT}`, ...extraArgs],
    });
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error('kube-router did not start');
    return this.child.pid;
  }

  private exited(): boolean { return this.child.exitCode !== null || this.child.signalCode !== null; }

  /** Waits until the daemon is running and every registered controller synced once (or the timeout passes). */
  async waitForStartup(timeoutMs: number, otherPid?: number): Promise<StartupReport> {
    const report: StartupReport = { cachesFilledS: NaN, firstSyncS: {}, peakRssMb: 0 };
    let other: { t: number; cpu: number } | undefined;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.exited()) throw new Error(`kube-router exited (${this.child.exitCode ?? this.child.signalCode}) during start-up; see its log`);
      report.peakRssMb = Math.max(report.peakRssMb, procStatus(this.pid).hwmMb);
      const text = await httpGet(this.node.netns, DEFAULT_HEALTH_PORT, '/healthz?verbose').catch(() => undefined);
      const now = (performance.now() - this.startedAt) / 1000;
      let body: HealthBody | undefined;
      try { body = text ? JSON.parse(text) as HealthBody : undefined; } catch { body = undefined; }
      if (body?.phase === 'running' && Number.isNaN(report.cachesFilledS)) {
        report.cachesFilledS = now;
        if (otherPid !== undefined) other = { t: now, cpu: cpuSeconds(otherPid) };
      }
      for (const c of body?.components ?? []) {
        if (c.lastSyncOk && c.lastSyncAgoMs !== null && report.firstSyncS[c.name] === undefined) {
          report.firstSyncS[c.name] = now - c.lastSyncAgoMs / 1000;
          if (c.name === 'netpol' && other && otherPid !== undefined) report.otherCpuDuringNetpolSync = { cpuS: cpuSeconds(otherPid) - other.cpu, windowS: now - other.t };
        }
      }
      const components = body?.components ?? [];
      if (body?.phase === 'running' && components.length > 0 && components.every((c) => report.firstSyncS[c.name] !== undefined)) return report;
      if (Date.now() > deadline) return report;
      await sleep(250);
    }
  }

  /** RSS after `seconds` of no changes, and the CPU (cores) the daemon used meanwhile. */
  async idle(seconds: number): Promise<{ rssMb: number; cpuCores: number; peakRssMb: number }> {
    const cpu0 = cpuSeconds(this.pid);
    const t0 = performance.now();
    await sleep(seconds * 1000);
    const cores = (cpuSeconds(this.pid) - cpu0) / ((performance.now() - t0) / 1000);
    const status = procStatus(this.pid);
    return { rssMb: status.rssMb, cpuCores: cores, peakRssMb: status.hwmMb };
  }

  /** kube_router_* sample values from /metrics (sum over labels), e.g. controller_iptables_sync_time_sum. */
  async metrics(): Promise<Map<string, number>> {
    const text = await httpGet(this.node.netns, METRICS_PORT, '/metrics') ?? '';
    const out = new Map<string, number>();
    for (const line of text.split('\n')) {
      const m = /^kube_router_([a-z0-9_]+)(?:\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
      if (m) out.set(m[1]!, (out.get(m[1]!) ?? 0) + Number(m[2]));
    }
    return out;
  }

  /** Saves the daemon's heap snapshot (served on loopback with --enable-pprof) to `file`; returns a summary line. */
  async heapSnapshot(file: string): Promise<string> {
    mkdirSync(dirname(file), { recursive: true });
    const raw = `${file}.http`;
    const request = `printf 'GET /debug/pprof/heapsnapshot HTTP/1.0\\r\\n\\r\\n' | socat -t600 -T600 - TCP:127.0.0.1:${PPROF_PORT} > '${raw}'`;
    const r = await execIn(this.node.netns, ['sh', '-c', request]);
    if (r.code !== 0) return `not saved (${r.stderr.trim() || `exit ${r.code}`})`;
    stripHttpHeader(raw, file);
    return `${file} (${(statSync(file).size / 1e6).toFixed(0)} MB)`;
  }

  async stop(): Promise<void> {
    if (this.exited()) return;
    const gone = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 20_000);
    await gone;
    clearTimeout(timer);
  }
}

export interface KernelCounts {
  sets: number; setEntries: number; rules: number; ipvsServices: number | undefined; ipsetSave: string; iptablesSave: string;
  /** Our nftables tables as `nft list table` prints them (empty without --use-nftables-for-netpol). */
  nftSave: string;
}

interface NftJsonItem { set?: { elem?: unknown[] }; rule?: unknown }

/** Sets, elements and rules of our nftables tables, and their listing for the raw replay. */
async function nftTables(netns: string): Promise<{ sets: number; setEntries: number; rules: number; save: string }> {
  const out = { sets: 0, setEntries: 0, rules: 0, save: '' };
  for (const [family, table] of [['ip', 'kube-router-filter-ipv4'], ['ip6', 'kube-router-filter-ipv6']]) {
    const listed = await execIn(netns, ['nft', 'list', 'table', family as string, table as string]);
    if (listed.code !== 0) continue; // no such table
    out.save += listed.stdout;
    const json = await execIn(netns, ['nft', '-j', 'list', 'table', family as string, table as string]);
    for (const item of (JSON.parse(json.stdout) as { nftables: NftJsonItem[] }).nftables) {
      if (item.set) out.sets++, out.setEntries += item.set.elem?.length ?? 0;
      if (item.rule) out.rules++;
    }
  }
  return out;
}

/** The ipsets and iptables rules kube-router owns in `netns` (KUBE-* names), with their save text for the raw replay. */
export async function kernelCounts(netns: string, proxy: boolean): Promise<KernelCounts> {
  const ipset = await execIn(netns, ['ipset', 'save']);
  const ours = ipset.stdout.split('\n').filter((l) => /^(create|add) KUBE-/.test(l));
  const tables: string[] = [];
  let rules = 0;
  for (const family of ['iptables-save', 'ip6tables-save']) {
    const saved = await execIn(netns, [family]);
    let table: string[] = [];
    for (const line of saved.stdout.split('\n')) {
      if (line.startsWith('*')) table = [line];
      else if (line.startsWith(':KUBE-') || (line.startsWith('-A') && /KUBE-/.test(line))) {
        table.push(line);
        if (line.startsWith('-A')) rules++;
      } else if (line === 'COMMIT' && table.length > 1 && family === 'iptables-save') tables.push(...table, 'COMMIT');
    }
  }
  const ipvs = proxy ? (await execIn(netns, ['ipvsadm', '-Ln'])).stdout.split('\n').filter((l) => /^(TCP|UDP|SCTP)/.test(l)).length : undefined;
  const nft = await nftTables(netns);
  return {
    sets: ours.filter((l) => l.startsWith('create')).length + nft.sets, setEntries: ours.filter((l) => l.startsWith('add')).length + nft.setEntries,
    rules: rules + nft.rules, ipvsServices: ipvs, ipsetSave: ours.join('\n') + '\n', iptablesSave: tables.join('\n') + '\n', nftSave: nft.save,
  };
}

/** Copies an HTTP/1.0 response's body from `raw` to `file` in chunks (a snapshot at 50k pods is hundreds of MB). */
function stripHttpHeader(raw: string, file: string): void {
  const input = openSync(raw, 'r');
  const output = openSync(file, 'w');
  const buf = Buffer.alloc(1 << 20);
  let skip = -1;
  for (let n; (n = readSync(input, buf, 0, buf.length, null)) > 0;) {
    let start = 0;
    if (skip < 0) {
      skip = buf.subarray(0, n).indexOf('\r\n\r\n');
      if (skip < 0) throw new Error('no HTTP header end in the first MB of the heap snapshot response');
      start = skip + 4;
    }
    writeSync(output, buf, start, n - start);
  }
  closeSync(input);
  closeSync(output);
  rmSync(raw);
}
