// ipset over NETLINK_NETFILTER: the messages `ipset restore` sends, built here so a controller can write its
// sets without the tool's process start and per-line parsing (at 50k pods its userspace took two thirds of a
// restore). Creation, member batches (many entries in one message, as ipset restore sends them), swap,
// destruction, and the type query that picks the revision the kernel supports. The order of a whole change is
// in ipset-writer.ts.
import { NLA_HDRLEN, align4, attr, attrNested, attrString, attrU32, attrU8, parseAttrs, readU8 } from './codec.ts';
import { scanIp } from '../../net/ip.ts';
import { NFPROTO_IPV4, NFPROTO_IPV6, nfgenmsg } from './nfnetlink.ts';
import type { NetlinkMessage } from './codec.ts';
import type { RequestMessage } from './socket.ts';

const NFNL_SUBSYS_IPSET = 6;
const IPSET_CMD_CREATE = 2;
const IPSET_CMD_DESTROY = 3;
const IPSET_CMD_SWAP = 6;
const IPSET_CMD_ADD = 9;
const IPSET_CMD_DEL = 10;
const IPSET_CMD_TYPE = 13;
const IPSET_PROTOCOL = 7;

// Command-level attributes.
const IPSET_ATTR_PROTOCOL = 1;
const IPSET_ATTR_SETNAME = 2;
const IPSET_ATTR_TYPENAME = 3;
const IPSET_ATTR_SETNAME2 = 3;
const IPSET_ATTR_REVISION = 4;
const IPSET_ATTR_FAMILY = 5;
const IPSET_ATTR_DATA = 7;
const IPSET_ATTR_ADT = 8;
const IPSET_ATTR_LINENO = 9;
// Inside DATA.
const IPSET_ATTR_IP = 1;
const IPSET_ATTR_CIDR = 3;
const IPSET_ATTR_CADT_FLAGS = 8;
const IPSET_ATTR_HASHSIZE = 18;
const IPSET_ATTR_IPADDR_IPV4 = 1;
const IPSET_ATTR_IPADDR_IPV6 = 2;
const IPSET_FLAG_NOMATCH = 1 << 2;

const NLA_F_NESTED = 0x8000;
const NLA_F_NET_BYTEORDER = 0x4000;

/** The kernel's errno for "no set of that name" (destroying an absent set). */
export const IPSET_ENOENT = 2;

const msgType = (cmd: number): number => (NFNL_SUBSYS_IPSET << 8) | cmd;
const nfproto = (family: 4 | 6): number => (family === 4 ? NFPROTO_IPV4 : NFPROTO_IPV6);
/** nfgenmsg, the protocol version and the set name: how every command starts (one buffer, written in place). */
function header(family: number, set: string): Buffer[] {
  const nameBytes = Buffer.byteLength(set, 'utf8') + 1;
  const out = Buffer.alloc(4 + 8 + align4(NLA_HDRLEN + nameBytes));
  out.writeUInt8(family, 0);
  out.writeUInt16LE(NLA_HDRLEN + 1, 4);
  out.writeUInt16LE(IPSET_ATTR_PROTOCOL, 6);
  out.writeUInt8(IPSET_PROTOCOL, 8);
  out.writeUInt16LE(NLA_HDRLEN + nameBytes, 12);
  out.writeUInt16LE(IPSET_ATTR_SETNAME, 14);
  out.write(set, 16, 'utf8');
  return [out];
}

/** IPSET_CMD_TYPE: asks which revisions of a set type the kernel has for a family. */
export function ipsetTypeQuery(type: string, family: 4 | 6): RequestMessage {
  const payload = Buffer.concat([nfgenmsg(nfproto(family)), attrU8(IPSET_ATTR_PROTOCOL, IPSET_PROTOCOL),
    attrString(IPSET_ATTR_TYPENAME, type), attrU8(IPSET_ATTR_FAMILY, nfproto(family))]);
  return { type: msgType(IPSET_CMD_TYPE), flags: 0, payload };
}

/** The highest revision in a type query's reply. */
export function typeRevisionOf(replies: readonly NetlinkMessage[]): number | undefined {
  for (const m of replies) {
    if (m.type !== msgType(IPSET_CMD_TYPE)) continue;
    const rev = readU8(parseAttrs(m.payload, 4).get(IPSET_ATTR_REVISION));
    if (rev !== undefined) return rev;
  }
  return undefined;
}

export interface IpsetCreate {
  name: string;
  type: string;
  family: 4 | 6;
  revision: number;
  hashsize?: number;
}

/** IPSET_CMD_CREATE without NLM_F_EXCL: an existing set of the same type and options is kept, as with -exist. */
export function ipsetCreateMessage(c: IpsetCreate): RequestMessage {
  const key = `${c.type}/${c.family}/${c.revision}/${c.hashsize ?? ''}`;
  let tail = createTails.get(key);
  if (!tail) {
    const data: Buffer[] = [];
    if (c.hashsize !== undefined) {
      const v = Buffer.alloc(4);
      v.writeUInt32BE(c.hashsize, 0);
      data.push(attr(IPSET_ATTR_HASHSIZE | NLA_F_NET_BYTEORDER, v));
    }
    tail = Buffer.concat([attrString(IPSET_ATTR_TYPENAME, c.type), attrU8(IPSET_ATTR_REVISION, c.revision),
      attrU8(IPSET_ATTR_FAMILY, nfproto(c.family)), attrNested(IPSET_ATTR_DATA, data, true)]);
    if (createTails.size < 64) createTails.set(key, tail);
  }
  return { type: msgType(IPSET_CMD_CREATE), flags: 0, payload: Buffer.concat([...header(nfproto(c.family), c.name), tail]) };
}
// What follows the name in a creation depends on a few values only: built once per combination.
const createTails = new Map<string, Buffer>();

/** IPSET_CMD_DESTROY of one set (ENOENT when absent; refused while a rule uses it). */
export function ipsetDestroyMessage(name: string): RequestMessage {
  return { type: msgType(IPSET_CMD_DESTROY), flags: 0, payload: Buffer.concat(header(NFPROTO_IPV4, name)) };
}

/** IPSET_CMD_SWAP: the two sets exchange names (and so contents) atomically. */
export function ipsetSwapMessage(from: string, to: string): RequestMessage {
  return { type: msgType(IPSET_CMD_SWAP), flags: 0, payload: Buffer.concat([...header(NFPROTO_IPV4, from), attrString(IPSET_ATTR_SETNAME2, to)]) };
}

export interface IpsetEntryText {
  /** An address, or address/prefix (hash:net). */
  entry: string;
  nomatch?: boolean;
}

/** Entry bytes kept per message, under the 64 KiB an attribute's length can say. */
const ENTRIES_BYTES = 32 * 1024;
/** The most one entry takes: DATA, IP, an IPv6 address, CIDR and CADT_FLAGS attributes. */
const MAX_ENTRY_BYTES = 4 + 4 + 4 + 16 + 8 + 8;
const scratch = new Uint8Array(16);

function u16(buf: Buffer, off: number, value: number): void {
  buf[off] = value & 0xff;
  buf[off + 1] = value >>> 8;
}

/** One entry's DATA attribute written at `at` (returns the new end), or throws on a malformed entry. */
function writeEntry(buf: Buffer, at: number, e: IpsetEntryText): number {
  const slash = e.entry.indexOf('/');
  const end = slash < 0 ? e.entry.length : slash;
  const kind = scanIp(e.entry, 0, end, scratch);
  if (kind === 0) throw new TypeError(`not an ipset entry: ${e.entry}`);
  const size = kind === 4 ? 4 : 16;
  const start = at;
  let off = at + NLA_HDRLEN; // DATA
  // Plain byte stores: this runs once per set member (45k times in a 50k-pod first sync).
  u16(buf, off, NLA_HDRLEN * 2 + size);
  u16(buf, off + 2, IPSET_ATTR_IP | NLA_F_NESTED);
  off += NLA_HDRLEN;
  u16(buf, off, NLA_HDRLEN + size);
  u16(buf, off + 2, (kind === 4 ? IPSET_ATTR_IPADDR_IPV4 : IPSET_ATTR_IPADDR_IPV6) | NLA_F_NET_BYTEORDER);
  off += NLA_HDRLEN;
  for (let i = 0; i < size; i++) buf[off + i] = scratch[i] as number;
  off += size;
  if (slash >= 0) {
    const prefix = Number(e.entry.slice(slash + 1));
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > size * 8) throw new TypeError(`not an ipset entry: ${e.entry}`);
    buf.writeUInt16LE(NLA_HDRLEN + 1, off);
    buf.writeUInt16LE(IPSET_ATTR_CIDR, off + 2);
    buf.writeUInt32LE(0, off + NLA_HDRLEN);
    buf.writeUInt8(prefix, off + NLA_HDRLEN);
    off += NLA_HDRLEN + 4;
  }
  if (e.nomatch) {
    buf.writeUInt16LE(NLA_HDRLEN + 4, off);
    buf.writeUInt16LE(IPSET_ATTR_CADT_FLAGS | NLA_F_NET_BYTEORDER, off + 2);
    buf.writeUInt32BE(IPSET_FLAG_NOMATCH, off + NLA_HDRLEN);
    off += NLA_HDRLEN + 4;
  }
  u16(buf, start, off - start);
  u16(buf, start + 2, IPSET_ATTR_DATA | NLA_F_NESTED);
  return align4(off);
}

/**
 * ADD or DEL messages for many entries of one set: each carries an ADT list of up to ~32 KiB of entries,
 * which the kernel applies in order (stopping at the first it refuses). Produced lazily.
 */
export function* ipsetEntriesMessages(set: string, family: 4 | 6, op: 'add' | 'del', entries: Iterable<IpsetEntryText>): Generator<RequestMessage> {
  // A list needs a line number beside it (the kernel reports a refused entry's there); ours is 0.
  const head = Buffer.concat([...header(nfproto(family), set), attrU32(IPSET_ATTR_LINENO, 0)]);
  // Sized for the list when it is an array (most sets are small or empty), never past one message's worth.
  const room = Array.isArray(entries) ? Math.min(ENTRIES_BYTES, entries.length * MAX_ENTRY_BYTES) : ENTRIES_BYTES;
  if (room === 0) return;
  const buf = Buffer.allocUnsafe(room + MAX_ENTRY_BYTES);
  let used = 0;
  const message = (): RequestMessage => {
    const adt = Buffer.alloc(NLA_HDRLEN + used);
    adt.writeUInt16LE(NLA_HDRLEN + used, 0);
    adt.writeUInt16LE(IPSET_ATTR_ADT | NLA_F_NESTED, 2);
    buf.copy(adt, NLA_HDRLEN, 0, used);
    used = 0;
    return { type: msgType(op === 'add' ? IPSET_CMD_ADD : IPSET_CMD_DEL), flags: 0, payload: Buffer.concat([head, adt]) };
  };
  for (const e of entries) {
    used = writeEntry(buf, used, e);
    if (used >= room) yield message();
  }
  if (used > 0) yield message();
}
