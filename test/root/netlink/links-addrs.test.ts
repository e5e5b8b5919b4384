// Links and addresses through our rtnetlink socket inside a test namespace, checked against `ip -j`.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { NetlinkError } from '../../../src/kernel/netlink/codec.ts';
import {
  IFA_F_NODAD, addAddress, createBridge, createVeth, deleteAddress, deleteLink, getLink, listAddresses, listLinks,
  openRtnetlink, setLinkDown, setLinkMaster, setLinkMtu, setLinkUp, type Link,
} from '../../../src/kernel/netlink/rtnetlink.ts';
import type { NetlinkSocket } from '../../../src/kernel/netlink/socket.ts';
import { TestNetns, isRoot } from '../../helpers/netns.ts';
import { addrKey, ipAddrKeys, ipLinkKeys, linkKey, sorted } from './ip-json.ts';

const skip = isRoot ? false : 'needs root';
let ns: TestNetns;
let sock: NetlinkSocket;
let vethA: Link;
let vethB: Link;
let bridge: Link;

before(async () => {
  if (!isRoot) return;
  ns = new TestNetns('krt-nl');
  sock = openRtnetlink({ netns: ns.path });
  await createVeth(sock, 'krtnl-a', 'krtnl-b');
  await createBridge(sock, 'krtnl-br');
  [vethA, vethB, bridge] = await Promise.all([getLink(sock, 'krtnl-a'), getLink(sock, 'krtnl-b'), getLink(sock, 'krtnl-br')]);
});

after(async () => {
  await sock?.close();
  ns?.delete();
});

test('a veth pair is created with both ends in the namespace, pointing at each other', { skip }, () => {
  assert.equal(vethA.kind, 'veth');
  assert.equal(vethB.kind, 'veth');
  assert.equal(vethA.parent, vethB.index);
  assert.equal(vethB.parent, vethA.index);
  assert.equal(bridge.kind, 'bridge');
  const names = (JSON.parse(ns.ip('-j', 'link', 'show')) as Array<{ ifname: string }>).map((l) => l.ifname);
  assert.deepEqual(names.sort(), ['krtnl-a', 'krtnl-b', 'krtnl-br', 'lo']);
});

test('link up, MTU and bridge master set over netlink show up in the kernel', { skip }, async () => {
  await setLinkMtu(sock, vethA.index, 1400);
  await setLinkMaster(sock, vethB.index, bridge.index);
  for (const l of [vethA, vethB, bridge]) await setLinkUp(sock, l.index);
  const a = JSON.parse(ns.ip('-j', 'link', 'show', 'krtnl-a')) as Array<{ mtu: number; flags: string[] }>;
  assert.equal(a[0]?.mtu, 1400);
  assert.ok(a[0]?.flags.includes('UP'));
  const b = JSON.parse(ns.ip('-j', 'link', 'show', 'krtnl-b')) as Array<{ master?: string }>;
  assert.equal(b[0]?.master, 'krtnl-br');
  assert.equal((await getLink(sock, vethB.index)).master, bridge.index);
});

test('dumped links match `ip -j link show` (index, name, mtu, up, mac, master, operstate)', { skip }, async () => {
  const links = await listLinks(sock);
  assert.equal(links.length, 4);
  assert.deepEqual(sorted(links.map(linkKey)), sorted(ipLinkKeys(ns)));
});

test('IPv4 and IPv6 addresses are added and dumped exactly as `ip -j addr show` lists them', { skip }, async () => {
  await addAddress(sock, { ifindex: vethA.index, address: '198.51.100.1/24' });
  await addAddress(sock, { ifindex: vethA.index, address: '2001:db8:1::1/64', flags: IFA_F_NODAD });
  await addAddress(sock, { ifindex: bridge.index, address: '198.18.0.1/16' });
  const addrs = await listAddresses(sock);
  assert.deepEqual(sorted(addrs.map(addrKey)), sorted(ipAddrKeys(ns)));
  const onA = await listAddresses(sock, { ifindex: vethA.index, family: 4 });
  assert.deepEqual(onA.map((a) => a.address), ['198.51.100.1/24']);
  const v6 = (await listAddresses(sock, { ifindex: vethA.index, family: 6 })).map((a) => a.address);
  assert.ok(v6.includes('2001:db8:1::1/64'), v6.join());
});

test('adding an address twice is refused with EEXIST; deleting removes it', { skip }, async () => {
  await assert.rejects(addAddress(sock, { ifindex: vethA.index, address: '198.51.100.1/24' }),
    (e: unknown) => e instanceof NetlinkError && e.code === 'EEXIST');
  await deleteAddress(sock, { ifindex: vethA.index, address: '198.51.100.1/24' });
  assert.doesNotMatch(ns.ip('addr', 'show', 'dev', 'krtnl-a'), /198\.51\.100\.1/);
  await assert.rejects(deleteAddress(sock, { ifindex: vethA.index, address: '198.51.100.1/24' }),
    (e: unknown) => e instanceof NetlinkError && e.code === 'EADDRNOTAVAIL');
});

test('a link set down reports down; deleting one veth end removes both', { skip }, async () => {
  await setLinkDown(sock, bridge.index);
  assert.equal((await getLink(sock, 'krtnl-br')).up, false);
  await deleteLink(sock, vethA.index);
  await assert.rejects(getLink(sock, 'krtnl-b'), (e: unknown) => e instanceof NetlinkError && e.code === 'ENODEV');
  assert.deepEqual((await listLinks(sock)).map((l) => l.name).sort(), ['krtnl-br', 'lo']);
});
