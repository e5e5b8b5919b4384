// Prints the proxy bench's table (medians over runs) and one machine-readable `result` JSON line.
import { availableParallelism, loadavg } from 'node:os';
import type { PartTimes } from './proxy-counters.ts';
import type { RawTimes } from './proxy-raw.ts';

export interface Counts {
  ipvsMessages: number;
  ipvsDumps: number;
  rtnlMessages: number;
  rtnlDumps: number;
  execs: number;
}

export interface ProxyRun {
  fullMs: number;
  fullParts: PartTimes;
  fullCounts: Counts;
  resyncMs: number;
  resyncParts: PartTimes;
  resyncCounts: Counts;
  /** `ipvsadm -Sn` of the table the full sync made: the raw tool reading what the re-sync reads. */
  ipvsadmSaveMs: number;
  rssBeforeMiB: number;
  rssMiB: number;
  heapUsedMiB: number;
  rssAfterChangesMiB: number;
}

export interface ChangeStats {
  latencies: number[];
  perChange: Counts;
}

export interface BenchResult {
  /** This process before any cluster object exists (node, tsx and the modules loaded). */
  rssAtStartMiB: number;
  services: number;
  endpoints: number;
  buildMs: number;
  runs: ProxyRun[];
  raws: RawTimes[];
  changes: ChangeStats | undefined;
  warmup: number;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)] ?? NaN;
const ms = (x: number): string => x.toFixed(0).padStart(9);
const ratio = (a: number, b: number): string => (a / b).toFixed(2).padStart(6);
const counts = (c: Counts): string =>
  `${c.ipvsMessages} IPVS messages (${c.ipvsDumps} dumps), ${c.rtnlMessages} rtnetlink messages (${c.rtnlDumps} dumps), ${c.execs} processes`;

export function report(r: BenchResult): void {
  const part = (runs: ProxyRun[], name: string, which: 'fullParts' | 'resyncParts') => median(runs.map((x) => x[which][name] ?? 0));
  const full = median(r.runs.map((x) => x.fullMs));
  const ipvs = part(r.runs, 'ipvs', 'fullParts');
  const addresses = part(r.runs, 'addresses', 'fullParts');
  const netfilter = part(r.runs, 'netfilter', 'fullParts');
  const raw = {
    ipvs: median(r.raws.map((x) => x.ipvsMs)), addresses: median(r.raws.map((x) => x.addressesMs)),
    netfilter: median(r.raws.map((x) => x.netfilterMs)), total: median(r.raws.map((x) => x.totalMs)),
  };
  const last = r.runs[r.runs.length - 1]!;
  const n = r.services.toLocaleString('en-US');
  console.log(`\nproxy bench: ${n} ClusterIP Services x ${r.endpoints} endpoints (TCP, IPv4): ${n} virtual services, ` +
    `${(r.services * r.endpoints).toLocaleString('en-US')} destinations, ${n} dummy-link addresses; fresh network namespaces; ` +
    `median of ${r.runs.length} run(s); objects built in ${r.buildMs.toFixed(0)} ms`);
  console.log('full sync                                         proxy ms  raw tools ms  proxy/raw');
  console.log(`  IPVS (vs ipvsadm -R)                          ${ms(ipvs)}     ${ms(raw.ipvs)}     ${ratio(ipvs, raw.ipvs)}`);
  console.log(`  addresses + local routes (vs ip -batch)       ${ms(addresses)}     ${ms(raw.addresses)}     ${ratio(addresses, raw.addresses)}`);
  console.log(`  netfilter (vs its own ipset/iptables restores)${ms(netfilter)}     ${ms(raw.netfilter)}     ${ratio(netfilter, raw.netfilter)}`);
  console.log(`  planning and the rest (controller)            ${ms(full - ipvs - addresses - netfilter)}`);
  console.log(`  total                                         ${ms(full)}     ${ms(raw.total)}     ${ratio(full, raw.total)}`);
  console.log(`  full sync traffic: ${counts(last.fullCounts)}`);
  const resync = median(r.runs.map((x) => x.resyncMs));
  console.log(`periodic re-sync with nothing to change: ${resync.toFixed(0)} ms (IPVS ${part(r.runs, 'ipvs', 'resyncParts').toFixed(0)}, ` +
    `addresses ${part(r.runs, 'addresses', 'resyncParts').toFixed(0)}, netfilter ${part(r.runs, 'netfilter', 'resyncParts').toFixed(0)} ms): ${counts(last.resyncCounts)}`);
  const save = median(r.runs.map((x) => x.ipvsadmSaveMs));
  console.log(`  reading the same IPVS table with ipvsadm -Sn: ${save.toFixed(0)} ms (re-sync IPVS part / ipvsadm -Sn: ${ratio(part(r.runs, 'ipvs', 'resyncParts'), save).trim()})`);
  const c = r.changes;
  if (c) {
    const p = c.perChange;
    console.log(`endpoint change (one endpoint of one Service replaced; ${c.latencies.length} changes after ${r.warmup} warm-up): ` +
      `p50 ${pct(c.latencies, 50).toFixed(2)} ms, p99 ${pct(c.latencies, 99).toFixed(2)} ms, max ${Math.max(...c.latencies).toFixed(2)} ms`);
    console.log(`  per change: ${p.ipvsMessages.toFixed(2)} IPVS messages (${p.ipvsDumps.toFixed(2)} dumps), ` +
      `${p.rtnlMessages.toFixed(2)} rtnetlink messages (${p.rtnlDumps.toFixed(2)} dumps), ${p.execs.toFixed(2)} processes`);
  }
  console.log(`memory (this process): RSS ${r.rssAtStartMiB.toFixed(0)} MiB at start, ${last.rssBeforeMiB.toFixed(0)} MiB with the cluster objects built, ${last.rssMiB.toFixed(0)} MiB after the full sync ` +
    `(heap used ${last.heapUsedMiB.toFixed(0)} MiB), ${last.rssAfterChangesMiB.toFixed(0)} MiB after the changes; peak ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
  console.log(`load average in the VM: ${loadavg().map((x) => x.toFixed(1)).join(' ')} on ${availableParallelism()} CPU(s)`);
  console.log('result ' + JSON.stringify({
    services: r.services, endpointsPerService: r.endpoints, runs: r.runs.length,
    fullSyncMs: round(full), fullSyncParts: { ipvs: round(ipvs), addresses: round(addresses), netfilter: round(netfilter) },
    rawMs: { ipvsadmRestore: round(raw.ipvs), ipBatch: round(raw.addresses), netfilterRestores: round(raw.netfilter), total: round(raw.total) },
    ratio: round(full / raw.total, 2), ipvsRatio: round(ipvs / raw.ipvs, 2), fullSyncCounts: last.fullCounts,
    resyncMs: round(resync), resyncIpvsMs: round(part(r.runs, 'ipvs', 'resyncParts')), ipvsadmSaveMs: round(median(r.runs.map((x) => x.ipvsadmSaveMs))), resyncCounts: last.resyncCounts,
    change: c ? { samples: c.latencies.length, p50Ms: round(pct(c.latencies, 50), 2), p99Ms: round(pct(c.latencies, 99), 2), perChange: c.perChange } : null,
    rssAfterFullSyncMiB: round(last.rssMiB), heapUsedAfterFullSyncMiB: round(last.heapUsedMiB), rssBeforeFullSyncMiB: round(last.rssBeforeMiB), rssAtStartMiB: round(r.rssAtStartMiB),
  }));
}

const round = (x: number, digits = 0): number => Number(x.toFixed(digits));
