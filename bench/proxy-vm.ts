// The proxy bench proper; needs a kernel with IPVS (bench/proxy.ts runs it in the lab VM). In a fresh network
// namespace: a full sync of N ClusterIP Services x 10 endpoints through the real ProxyController and IpvsDataplane
// (IPVS over generic netlink, dummy-link addresses over rtnetlink, ipset/iptables through the exec layer), then
// the periodic re-sync with nothing to do, then single endpoint changes through handleChanges; in a second fresh
// namespace the same state through the raw tools (ipvsadm -R, ip -batch, the same ipset/iptables restores).
// Usage (root, IPVS kernel): node --expose-gc --import tsx bench/proxy-vm.ts [--services N] [--changes N] [--warmup N] [--runs N]
import { IpvsApplier } from '../src/controllers/proxy/apply-ipvs.ts';
import { AddressApplier } from '../src/controllers/proxy/apply-addresses.ts';
import { IptablesNetfilter } from '../src/controllers/proxy/apply-netfilter.ts';
import { ProxyController } from '../src/controllers/proxy/controller.ts';
import { IpvsDataplane } from '../src/controllers/proxy/dataplane.ts';
import type { Problem } from '../src/controllers/proxy/model.ts';
import { processExec, type Exec } from '../src/kernel/exec.ts';
import { detectIptablesMode } from '../src/kernel/iptables.ts';
import { openIpvs } from '../src/kernel/ipvs.ts';
import { openRtnetlink } from '../src/kernel/netlink/rtnetlink.ts';
import { TestNetns } from '../test/helpers/netns.ts';
import { BenchProxyCluster, CONFIG, ENDPOINTS_PER_SERVICE, NODE, NODE_IP } from './proxy-cluster.ts';
import { countingIpvs, countingSocket, recordingExec, timedPart, type ExecRecord, type NetlinkCount, type PartTimes } from './proxy-counters.ts';
import { rawFullSync, type RawState, rawStateOf, readBack } from './proxy-raw.ts';
import { report, type ChangeStats, type ProxyRun } from './proxy-report.ts';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  const n = i < 0 ? fallback : Number(process.argv[i + 1]);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} wants a non-negative integer`);
  return n;
};
const SERVICES = arg('services', 10_000);
const CHANGES = arg('changes', 300);
const WARMUP = arg('warmup', 20);
const RUNS = Math.max(1, arg('runs', 1));
/** The raw tools get as long as they need under TCG: the bench measures, it does not police. */
const RAW_TIMEOUT_MS = 3_600_000;

const now = (): number => performance.now();
const mib = (bytes: number): number => bytes / 2 ** 20;
const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

/** A fresh namespace with the node's address on a link of its own (the local routes use it as source). */
function nodeNamespace(): TestNetns {
  const ns = new TestNetns('krt-pxb');
  ns.exec('ip', ['-batch', '-'], `link add eth0 type dummy\naddr add ${NODE_IP}/24 dev eth0\nlink set eth0 up\n`);
  return ns;
}

interface Counters { ipvs: NetlinkCount; rtnl: NetlinkCount; exec: Exec }
const snapshot = (c: Counters) => ({ ipvs: { ...c.ipvs }, rtnl: { ...c.rtnl }, execs: c.exec.count });
const since = (c: Counters, s: ReturnType<typeof snapshot>) => ({
  ipvsMessages: c.ipvs.messages - s.ipvs.messages, ipvsDumps: c.ipvs.dumps - s.ipvs.dumps,
  rtnlMessages: c.rtnl.messages - s.rtnl.messages, rtnlDumps: c.rtnl.dumps - s.rtnl.dumps, execs: c.exec.count - s.execs,
});

async function proxyRun(cluster: BenchProxyCluster, measureChanges: boolean): Promise<{ run: ProxyRun; raw: RawState; changes?: ChangeStats }> {
  const ns = nodeNamespace();
  const execRuns: ExecRecord[] = [];
  const counters: Counters = { ipvs: { messages: 0, dumps: 0 }, rtnl: { messages: 0, dumps: 0 }, exec: processExec(ns.name) };
  const exec = recordingExec(counters.exec, execRuns);
  const opened = await openIpvs({ netns: ns.path });
  if (!opened.ok) throw new Error(`IPVS: ${opened.error.code}`);
  const ipvs = countingIpvs(opened.value, counters.ipvs);
  const sock = countingSocket(openRtnetlink({ netns: ns.path }), counters.rtnl);
  try {
    const mode = await detectIptablesMode(exec);
    if (!mode.ok) throw new Error(mode.error.message);
    execRuns.length = 0;
    const parts: PartTimes = {};
    const netfilter = new IptablesNetfilter(exec, {
      families: [4], mode: mode.value, firewall: true, masqueradeAll: false,
      nodeIp: () => NODE_IP, podCidrs: () => NODE.podCidrs, hostAddresses: () => new Set([NODE_IP]),
    });
    const dataplane = new IpvsDataplane({
      addresses: timedPart(new AddressApplier(sock, () => NODE.addresses), 'addresses', parts),
      ipvs: timedPart(new IpvsApplier(ipvs), 'ipvs', parts),
      netfilter: timedPart(netfilter, 'netfilter', parts),
      ownership: { nodePortRange: { from: 30000, to: 32767 }, excludedCidrs: [] },
      localAddresses: async () => new Set([NODE_IP, '127.0.0.1']),
    });
    const problems: Problem[] = [];
    const controller = new ProxyController({ source: cluster, dataplane, config: CONFIG, syncPeriodMs: 300_000, report: (p) => problems.push(p) });

    gc();
    const rssBefore = process.memoryUsage().rss;
    let s = snapshot(counters);
    let t = now();
    await controller.fullSync();
    const fullMs = now() - t;
    const fullCounts = since(counters, s);
    const fullParts = { ...parts };
    if (problems.length > 0) throw new Error(`planner reported ${problems.length} problems, first: ${problems[0]?.message}`);
    gc();
    const memory = process.memoryUsage();
    const raw = rawStateOf(controller.desiredState(), execRuns);
    const inKernel = await readBack(ns);
    if (inKernel.services !== SERVICES || inKernel.destinations !== SERVICES * ENDPOINTS_PER_SERVICE || inKernel.addresses !== SERVICES) {
      throw new Error(`proxy programmed ${inKernel.services} services, ${inKernel.destinations} destinations, ${inKernel.addresses} addresses; expected ${SERVICES} services and addresses`);
    }

    process.stdout.write(`proxy full sync ${fullMs.toFixed(0)} ms; periodic re-sync...\n`);
    for (const k of Object.keys(parts)) delete parts[k];
    s = snapshot(counters);
    t = now();
    await controller.fullSync();
    const resyncMs = now() - t;
    const resyncCounts = since(counters, s);
    const resyncParts = { ...parts };

    if (measureChanges) process.stdout.write(`re-sync ${resyncMs.toFixed(0)} ms; ${WARMUP} + ${CHANGES} endpoint changes...\n`);
    const changes = measureChanges ? await endpointChanges(cluster, controller, counters, ipvs) : undefined;
    return {
      run: {
        fullMs, fullParts, fullCounts, resyncMs, resyncParts, resyncCounts, ipvsadmSaveMs: inKernel.ipvsadmSaveMs,
        rssBeforeMiB: mib(rssBefore), rssMiB: mib(memory.rss), heapUsedMiB: mib(memory.heapUsed),
        rssAfterChangesMiB: mib(process.memoryUsage().rss),
      },
      raw,
      ...(changes ? { changes } : {}),
    };
  } finally {
    await opened.value.close();
    await sock.close();
    ns.delete();
  }
}

/** One endpoint replaced per change, each through handleChanges on its own; warm-up changes not counted. */
async function endpointChanges(cluster: BenchProxyCluster, controller: ProxyController, counters: Counters, ipvs: ReturnType<typeof countingIpvs>): Promise<ChangeStats> {
  const latencies: number[] = [];
  let seed = 12345;
  let s = snapshot(counters);
  let last = 0;
  for (let n = -WARMUP; n < CHANGES; n++) {
    if (n === 0) s = snapshot(counters);
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    last = seed % SERVICES;
    const key = cluster.replaceEndpoint(last);
    const t = now();
    const out = await controller.handleChanges([{ kind: 'EndpointSlice', key }]);
    if (n >= 0) latencies.push(now() - t);
    if (out.failed?.size) throw new Error(`change failed: ${String([...out.failed.values()][0])}`);
  }
  const counts = since(counters, s);
  // The last change is in the kernel: the service's destinations are the slice's addresses.
  const vs = controller.desiredState().plan(`bench/svc-${last}`)?.virtualServices[0];
  if (!vs) throw new Error('changed service has no plan');
  const dests = await ipvs.listDestinations({ family: 4, protocol: 'tcp', address: vs.address, port: vs.port });
  const want = (cluster.slicesOf(`bench/svc-${last}`)[0]?.endpoints ?? []).map((e) => e.addresses[0]).sort().join(',');
  const have = dests.ok ? dests.value.map((d) => d.address).sort().join(',') : `error ${dests.ok ? '' : dests.error.code}`;
  if (have !== want) throw new Error(`after the changes the kernel has ${have}, the slice ${want}`);
  const per = (x: number): number => x / Math.max(1, CHANGES);
  return {
    latencies,
    perChange: { ipvsMessages: per(counts.ipvsMessages), ipvsDumps: per(counts.ipvsDumps), rtnlMessages: per(counts.rtnlMessages), rtnlDumps: per(counts.rtnlDumps), execs: per(counts.execs) },
  };
}

async function main(): Promise<void> {
  gc();
  const rssAtStartMiB = mib(process.memoryUsage().rss);
  const t0 = now();
  const cluster = new BenchProxyCluster(SERVICES);
  const buildMs = now() - t0;
  const runs: ProxyRun[] = [];
  const raws: Awaited<ReturnType<typeof rawFullSync>>[] = [];
  let changes: ChangeStats | undefined;
  for (let r = 0; r < RUNS; r++) {
    const p = await proxyRun(cluster, r === RUNS - 1);
    runs.push(p.run);
    changes ??= p.changes;
    process.stdout.write(`run ${r + 1}: raw tools...\n`);
    const ns = nodeNamespace();
    try {
      raws.push(await rawFullSync(ns, p.raw, RAW_TIMEOUT_MS));
    } finally {
      ns.delete();
    }
    process.stdout.write(`run ${r + 1}: raw tools ${raws[raws.length - 1]!.totalMs.toFixed(0)} ms\n`);
  }
  report({ rssAtStartMiB, services: SERVICES, endpoints: ENDPOINTS_PER_SERVICE, buildMs, runs, raws, changes, warmup: WARMUP });
}

await main();
