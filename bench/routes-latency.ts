// Advertisement → kernel route latency: the real routes controller runs in a namespace node (supervised gobgpd,
// watch stream, route injector); a second gobgpd in another namespace plays a remote node (iBGP, AS 64512).
// Each sample advertises one pod CIDR at the remote speaker and times the moment the proto 17 route appears in
// the node's kernel (an rtnetlink event), then withdraws it and times the route's removal.
import { join } from 'node:path';
import { GobgpdSupervisor } from '../src/bgp/gobgpd-supervisor.ts';
import { connectGobgp, type GobgpSpeaker } from '../src/bgp/gobgp-client.ts';
import type { BgpResult } from '../src/bgp/speaker.ts';
import { createRoutingController, type RoutingControllerHandle } from '../src/controllers/routing/index.ts';
import { RtnlMonitor } from '../src/kernel/netlink/monitor.ts';
import { eventually, nodeObject, routingOptions, RoutingLab } from '../test/root/routing/routing-lab.ts';

const REMOTE_IP = '198.51.100.2';

function must<T>(r: BgpResult<T>): T {
  if (!r.ok) throw r.error;
  return r.value;
}

const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)] ?? NaN;

export async function advertisementLatency(samples: number): Promise<void> {
  const lab = new RoutingLab(1, 'krt-rtl');
  let handle: RoutingControllerHandle | undefined;
  let remoteSup: GobgpdSupervisor | undefined;
  let remote: GobgpSpeaker | undefined;
  let monitor: RtnlMonitor | undefined;
  try {
    const n1 = lab.node('n1');
    const remoteNs = lab.host(2);
    remoteSup = new GobgpdSupervisor({ socketPath: join(lab.dir, 'remote.sock'), adminPort: 0, netns: remoteNs.name });
    const up = await remoteSup.start();
    if (!up.ok) throw new Error(`remote gobgpd: ${JSON.stringify(up)}`);
    const connected = connectGobgp({ target: remoteSup.apiTarget });
    if (!connected.ok) throw new Error('remote gobgpd API');
    remote = connected.value;
    must(await remote.start({ asn: 64512, routerId: REMOTE_IP, listenAddresses: [REMOTE_IP], listenPort: 179 }));
    must(await remote.addPeer({ neighborAddress: n1.ip, peerAsn: 64512, families: ['ipv4'], connectRetrySec: 1 }));
    lab.cache.store('nodes').upsert(nodeObject(n1));
    lab.cache.store('nodes').upsert(nodeObject({ name: 'remote', ip: REMOTE_IP, podCidr: '198.18.250.0/24' }));
    handle = await createRoutingController(lab.context(n1, routingOptions('n1', n1.cniConfFile, ['--enable-pod-egress=false'])),
      { netns: n1.ns.name, socketPath: join(lab.dir, 'n1.sock') });
    await handle.controller.fullSync();
    const speaker = remote;
    await eventually('the node and the remote speaker to peer', 60_000, async () => {
      const peers = await speaker.listPeers();
      return peers.ok && peers.value.some((p) => p.state === 'established');
    });

    const waiting = new Map<string, { action: 'new' | 'del'; resolve: () => void }>();
    monitor = RtnlMonitor.open({
      netns: n1.ns.path,
      onEvent: (e) => {
        if (e.kind !== 'route' || e.route.protocol !== 17) return;
        const w = waiting.get(e.route.dst);
        if (w && w.action === e.action) {
          waiting.delete(e.route.dst);
          w.resolve();
        }
      },
    });
    const timed = async (prefix: string, action: 'new' | 'del', send: () => Promise<unknown>): Promise<number> => {
      const seen = new Promise<void>((resolve) => waiting.set(prefix, { action, resolve }));
      const t = performance.now();
      await send();
      await Promise.race([seen, new Promise((_, reject) => setTimeout(() => reject(new Error(`${prefix} ${action} not seen in 10 s`)), 10_000))]);
      return performance.now() - t;
    };
    const adds: number[] = [];
    const dels: number[] = [];
    for (let i = 0; i < samples; i++) {
      const path = { prefix: `198.18.${100 + (i % 100)}.0/24`, nextHop: REMOTE_IP, family: 'ipv4' as const, origin: 'igp' as const };
      adds.push(await timed(path.prefix, 'new', async () => must(await speaker.addPath(path))));
      dels.push(await timed(path.prefix, 'del', async () => must(await speaker.deletePath(path))));
    }
    const f = (x: number): string => x.toFixed(1).padStart(7);
    console.log(`\nadvertised pod CIDR → kernel route (real controller, iBGP from a second gobgpd), ${samples} samples`);
    console.log('                       p50 ms   p99 ms   max ms');
    console.log(`advertise → route     ${f(pct(adds, 50))}  ${f(pct(adds, 99))}  ${f(Math.max(...adds))}`);
    console.log(`withdraw  → no route  ${f(pct(dels, 50))}  ${f(pct(dels, 99))}  ${f(Math.max(...dels))}`);
  } finally {
    await monitor?.close();
    await handle?.shutdown?.();
    remote?.close();
    await remoteSup?.stop();
    lab.destroy();
  }
}
