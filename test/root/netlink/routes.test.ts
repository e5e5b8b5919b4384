// Routes through our rtnetlink socket inside a test namespace: dumps against `ip -j`, 10,000-route
// batches (add, dump, delete, timed), per-request NACKs, replace, and protocol-scoped deletes.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  IFA_F_NODAD, ROUTE_PROTOCOL_KUBE_ROUTER, RTPROT_STATIC, addAddress, addRoutes, createVeth, deleteRoutes, getLink,
  listRoutes, openRtnetlink, replaceRoutes, routeWithDefaults, setLinkUp, type Route,
} from '../../../src/kernel/netlink/rtnetlink.ts';
import type { NetlinkSocket } from '../../../src/kernel/netlink/socket.ts';
import { TestNetns, isRoot } from '../../helpers/netns.ts';
import { ipRouteKeys, routeKey, sorted } from './ip-json.ts';

const skip = isRoot ? false : 'needs root';
let ns: TestNetns;
let sock: NetlinkSocket;
let oif = 0;

before(async () => {
  if (!isRoot) return;
  ns = new TestNetns('krt-nl');
  sock = openRtnetlink({ netns: ns.path });
  await createVeth(sock, 'krtnl-a', 'krtnl-b');
  const a = await getLink(sock, 'krtnl-a');
  oif = a.index;
  await setLinkUp(sock, a.index);
  await setLinkUp(sock, (await getLink(sock, 'krtnl-b')).index);
  await addAddress(sock, { ifindex: a.index, address: '198.51.100.1/24' });
  await addAddress(sock, { ifindex: a.index, address: '2001:db8:1::1/64', flags: IFA_F_NODAD });
});

after(async () => {
  await sock?.close();
  ns?.delete();
});

function hostRoutes(count: number): Route[] {
  return Array.from({ length: count }, (_, i) =>
    routeWithDefaults({ dst: `198.18.${i >> 8}.${i & 255}/32`, gateway: '198.51.100.2' }));
}

test('dumped routes in every table match `ip -j route show table all`, IPv4 and IPv6', { skip }, async () => {
  ns.ip('route', 'add', '198.18.200.0/24', 'via', '198.51.100.2', 'metric', '50', 'proto', 'static');
  ns.ip('route', 'add', '198.18.201.0/24', 'dev', 'krtnl-a', 'table', '77', 'src', '198.51.100.1');
  ns.ip('-6', 'route', 'add', '2001:db8:9::/48', 'via', '2001:db8:1::2', 'table', '1000');
  for (const family of [4, 6] as const) {
    const ours = await listRoutes(sock, { family });
    assert.deepEqual(sorted(ours.map(routeKey)), sorted(ipRouteKeys(ns, family)), `IPv${family}`);
  }
  const all = await listRoutes(sock);
  assert.ok(all.some((r) => r.family === 4) && all.some((r) => r.family === 6));
  assert.deepEqual((await listRoutes(sock, { table: 77 })).map((r) => r.dst), ['198.18.201.0/24']);
  assert.deepEqual((await listRoutes(sock, { protocol: RTPROT_STATIC })).map((r) => r.dst), ['198.18.200.0/24']);
});

test('10,000 /32 routes are added in batches, dumped back by protocol, then deleted to zero', { skip }, async (t) => {
  const routes = hostRoutes(10_000);
  let start = performance.now();
  const added = await addRoutes(sock, routes);
  const addMs = performance.now() - start;
  assert.deepEqual(added, { acked: 10_000, errors: [] });

  start = performance.now();
  const ours = await listRoutes(sock, { protocol: ROUTE_PROTOCOL_KUBE_ROUTER });
  const dumpMs = performance.now() - start;
  assert.equal(ours.length, 10_000);
  assert.deepEqual(new Set(ours.map((r) => r.dst)), new Set(routes.map((r) => r.dst)));
  assert.ok(ours.every((r) => r.gateway === '198.51.100.2' && r.oif === oif && r.table === 254));
  const kernelCount = ns.ip('route', 'show', 'proto', '17').trim().split('\n').length;
  assert.equal(kernelCount, 10_000);

  start = performance.now();
  const deleted = await deleteRoutes(sock, ours);
  const deleteMs = performance.now() - start;
  assert.deepEqual(deleted, { acked: 10_000, errors: [] });
  assert.equal((await listRoutes(sock, { protocol: ROUTE_PROTOCOL_KUBE_ROUTER })).length, 0);
  assert.equal(ns.ip('route', 'show', 'proto', '17').trim(), '');
  t.diagnostic(`10k add ${addMs.toFixed(0)} ms (${(addMs / 10).toFixed(1)} us/route), dump ${dumpMs.toFixed(0)} ms, delete ${deleteMs.toFixed(0)} ms`);
});

test('one bad route in a batch is refused alone: NACK with errno, extack and its index', { skip }, async () => {
  const routes = hostRoutes(3000);
  routes[2345] = routeWithDefaults({ dst: '198.18.250.0/24', gateway: '203.0.113.9' }); // gateway on no link
  const result = await addRoutes(sock, routes, { maxChunkMessages: 1000 });
  assert.equal(result.acked, 2999);
  assert.equal(result.errors.length, 1);
  const [err] = result.errors;
  assert.equal(err?.index, 2345);
  assert.equal(err?.code, 'ENETUNREACH');
  assert.equal(err?.errno, 101);
  assert.match(err?.extack ?? '', /gateway/i);
  assert.equal((await listRoutes(sock, { protocol: ROUTE_PROTOCOL_KUBE_ROUTER })).length, 2999);
  const cleanup = await deleteRoutes(sock, routes);
  assert.equal(cleanup.acked, 2999);
  assert.deepEqual(cleanup.errors.map((e) => [e.index, e.code]), [[2345, 'ESRCH']]);
});

test('adding an existing route is EEXIST; replace rewrites its gateway', { skip }, async () => {
  const route = routeWithDefaults({ dst: '198.18.100.0/24', gateway: '198.51.100.2' });
  assert.equal((await addRoutes(sock, [route])).acked, 1);
  assert.deepEqual((await addRoutes(sock, [route])).errors.map((e) => e.code), ['EEXIST']);
  assert.equal((await replaceRoutes(sock, [{ ...route, gateway: '198.51.100.3' }])).acked, 1);
  const [now] = await listRoutes(sock, { protocol: ROUTE_PROTOCOL_KUBE_ROUTER });
  assert.equal(now?.gateway, '198.51.100.3');
  assert.deepEqual((await deleteRoutes(sock, [route])).errors.map((e) => e.code), ['ESRCH'], 'the old gateway no longer matches');
  assert.equal((await deleteRoutes(sock, [now!])).acked, 1);
});

test('deleting with our protocol leaves a same-destination route of another protocol alone', { skip }, async () => {
  ns.ip('route', 'add', '198.18.101.0/24', 'via', '198.51.100.2', 'proto', 'static');
  const ours = routeWithDefaults({ dst: '198.18.101.0/24', gateway: '198.51.100.2' });
  assert.deepEqual((await deleteRoutes(sock, [ours])).errors.map((e) => e.code), ['ESRCH']);
  assert.match(ns.ip('route', 'show', '198.18.101.0/24'), /proto static/);
});

test('IPv6 routes are added, dumped and deleted the same way', { skip }, async () => {
  const routes = Array.from({ length: 500 }, (_, i) =>
    routeWithDefaults({ dst: `2001:db8:100:${(i + 1).toString(16)}::/64`, gateway: '2001:db8:1::2', table: 1000 }));
  assert.deepEqual(await addRoutes(sock, routes), { acked: 500, errors: [] });
  const ours = await listRoutes(sock, { family: 6, protocol: ROUTE_PROTOCOL_KUBE_ROUTER, table: 1000 });
  assert.deepEqual(ours.map((r) => r.dst).sort(), routes.map((r) => r.dst).sort());
  assert.equal(ns.ip('-6', 'route', 'show', 'table', '1000', 'proto', '17').trim().split('\n').length, 500);
  assert.deepEqual(await deleteRoutes(sock, ours), { acked: 500, errors: [] });
  assert.equal(ns.ip('-6', 'route', 'show', 'table', '1000', 'proto', '17').trim(), '');
});
