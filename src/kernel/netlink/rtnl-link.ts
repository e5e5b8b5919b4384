// Network interfaces over rtnetlink: the Link model, ifinfomsg + IFLA_* decoding, dumps and lookups,
// creating bridges, dummies and veth pairs, and setting up/down, MTU and master.
import { closeSync, openSync } from 'node:fs';
import {
  NLM_F_CREATE, NLM_F_EXCL, zeroed, attr, attrNested, attrString, attrU32, parseAttrs, readString, readU32, readU8,
  type NetlinkMessage,
} from './codec.ts';
import { RTM_DELLINK, RTM_GETLINK, RTM_NEWLINK } from './rtnl-const.ts';
import type { NetlinkSocket } from './socket.ts';

const IFINFOMSG_LEN = 16;
const IFLA_ADDRESS = 1;
const IFLA_IFNAME = 3;
const IFLA_MTU = 4;
const IFLA_LINK = 5;
const IFLA_MASTER = 10;
const IFLA_OPERSTATE = 16;
const IFLA_LINKINFO = 18;
const IFLA_NET_NS_FD = 28;
const IFLA_INFO_KIND = 1;
const IFLA_INFO_DATA = 2;
const VETH_INFO_PEER = 1;

export const IFF_UP = 0x1;
export const IFF_LOOPBACK = 0x8;
export const IFF_LOWER_UP = 0x10000;

const OPERSTATES = ['UNKNOWN', 'NOTPRESENT', 'DOWN', 'LOWERLAYERDOWN', 'TESTING', 'DORMANT', 'UP'];

export interface Link {
  index: number;
  name: string;
  /** ARPHRD_* hardware type (1 ether, 772 loopback). */
  hwType: number;
  /** IFF_* flags. */
  flags: number;
  up: boolean;
  mtu?: number;
  /** Ifindex of the bridge (or bond) this link is enslaved to. */
  master?: number;
  /** Hardware address, 'aa:bb:cc:dd:ee:ff'. */
  address?: string;
  /** IFLA_INFO_KIND: 'bridge', 'veth', 'vxlan', ...; absent for physical and loopback devices. */
  kind?: string;
  /** RFC 2863 state as iproute2 prints it: 'UP', 'DOWN', 'UNKNOWN', ... */
  operstate?: string;
  /** IFLA_LINK: the peer's ifindex for veth, the lower device for vlan/vxlan. */
  parent?: number;
}

function ifinfomsg(index: number, flags = 0, change = 0): Buffer {
  const b = zeroed(IFINFOMSG_LEN);
  b.writeInt32LE(index, 4);
  b.writeUInt32LE(flags >>> 0, 8);
  b.writeUInt32LE(change >>> 0, 12);
  return b;
}

export function decodeLink(msg: NetlinkMessage): Link | undefined {
  const p = msg.payload;
  if (p.length < IFINFOMSG_LEN) return undefined;
  const a = parseAttrs(p, IFINFOMSG_LEN);
  const flags = p.readUInt32LE(8);
  const link: Link = {
    index: p.readInt32LE(4),
    name: readString(a.get(IFLA_IFNAME) ?? Buffer.alloc(0)),
    hwType: p.readUInt16LE(2),
    flags,
    up: (flags & IFF_UP) !== 0,
  };
  const mtu = readU32(a.get(IFLA_MTU));
  if (mtu !== undefined) link.mtu = mtu;
  const master = readU32(a.get(IFLA_MASTER));
  if (master) link.master = master;
  const hw = a.get(IFLA_ADDRESS);
  if (hw && hw.length > 0) link.address = [...hw].map((x) => x.toString(16).padStart(2, '0')).join(':');
  const info = a.get(IFLA_LINKINFO);
  const kind = info ? parseAttrs(info).get(IFLA_INFO_KIND) : undefined;
  if (kind) link.kind = readString(kind);
  const oper = readU8(a.get(IFLA_OPERSTATE));
  if (oper !== undefined) link.operstate = OPERSTATES[oper] ?? String(oper);
  const parent = readU32(a.get(IFLA_LINK));
  if (parent !== undefined) link.parent = parent;
  return link;
}

export async function listLinks(sock: NetlinkSocket): Promise<Link[]> {
  const out: Link[] = [];
  for (const msg of await sock.dump(RTM_GETLINK, ifinfomsg(0))) {
    const link = msg.type === RTM_NEWLINK ? decodeLink(msg) : undefined;
    if (link) out.push(link);
  }
  return out;
}

/** One link by name or index; rejects with NetlinkError ENODEV when it does not exist. */
export async function getLink(sock: NetlinkSocket, nameOrIndex: string | number): Promise<Link> {
  const payload = typeof nameOrIndex === 'number'
    ? ifinfomsg(nameOrIndex)
    : Buffer.concat([ifinfomsg(0), attrString(IFLA_IFNAME, nameOrIndex)]);
  const replies = await sock.request(RTM_GETLINK, 0, payload);
  const link = replies.map((m) => (m.type === RTM_NEWLINK ? decodeLink(m) : undefined)).find((l) => l);
  if (!link) throw new Error(`RTM_GETLINK ${nameOrIndex}: no link in the reply`);
  return link;
}

async function createLink(sock: NetlinkSocket, name: string, kind: string, infoData: Buffer[], mtu?: number): Promise<void> {
  const info = [attrString(IFLA_INFO_KIND, kind)];
  if (infoData.length > 0) info.push(attrNested(IFLA_INFO_DATA, infoData));
  const attrs = [attrString(IFLA_IFNAME, name), attrNested(IFLA_LINKINFO, info)];
  if (mtu !== undefined) attrs.push(attrU32(IFLA_MTU, mtu));
  await sock.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, Buffer.concat([ifinfomsg(0), ...attrs]));
}

/** Creates a bridge device (down); rejects with EEXIST when the name is taken. */
export function createBridge(sock: NetlinkSocket, name: string, opts: { mtu?: number } = {}): Promise<void> {
  return createLink(sock, name, 'bridge', [], opts.mtu);
}

/** Creates a dummy device (down); rejects with EEXIST when the name is taken. */
export function createDummy(sock: NetlinkSocket, name: string): Promise<void> {
  return createLink(sock, name, 'dummy', []);
}

/**
 * Creates a veth pair. With `peerNetns` (a netns file path) the peer end is created directly in that
 * namespace, so it never appears in the socket's own namespace.
 */
export async function createVeth(sock: NetlinkSocket, name: string, peerName: string, opts: { peerNetns?: string; mtu?: number } = {}): Promise<void> {
  const nsFd = opts.peerNetns === undefined ? undefined : openSync(opts.peerNetns, 'r');
  try {
    const peerAttrs = [attrString(IFLA_IFNAME, peerName)];
    if (nsFd !== undefined) peerAttrs.push(attrU32(IFLA_NET_NS_FD, nsFd));
    if (opts.mtu !== undefined) peerAttrs.push(attrU32(IFLA_MTU, opts.mtu));
    const peer = attr(VETH_INFO_PEER, Buffer.concat([ifinfomsg(0), ...peerAttrs]));
    await createLink(sock, name, 'veth', [peer], opts.mtu);
  } finally {
    if (nsFd !== undefined) closeSync(nsFd);
  }
}

export async function deleteLink(sock: NetlinkSocket, index: number): Promise<void> {
  await sock.request(RTM_DELLINK, 0, ifinfomsg(index));
}

export async function setLinkUp(sock: NetlinkSocket, index: number): Promise<void> {
  await sock.request(RTM_NEWLINK, 0, ifinfomsg(index, IFF_UP, IFF_UP));
}

export async function setLinkDown(sock: NetlinkSocket, index: number): Promise<void> {
  await sock.request(RTM_NEWLINK, 0, ifinfomsg(index, 0, IFF_UP));
}

export async function setLinkMtu(sock: NetlinkSocket, index: number, mtu: number): Promise<void> {
  await sock.request(RTM_NEWLINK, 0, Buffer.concat([ifinfomsg(index), attrU32(IFLA_MTU, mtu)]));
}

/** Enslaves the link to a bridge (masterIndex), or releases it with 0. */
export async function setLinkMaster(sock: NetlinkSocket, index: number, masterIndex: number): Promise<void> {
  await sock.request(RTM_NEWLINK, 0, Buffer.concat([ifinfomsg(index), attrU32(IFLA_MASTER, masterIndex)]));
}
