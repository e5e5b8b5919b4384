// Benchmark: 10,000 /32 routes through the netlink addon in a fresh namespace (encode, batched add,
// dump, batched delete), at a few chunk sizes, next to `ip -batch` as a baseline.
// Run as root: node --import tsx bench/routes-raw.ts [runs]
import {
  ROUTE_PROTOCOL_KUBE_ROUTER, addAddress, addRoutes, createVeth, deleteRoutes, encodeRoute, getLink, listRoutes,
  openRtnetlink, routeWithDefaults, setLinkUp,
} from '../src/kernel/netlink/rtnetlink.ts';
import { TestNetns, sh } from '../test/helpers/netns.ts';

const COUNT = 10_000;
const runs = Number(process.argv[2] ?? 3);
const chunkSizes = [250, 1024, 2500];

function ms(start: number): string {
  return (performance.now() - start).toFixed(0).padStart(5);
}

async function main(): Promise<void> {
  const routes = Array.from({ length: COUNT }, (_, i) =>
    routeWithDefaults({ dst: `198.18.${i >> 8}.${i & 255}/32`, gateway: '198.51.100.2' }));
  for (let run = 0; run < runs; run++) {
    for (const chunk of chunkSizes) {
      const ns = new TestNetns('krt-nl');
      const sock = openRtnetlink({ netns: ns.path });
      try {
        await createVeth(sock, 'krtnl-a', 'krtnl-b');
        const a = await getLink(sock, 'krtnl-a');
        await setLinkUp(sock, a.index);
        await addAddress(sock, { ifindex: a.index, address: '198.51.100.1/24' });
        let t = performance.now();
        routes.forEach((r) => encodeRoute(r, 'add'));
        const encode = ms(t);
        t = performance.now();
        const added = await addRoutes(sock, routes, { maxChunkMessages: chunk, maxChunkBytes: 200_000 });
        const add = ms(t);
        t = performance.now();
        const ours = await listRoutes(sock, { protocol: ROUTE_PROTOCOL_KUBE_ROUTER });
        const dump = ms(t);
        t = performance.now();
        const deleted = await deleteRoutes(sock, ours, { maxChunkMessages: chunk, maxChunkBytes: 200_000 });
        const del = ms(t);
        if (added.errors.length || deleted.errors.length || ours.length !== COUNT) throw new Error('bench run failed');
        // Baseline on the same machine state: the same 10k adds through one `ip -batch` process.
        t = performance.now();
        sh('ip', ['-n', ns.name, '-batch', '-'], routes.map((r) => `route add ${r.dst} via ${r.gateway}`).join('\n') + '\n');
        const ipBatch = ms(t);
        console.log(`run ${run} chunk ${String(chunk).padStart(4)}: encode ${encode} ms  add ${add} ms  dump ${dump} ms  delete ${del} ms  | ip -batch add ${ipBatch} ms`);
      } finally {
        await sock.close();
        ns.delete();
      }
    }
  }
}

await main();
