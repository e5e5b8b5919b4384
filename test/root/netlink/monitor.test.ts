// The rtnetlink multicast monitor, watching a test namespace from the host process: route and link
// events arrive decoded, and a flooded receive buffer is reported as an overrun.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { RtnlMonitor, type RtnlEvent } from '../../../src/kernel/netlink/monitor.ts';
import {
  IFA_F_NODAD, ROUTE_PROTOCOL_KUBE_ROUTER, addAddress, addRoutes, createBridge, deleteRoutes, getLink, openRtnetlink,
  routeWithDefaults, setLinkUp,
} from '../../../src/kernel/netlink/rtnetlink.ts';
import type { NetlinkSocket } from '../../../src/kernel/netlink/socket.ts';
import { TestNetns, isRoot, sh } from '../../helpers/netns.ts';

const skip = isRoot ? false : 'needs root';
let ns: TestNetns;
let sock: NetlinkSocket;
let monitor: RtnlMonitor | undefined;
const events: RtnlEvent[] = [];

async function waitFor<T>(find: () => T | undefined, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

before(async () => {
  if (!isRoot) return;
  ns = new TestNetns('krt-nl');
  sock = openRtnetlink({ netns: ns.path });
  monitor = RtnlMonitor.open({ netns: ns.path, onEvent: (e) => events.push(e) });
  await createBridge(sock, 'krtnl-br');
  const br = await getLink(sock, 'krtnl-br');
  await setLinkUp(sock, br.index);
  await addAddress(sock, { ifindex: br.index, address: '198.51.100.1/24' });
  await addAddress(sock, { ifindex: br.index, address: '2001:db8:1::1/64', flags: IFA_F_NODAD });
});

after(async () => {
  await monitor?.close();
  await sock?.close();
  ns?.delete();
});

test('a bridge created in the namespace arrives as a decoded link event', { skip }, async () => {
  const e = await waitFor(() => events.find((x) => x.kind === 'link' && x.action === 'new' && x.link.name === 'krtnl-br'), 'link event');
  assert.equal(e.kind === 'link' && e.link.kind, 'bridge');
});

test('routes added and deleted in the namespace arrive as new/del route events', { skip }, async () => {
  const v4 = routeWithDefaults({ dst: '198.18.7.0/24', gateway: '198.51.100.2' });
  const v6 = routeWithDefaults({ dst: '2001:db8:7::/64', gateway: '2001:db8:1::2' });
  assert.equal((await addRoutes(sock, [v4, v6])).acked, 2);
  for (const dst of [v4.dst, v6.dst]) {
    const e = await waitFor(() => events.find((x) => x.kind === 'route' && x.action === 'new' && x.route.dst === dst), `new ${dst}`);
    assert.ok(e.kind === 'route');
    assert.equal(e.route.protocol, ROUTE_PROTOCOL_KUBE_ROUTER);
    assert.equal(e.route.gateway, dst === v4.dst ? '198.51.100.2' : '2001:db8:1::2');
  }
  ns.ip('route', 'add', '198.18.8.0/24', 'via', '198.51.100.3', 'proto', 'static');
  await waitFor(() => events.find((x) => x.kind === 'route' && x.route.dst === '198.18.8.0/24' && x.route.protocol === 4), 'route added by ip');
  assert.equal((await deleteRoutes(sock, [v4])).acked, 1);
  await waitFor(() => events.find((x) => x.kind === 'route' && x.action === 'del' && x.route.dst === v4.dst), 'del event');
});

test('a monitor with a tiny receive buffer reports an overrun when a burst floods it, then keeps going', { skip }, async () => {
  let overruns = 0;
  let lastEventAt = 0;
  const seen: RtnlEvent[] = [];
  const small = RtnlMonitor.open({
    netns: ns.path, rcvbufBytes: 4096, onOverrun: () => overruns++,
    onEvent: (e) => { seen.push(e); lastEventAt = Date.now(); },
  });
  try {
    // `ip -batch` runs synchronously, so this thread cannot drain the socket while 2000 events arrive.
    const burst = Array.from({ length: 2000 }, (_, i) => `route add 198.18.${100 + (i >> 8)}.${i & 255}/32 via 198.51.100.2`).join('\n');
    sh('ip', ['-n', ns.name, '-batch', '-'], burst + '\n');
    await waitFor(() => (overruns > 0 ? overruns : undefined), 'overrun');
    await waitFor(() => (Date.now() - lastEventAt > 200 ? true : undefined), 'the burst to drain');
    const after = routeWithDefaults({ dst: '198.18.9.0/24', gateway: '198.51.100.2' });
    assert.equal((await addRoutes(sock, [after])).acked, 1);
    await waitFor(() => seen.find((x) => x.kind === 'route' && x.route.dst === after.dst), 'an event after the overrun');
  } finally {
    await small.close();
  }
});
