// Benchmark of the network policy controller on a synthetic cluster (100 namespaces, 10k pods of which ~110
// are local, 1k policies, IPv4) in a fresh network namespace: full sync (plan + apply) against the raw
// restore of the same generated state, the periodic re-sync that finds nothing to do, and pod-label-change
// → rules-enforced latency on the incremental path; both backends. Run as root:
//   node --import tsx bench/netpol.ts [--pods 50000] [--backend iptables|nftables]
// (default 10,000 pods, ~110 of them local at any size; both backends)
import { spawnSync } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { netpolExec, type NetpolExec } from '../src/controllers/netpol/apply-exec.ts';
import { detectIptablesMode } from '../src/kernel/iptables.ts';
import { IptablesApplier, iptablesTool } from '../src/controllers/netpol/apply-iptables.ts';
import { NftApplier } from '../src/controllers/netpol/apply-nftables.ts';
import { NetpolController } from '../src/controllers/netpol/controller.ts';
import { FAMILIES } from '../src/controllers/netpol/model.ts';
import { IptablesSync, type SyncBackend } from '../src/controllers/netpol/sync-backends.ts';
import { NftSync } from '../src/controllers/netpol/sync-nft.ts';
import { BenchCluster, DEFAULT_PODS } from './netpol-cluster.ts';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inChunks } from '../src/kernel/exec.ts';
import { ipsetScriptLines } from '../src/kernel/ipset.ts';
import { diffFamily, type FamilyChanges } from '../src/controllers/netpol/diff.ts';
import { plan } from '../src/controllers/netpol/plan.ts';
import { ipsetChangeOps } from '../src/controllers/netpol/render-ipset.ts';
import { iptablesRestoreLines } from '../src/controllers/netpol/render-iptables.ts';
import { nftLines } from '../src/controllers/netpol/render-nft.ts';

const podsArg = process.argv.indexOf('--pods');
const PODS = podsArg > 0 ? Number(process.argv[podsArg + 1]) : DEFAULT_PODS;
if (!Number.isInteger(PODS) || PODS < 100) throw new Error('--pods: a whole number of pods, at least 100');
const RUNS = 3;
const SAMPLES = 200;
// The first changes run through code the JIT has not optimised yet (once per daemon lifetime): not counted.
const WARMUP = 10;
const config = {
  families: ['ipv4' as const], serviceClusterIPRanges: ['198.18.240.0/20'], nodePortRange: { from: 30000, to: 32767 },
  serviceExternalIPRanges: [], loadBalancerIPRanges: [], defaultDeny: true,
};

const now = (): number => performance.now();
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)] ?? NaN;

async function must(exec: NetpolExec, cmd: string, args: string[]): Promise<void> {
  const r = await exec.run(cmd, args);
  if (!r.ok) throw new Error(r.error.message);
}

/** The whole state's tool input, written to files chunk by chunk (never one string), for the raw-tool runs. */
async function rawInputs(cluster: BenchCluster, dir: string): Promise<{ ipset: string; iptables: string; nft: string; lines: Record<string, number> }> {
  const view = cluster.view();
  if (!view.ok) throw new Error(view.error);
  const changes = plan(view.value).families.map((f) => diffFamily(f, { iptables: { chains: new Map(), builtinJumps: [] }, sets: new Map() }));
  const lines: Record<string, number> = {};
  const counted = function* (name: string, xs: Iterable<string>): Generator<string> {
    lines[name] = 0;
    for (const x of xs) lines[name]++, yield x;
  };
  const files = { ipset: join(dir, 'ipset'), iptables: join(dir, 'iptables'), nft: join(dir, 'nft') };
  await writeFile(files.ipset, inChunks(counted('ipset', ipsetScriptLines((function* () { for (const c of changes) yield* ipsetChangeOps(c.ipset); })()))));
  await writeFile(files.iptables, inChunks(counted('iptables', iptablesRestoreLines((changes[0] as FamilyChanges).iptables))));
  await writeFile(files.nft, inChunks(counted('nft', (function* () { for (const f of plan(view.value).families) yield* nftLines(f); })())));
  return { ...files, lines };
}

/** Sets and entries the planned state holds, and how many distinct member lists (the floor for any sharing). */
function setCounts(cluster: BenchCluster): string {
  const view = cluster.view();
  if (!view.ok) throw new Error(view.error);
  const sets = plan(view.value).families.flatMap((f) => f.sets);
  const distinct = new Map(sets.map((s) => [`${s.type} ${s.members.map((m) => `${m.entry}${m.nomatch ? '!' : ''}`).join(',')}`, s.members.length]));
  const entries = sets.reduce((n, s) => n + s.members.length, 0);
  const floor = [...distinct.values()].reduce((a, b) => a + b, 0);
  return `${sets.length} sets, ${entries} entries (distinct member lists: ${distinct.size} sets, ${floor} entries)`;
}

const rssMiB = (): number => process.memoryUsage().rss / 1048576;
const peakMiB = (): number => process.resourceUsage().maxRSS / 1024;

interface Row { backend: string; full: number; plan: number; applyInSync: number; raw: number; changePlan: number; changeApply: number; changePlan99: number; changeApply99: number; resync: number; p50: number; p99: number; execs: number; size: string; peakAfterFull: number; rssAfterFull: number }

async function benchBackend(kind: 'iptables' | 'nftables', exec: NetpolExec): Promise<Row> {
  const mode = await detectIptablesMode(exec);
  if (!mode.ok) throw new Error(mode.error.message);
  const ipt = new IptablesApplier(exec, mode.value);
  const nft = new NftApplier(exec);
  const cluster = new BenchCluster(config, PODS);
  const make = (): NetpolController => {
    const backend: SyncBackend = kind === 'iptables' ? new IptablesSync(ipt) : new NftSync(nft);
    return new NetpolController({ source: cluster, backend, syncPeriodMs: 300_000, reject: () => undefined });
  };
  const clean = async (): Promise<void> => {
    const a = await ipt.removeAll(FAMILIES);
    const b = await nft.removeAll(FAMILIES);
    if (!a.ok || !b.ok) throw new Error('cleanup failed');
  };
  const full: number[] = [];
  const plan: number[] = [];
  const raw: number[] = [];
  const applyInSync: number[] = [];
  let size = '';
  let peakAfterFull = NaN;
  let rssAfterFull = NaN;
  const dir = await mkdtemp(join(tmpdir(), 'krt-npc-bench-'));
  try {
    for (let run = 0; run < RUNS; run++) {
      await clean();
      const controller = make();
      const t = now();
      await controller.fullSync();
      full.push(now() - t);
      if (run === 0) peakAfterFull = peakMiB(), rssAfterFull = rssMiB();
      plan.push((controller.lastSync?.planSeconds ?? NaN) * 1000);
      const report = controller.lastSync?.report;
      if (report?.unchanged !== false) throw new Error('full sync applied nothing');
      applyInSync.push((report?.applySeconds ?? NaN) * 1000);
      await clean();
      // The same state, rendered to files beforehand (not timed) and fed straight to the tools.
      const files = await rawInputs(cluster, dir);
      const t2 = now();
      if (kind === 'iptables') {
        await must(exec, 'ipset', ['-exist', 'restore', '-f', files.ipset]);
        await must(exec, iptablesTool(mode.value, 'ipv4', 'restore'), ['-w', '--noflush', files.iptables]);
        size = `${files.lines['ipset']} ipset + ${files.lines['iptables']} iptables lines`;
      } else {
        await must(exec, 'nft', ['-f', files.nft]);
        size = `${files.lines['nft']} nft lines`;
      }
      raw.push(now() - t2);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  // The live controller: adopt the state, re-sync with nothing to do, then pod label changes one by one.
  await clean();
  const controller = make();
  await controller.fullSync();
  const t3 = now();
  await controller.fullSync();
  const resync = now() - t3;
  const latencies: number[] = [];
  const changePlan: number[] = [];
  const changeApply: number[] = [];
  let execsBefore = exec.count;
  let seed = 12345;
  for (let i = -WARMUP; i < SAMPLES; i++) {
    if (i === 0) {
      latencies.length = changePlan.length = changeApply.length = 0;
      execsBefore = exec.count;
    }
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    const pool = (i + WARMUP) % 10 === 0 ? cluster.localPods : cluster.remotePods;
    const key = pool[seed % pool.length] as string;
    cluster.relabel(key);
    const t = now();
    const out = await controller.handleChanges([{ kind: 'Pod', key }]);
    latencies.push(now() - t);
    changePlan.push((controller.lastSync?.planSeconds ?? 0) * 1000);
    changeApply.push((controller.lastSync?.report.applySeconds ?? 0) * 1000);
    if (out.failed?.size) throw new Error(`change failed: ${String([...out.failed.values()][0])}`);
  }
  await clean();
  return {
    backend: kind === 'iptables' ? `iptables-${mode.value}` : 'nftables', full: median(full), plan: median(plan), applyInSync: median(applyInSync), raw: median(raw),
    changePlan: median(changePlan), changeApply: median(changeApply), changePlan99: pct(changePlan, 99), changeApply99: pct(changeApply, 99), resync,
    p50: pct(latencies, 50), p99: pct(latencies, 99), execs: (exec.count - execsBefore) / SAMPLES, size, peakAfterFull, rssAfterFull,
  };
}

async function inside(): Promise<void> {
  const exec = netpolExec();
  const rows: Row[] = [];
  const only = process.argv.indexOf('--backend');
  const kinds = only > 0 ? [process.argv[only + 1] as 'iptables' | 'nftables'] : (['iptables', 'nftables'] as const);
  for (const kind of kinds) rows.push(await benchBackend(kind, exec));
  const bench = new BenchCluster(config, PODS);
  const sets = setCounts(bench);
  const f = (x: number): string => x.toFixed(1).padStart(8);
  console.log(`synthetic cluster: 100 namespaces, ${bench.pods.size} pods (${bench.localPods.length} local), 1,000 policies, IPv4, default-deny; medians of 3 full syncs; ${SAMPLES} pod label changes (1 in 10 local) after ${WARMUP} warm-up ones`);
  console.log('backend          full sync ms (plan ms) (tools ms)  raw apply ms  full/raw  re-sync ms  change p50 ms  change p99 ms  (p50 plan/tools ms)  execs/change  state');
  for (const r of rows) {
    console.log(`${r.backend.padEnd(16)} ${f(r.full)} ${f(r.plan)} ${f(r.applyInSync)}  ${f(r.raw)}      ${(r.full / r.raw).toFixed(2).padStart(5)}  ${f(r.resync)}   ${f(r.p50)}       ${f(r.p99)}    ${f(r.changePlan)}/${f(r.changeApply).trim()}       ${r.execs.toFixed(2).padStart(5)}    ${r.size}`);
  }
  console.log(`policy sets: ${sets}`);
  for (const r of rows) console.log(`${r.backend}: change p99 of planning ${r.changePlan99.toFixed(1)} ms, of kernel writes ${r.changeApply99.toFixed(1)} ms`);
  for (const r of rows) console.log(`${r.backend}: peak RSS after the first full sync ${r.peakAfterFull.toFixed(0)} MiB, RSS then ${r.rssAfterFull.toFixed(0)} MiB`);
  console.log(`load average during the run: ${loadavg().map((x) => x.toFixed(1)).join(' ')} on ${availableParallelism()} CPUs`);
  console.log(`peak RSS: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
}

function outside(): void {
  const name = `krt-npc-bench-${process.pid}`;
  spawnSync('ip', ['netns', 'add', name], { stdio: 'inherit' });
  try {
    spawnSync('ip', ['-n', name, 'link', 'set', 'lo', 'up'], { stdio: 'inherit' });
    const r = spawnSync('ip', ['netns', 'exec', name, process.execPath, '--import', 'tsx', new URL(import.meta.url).pathname, '--inside', ...process.argv.slice(2)], { stdio: 'inherit' });
    process.exitCode = r.status ?? 1;
  } finally {
    spawnSync('ip', ['netns', 'del', name]);
  }
}

if (process.argv.includes('--inside')) await inside();
else outside();
