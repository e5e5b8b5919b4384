// Interface addresses over rtnetlink: the Address model, ifaddrmsg + IFA_* encoding/decoding, dumps,
// and add/delete of IPv4 and IPv6 addresses.
import { NLM_F_CREATE, NLM_F_EXCL, attr, attrU32, zeroed, parseAttrs, readString, readU32, type NetlinkMessage } from './codec.ts';
import { bytesToIp, type IpFamily } from '../../net/ip.ts';
import { bytesToCidr, cidrToBytes } from '../../net/cidr.ts';
import { afToFamily, familyToAf } from './address-family.ts';
import { RTM_DELADDR, RTM_GETADDR, RTM_NEWADDR, RT_SCOPE_UNIVERSE } from './rtnl-const.ts';
import type { BatchOptions, BatchResult, NetlinkSocket } from './socket.ts';

const IFADDRMSG_LEN = 8;
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const IFA_LABEL = 3;
const IFA_FLAGS = 8;

export const IFA_F_NODAD = 0x02;
export const IFA_F_PERMANENT = 0x80;
export const IFA_F_NOPREFIXROUTE = 0x200;

export interface Address {
  family: IpFamily;
  ifindex: number;
  /** The interface's own address with the prefix length: '198.51.100.1/24'. */
  address: string;
  /** The remote end of a point-to-point address, when it differs from `address`. */
  peer?: string;
  scope: number;
  /** IFA_F_* flags (the 32-bit IFA_FLAGS value when present). */
  flags: number;
  label?: string;
}

export interface AddressSpec {
  ifindex: number;
  address: string;
  /** Defaults to universe (global). */
  scope?: number;
  /** IFA_F_*; IFA_F_NODAD skips IPv6 duplicate address detection. */
  flags?: number;
}

export function decodeAddress(msg: NetlinkMessage): Address | undefined {
  const p = msg.payload;
  if (p.length < IFADDRMSG_LEN) return undefined;
  const family = afToFamily(p.readUInt8(0));
  if (family === undefined) return undefined;
  const a = parseAttrs(p, IFADDRMSG_LEN);
  // IFA_LOCAL is the interface's address; IFA_ADDRESS is the peer on point-to-point links (and the
  // only one present for IPv6 without a peer).
  const local = a.get(IFA_LOCAL);
  const remote = a.get(IFA_ADDRESS);
  const own = local ?? remote;
  if (!own) return undefined;
  const prefixLen = p.readUInt8(1);
  const out: Address = {
    family,
    ifindex: p.readUInt32LE(4),
    address: bytesToCidr(own, prefixLen),
    scope: p.readUInt8(3),
    flags: readU32(a.get(IFA_FLAGS)) ?? p.readUInt8(2),
  };
  if (local && remote && !local.equals(remote)) out.peer = bytesToIp(remote);
  const label = a.get(IFA_LABEL);
  if (label) out.label = readString(label);
  return out;
}

function encodeAddress(spec: AddressSpec): Buffer {
  const cidr = cidrToBytes(spec.address);
  const header = zeroed(IFADDRMSG_LEN);
  header.writeUInt8(familyToAf(cidr.family), 0);
  header.writeUInt8(cidr.prefixLength, 1);
  header.writeUInt8((spec.flags ?? 0) & 0xff, 2);
  header.writeUInt8(spec.scope ?? RT_SCOPE_UNIVERSE, 3);
  header.writeUInt32LE(spec.ifindex, 4);
  const attrs = [attr(IFA_LOCAL, cidr.address), attr(IFA_ADDRESS, cidr.address)];
  if (spec.flags !== undefined && spec.flags > 0xff) attrs.push(attrU32(IFA_FLAGS, spec.flags));
  return Buffer.concat([header, ...attrs]);
}

export async function listAddresses(sock: NetlinkSocket, filter: { family?: IpFamily; ifindex?: number } = {}): Promise<Address[]> {
  const request = zeroed(IFADDRMSG_LEN);
  request.writeUInt8(filter.family === undefined ? 0 : familyToAf(filter.family), 0);
  const out: Address[] = [];
  for (const msg of await sock.dump(RTM_GETADDR, request)) {
    const addr = msg.type === RTM_NEWADDR ? decodeAddress(msg) : undefined;
    if (!addr) continue;
    if (filter.family !== undefined && addr.family !== filter.family) continue;
    if (filter.ifindex !== undefined && addr.ifindex !== filter.ifindex) continue;
    out.push(addr);
  }
  return out;
}

/** Adds an address; rejects with NetlinkError EEXIST when the interface already has it. */
export async function addAddress(sock: NetlinkSocket, spec: AddressSpec): Promise<void> {
  await sock.request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, encodeAddress(spec));
}

/** Adds many addresses in chunked batches; each refused one (EEXIST when present) is an error in the result. */
export function addAddresses(sock: NetlinkSocket, specs: AddressSpec[], opts?: BatchOptions): Promise<BatchResult> {
  return sock.batch(specs.map((spec) => ({ type: RTM_NEWADDR, flags: NLM_F_CREATE | NLM_F_EXCL, payload: encodeAddress(spec) })), opts);
}

/** Removes many addresses in chunked batches; each absent one is an EADDRNOTAVAIL error in the result. */
export function deleteAddresses(sock: NetlinkSocket, specs: AddressSpec[], opts?: BatchOptions): Promise<BatchResult> {
  return sock.batch(specs.map((spec) => ({ type: RTM_DELADDR, flags: 0, payload: encodeAddress(spec) })), opts);
}

/** Removes an address; rejects with NetlinkError EADDRNOTAVAIL when the interface does not have it. */
export async function deleteAddress(sock: NetlinkSocket, spec: AddressSpec): Promise<void> {
  await sock.request(RTM_DELADDR, 0, encodeAddress(spec));
}
