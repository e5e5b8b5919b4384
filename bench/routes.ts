// Benchmark: installing N learned BGP routes through the route injector (best-path events -> batched netlink
// replace) against `ip -batch` adding the same routes, each in a fresh namespace, in the same run; prints the ratio.
// Then the time from a remote speaker advertising a pod CIDR to the route in the kernel (routes-latency.ts).
// Run as root: node --import tsx bench/routes.ts [count] [runs] [latency-samples]
import { RouteInjector } from '../src/controllers/routing/apply-routes.ts';
import { openRtnetlink, listRoutes, ROUTE_PROTOCOL_KUBE_ROUTER } from '../src/kernel/netlink/rtnetlink.ts';
import { TestNetns, sh } from '../test/helpers/netns.ts';
import type { BestPathEvent } from '../src/bgp/speaker.ts';
import { advertisementLatency } from './routes-latency.ts';

const count = Number(process.argv[2] ?? 5000);
const runs = Number(process.argv[3] ?? 3);
const NEXT_HOP = '198.51.100.2';

function prefixes(): string[] {
  // /32s inside 198.18.0.0/15: up to 131072 distinct routes.
  return Array.from({ length: count }, (_, i) => `198.${18 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`);
}

function freshNode(): TestNetns {
  const ns = new TestNetns('krt-rt-bench');
  try {
    // No dummy driver on this kernel: a veth pair inside the namespace gives the on-link subnet.
    ns.ip('link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth1');
    ns.ip('addr', 'add', '198.51.100.1/24', 'dev', 'eth0');
    ns.ip('link', 'set', 'eth1', 'up');
    ns.ip('link', 'set', 'eth0', 'up');
    return ns;
  } catch (e) {
    ns.delete();
    throw e;
  }
}

async function viaInjector(dsts: string[]): Promise<number> {
  const ns = freshNode();
  const sock = openRtnetlink({ netns: ns.path });
  try {
    const injector = new RouteInjector({ sock, adoptExistingForMs: 0 });
    const events: BestPathEvent[] = dsts.map((prefix) => ({
      prefix, nextHop: NEXT_HOP, family: 'ipv4', withdrawal: false, fromPeer: NEXT_HOP, isLocal: false, communities: [],
    }));
    const t = performance.now();
    for (const e of events) injector.onBestPath(e);
    await injector.drain();
    const elapsed = performance.now() - t;
    const installed = (await listRoutes(sock, { protocol: ROUTE_PROTOCOL_KUBE_ROUTER })).length;
    if (installed !== dsts.length) throw new Error(`injector installed ${installed} of ${dsts.length} routes`);
    return elapsed;
  } finally {
    await sock.close();
    ns.delete();
  }
}

function viaIpBatch(dsts: string[]): number {
  const ns = freshNode();
  try {
    const script = dsts.map((d) => `route add ${d} via ${NEXT_HOP} proto 17`).join('\n');
    const t = performance.now();
    sh('ip', ['-n', ns.name, '-batch', '-'], script);
    const elapsed = performance.now() - t;
    const installed = sh('ip', ['-n', ns.name, 'route', 'show', 'proto', '17']).trim().split('\n').length;
    if (installed !== dsts.length) throw new Error(`ip -batch installed ${installed} of ${dsts.length} routes`);
    return elapsed;
  } finally {
    ns.delete();
  }
}

async function main(): Promise<void> {
  const dsts = prefixes();
  console.log(`installing ${count} learned /32 routes, ${runs} runs`);
  console.log('run  injector_ms  ip_batch_ms  ratio');
  const ratios: number[] = [];
  for (let run = 1; run <= runs; run++) {
    const injector = await viaInjector(dsts);
    const batch = viaIpBatch(dsts);
    ratios.push(injector / batch);
    console.log(`${String(run).padStart(3)}  ${injector.toFixed(0).padStart(11)}  ${batch.toFixed(0).padStart(11)}  ${(injector / batch).toFixed(2)}`);
  }
  const sorted = [...ratios].sort((a, b) => a - b);
  console.log(`median ratio injector/ip-batch: ${sorted[Math.floor(sorted.length / 2)]!.toFixed(2)}`);
  await advertisementLatency(Number(process.argv[4] ?? 100));
}

await main();
