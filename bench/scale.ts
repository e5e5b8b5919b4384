// bench:scale — the real daemon (routing + firewall; the service proxy too where the kernel has IPVS) in a lab
// node's namespace against the lab API server loaded with a synthetic cluster, per size: load rate, caches filled,
// first full sync per controller, peak/idle RSS, idle CPU, kernel objects, the raw tools writing the same state,
// and bytes per pod / per endpoint in src/kube's caches. Run as root:
//   npm run bench:scale -- [--sizes 1k,10k,50k] [--idle 120] [--local-pods 20] [--heap-snapshot DIR] [--daemon-args='FLAGS']
// --heap-snapshot saves the idle daemon's V8 heap snapshot per size (DIR/<size>.heapsnapshot, for
// `node bench/heap-summary.ts FILE` or Chrome's DevTools); the daemon then runs with --enable-pprof.
// The npm script runs this file compiled (dist/), so the lab starts the compiled daemon, as deployed: run from
// sources, tsx transpiles the daemon at start-up, which added ~6 s to its start at 50k pods on this machine.
import { parseArgs } from 'node:util';
import { down, up } from '../lab/cli/up-down.ts';
import { kernelHasIpvs } from '../lab/cluster/kube-router.ts';
import { DEFAULT_EXTERNAL_IP_RANGE, DEFAULT_LOADBALANCER_IP_RANGE } from '../lab/cluster/layout.ts';
import { DEFAULT_CLUSTER_CIDRS } from '../lab/controllers/index.ts';
import { DEFAULT_UNDERLAY_CIDR } from '../lab/netns/topology.ts';
import { apiWriter } from './api-writer.ts';
import { loadCluster, shapeFor } from './load-cluster.ts';
import { BenchDaemon, kernelCounts, procStatus } from './scale-daemon.ts';
import { cacheBytes, endpointsOf, plainStoreBytes } from './scale-heap.ts';
import { slimPod } from '../src/kube/slim.ts';
import { rawReplay } from './scale-raw.ts';

const PREFIX = 'krs';
/** 16,382 ClusterIPs (the lab's default /20 holds 4,094, fewer than the 10,000 Services at 50k pods); clear of the
 * lab's external-IP (198.19.32.0/24) and load-balancer (198.19.48.0/24) ranges and the fake nodes (198.19.64.0/18). */
const SERVICE_CIDR = '198.19.128.0/18';
const { values } = parseArgs({ options: {
  sizes: { type: 'string', default: '1k,10k' }, idle: { type: 'string', default: '120' },
  'local-pods': { type: 'string', default: '20' }, concurrency: { type: 'string', default: '32' },
  'heap-snapshot': { type: 'string' }, 'daemon-args': { type: 'string', default: '' },
} });
/** Extra kube-router flags, space-separated (e.g. --daemon-args=--use-nftables-for-netpol). */
const daemonArgs = (values['daemon-args'] ?? '').split(' ').filter(Boolean);
const sizes = (values.sizes ?? '1k,10k').split(',').filter(Boolean);
const idleSeconds = Number(values.idle);
const f1 = (n: number | undefined): string => (n === undefined || Number.isNaN(n) ? '—' : n.toFixed(1));

// an interrupted run still removes its lab (namespaces, supervisor, kube-router)
let current: string | undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { void (current ? down({ stateDir: current, prefix: PREFIX }) : Promise.resolve()).finally(() => process.exit(130)); });
}

async function runSize(size: string): Promise<string[]> {
  const stateDir = `/tmp/krs-bench-${size}`;
  current = stateDir;
  const record = await up({
    stateDir, prefix: PREFIX, nodes: 1, clusterCidr: DEFAULT_CLUSTER_CIDRS[0]!, serviceCidr: SERVICE_CIDR,
    underlayCidr: DEFAULT_UNDERLAY_CIDR, kubeRouter: false, kubeRouterArgs: [], staticRoutes: false,
    externalIpRange: DEFAULT_EXTERNAL_IP_RANGE, loadBalancerIpRange: DEFAULT_LOADBALANCER_IP_RANGE,
  });
  let daemon: BenchDaemon | undefined;
  try {
    const node = { ...record.nodes[0]!, netns: record.nodes[0]!.name };
    const shape = shapeFor(size, [node.name], Number(values['local-pods']), Number(values.concurrency));
    console.log(`\n== ${size}: ${shape.pods} pods (${shape.localPods} on ${node.name}), ${shape.policies} policies, ${shape.services} Services x ${shape.endpointsPerService} endpoints`);
    const writer = apiWriter({ kubeconfig: record.kubeconfig ?? '', server: record.apiUrl ?? '' }, shape.concurrency);
    const load = await loadCluster(writer, shape, console.log);
    writer.close();
    const api = procStatus(record.supervisorPid);
    console.log(`loaded ${load.creates} writes in ${f1(load.seconds['total'])} s (${load.createsPerSecond.toFixed(0)}/s); lab API server (supervisor) RSS ${api.rssMb.toFixed(0)} MB, peak ${api.hwmMb.toFixed(0)} MB`);
    const pods = await cacheBytes(record.kubeconfig ?? '', record.apiUrl ?? '', 'pods');
    const slices = await cacheBytes(record.kubeconfig ?? '', record.apiUrl ?? '', 'endpointslices', endpointsOf);
    const wholePods = await plainStoreBytes(record.kubeconfig ?? '', record.apiUrl ?? '', '/api/v1/pods');
    const slimPods = await plainStoreBytes(record.kubeconfig ?? '', record.apiUrl ?? '', '/api/v1/pods', slimPod);
    console.log(`cache bytes: ${pods.bytesPerUnit.toFixed(0)} per pod in the daemon's cache (${pods.objects} pods; plain store: whole Pods `
      + `${wholePods.bytesPerUnit.toFixed(0)}, slimmed ${slimPods.bytesPerUnit.toFixed(0)}), `
      + `${slices.bytesPerUnit.toFixed(0)} per endpoint (${slices.units} endpoints in ${slices.objects} slices)`);

    const snapshotDir = values['heap-snapshot'];
    daemon = new BenchDaemon(record, node, [...daemonArgs, ...(snapshotDir ? ['--enable-pprof'] : [])]);
    console.log(daemon.proxy ? 'service proxy: on (kernel has IPVS)' : 'service proxy: off — this kernel has no IPVS (routing + firewall only)');
    const startup = await daemon.waitForStartup(1800_000, record.supervisorPid);
    const syncs = Object.entries(startup.firstSyncS).map(([name, s]) => `${name} ${f1(s)} s`).join(', ');
    // The lab API server shares the two cores (the raw tools run later, on a quiet machine): its CPU around
    // the firewall's first sync says how much of them that sync had.
    const other = startup.otherCpuDuringNetpolSync;
    console.log(`caches filled ${f1(startup.cachesFilledS)} s; first full sync: ${syncs}; peak RSS so far ${startup.peakRssMb.toFixed(0)} MB`
      + (other ? `; lab API server CPU in the ${other.windowS.toFixed(2)} s around the first netpol sync: ${other.cpuS.toFixed(2)} s` : ''));
    const metrics = await daemon.metrics();
    // The first full sync's own time, plan and kernel writes (the firewall's sync histogram holds just that one
    // sync now); the wall time from "running" to it is not used: the health poll runs every ~0.3 s.
    const netpolPlanS = metrics.get('controller_policy_chains_sync_time_sum');
    const netpolSyncS = metrics.get('controller_iptables_sync_time_sum');
    const netpolSyncs = metrics.get('controller_iptables_sync_time_count');
    const idle = await daemon.idle(idleSeconds);
    console.log(`idle ${idleSeconds} s: RSS ${idle.rssMb.toFixed(0)} MB, CPU ${idle.cpuCores.toFixed(4)} cores; peak RSS ${idle.peakRssMb.toFixed(0)} MB`);
    if (snapshotDir) console.log(`heap snapshot: ${await daemon.heapSnapshot(`${snapshotDir}/${size}.heapsnapshot`)}`);
    const kernel = await kernelCounts(node.netns, daemon.proxy);
    const raw = rawReplay(kernel.ipsetSave, kernel.iptablesSave, kernel.nftSave);
    const daemonWrite = netpolSyncs === 1 && netpolSyncS !== undefined ? netpolSyncS : NaN;
    const part = (name: string): string => metrics.get(`controller_${name}_sum`)?.toFixed(2) ?? '—';
    console.log(`kernel: ${kernel.sets} sets, ${kernel.setEntries} set entries, ${kernel.rules} rules${kernel.ipvsServices !== undefined ? `, ${kernel.ipvsServices} IPVS services` : ''}`);
    const rawParts = raw.nftS > 0 ? `nft -f ${raw.nftS.toFixed(2)} s` : `ipset restore ${raw.ipsetRestoreS.toFixed(2)} s + iptables-restore ${raw.iptablesRestoreS.toFixed(2)} s`;
    console.log(`raw tools: ${rawParts} = ${raw.totalS.toFixed(2)} s; `
      + `daemon's first netpol sync ${daemonWrite.toFixed(2)} s (of it planning ${netpolPlanS?.toFixed(2) ?? '—'} s, iptables-save ${part('iptables_v4_save_time')} s, `
      + `ipset restore ${part('policy_ipset_v4_restore_time')} s, iptables-restore ${part('iptables_v4_restore_time')} s; ${netpolSyncs ?? 0} sync(s) by then), `
      + `ratio ${(daemonWrite / raw.totalS).toFixed(2)}x`);
    return [`| ${size} | ${shape.pods} / ${shape.policies} / ${shape.services} | ${load.createsPerSecond.toFixed(0)}/s | ${api.rssMb.toFixed(0)} MB | ${f1(startup.cachesFilledS)} s | ${syncs} | `
      + `${idle.peakRssMb.toFixed(0)} MB | ${idle.rssMb.toFixed(0)} MB | ${idle.cpuCores.toFixed(4)} | ${kernel.sets} / ${kernel.setEntries} / ${kernel.rules} | `
      + `${raw.totalS.toFixed(2)} s | ${daemonWrite.toFixed(2)} s = ${(daemonWrite / raw.totalS).toFixed(2)}x | ${pods.bytesPerUnit.toFixed(0)} (plain store: ${wholePods.bytesPerUnit.toFixed(0)} whole, ${slimPods.bytesPerUnit.toFixed(0)} slim) | ${slices.bytesPerUnit.toFixed(0)} |`];
  } finally {
    await daemon?.stop();
    await down({ stateDir, prefix: PREFIX });
    current = undefined;
  }
}

console.log(`bench:scale sizes ${sizes.join(', ')}, idle window ${idleSeconds} s; IPVS on this kernel: ${kernelHasIpvs() ? 'yes' : 'no (the proxy does not run)'}`);
const rows: string[] = [];
for (const size of sizes) rows.push(...await runSize(size));
console.log('\n| size | pods / policies / Services | API load rate | API server RSS | caches filled | first full sync | peak RSS | idle RSS | idle CPU (cores) | sets / entries / rules | raw tools | daemon sync / raw | B/pod | B/endpoint |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const row of rows) console.log(row);
