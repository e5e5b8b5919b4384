// Netlink wire format: nlmsghdr framing, 4-byte alignment, attributes (TLVs, nested) and NLMSG_ERROR/DONE
// payloads. Values are in host byte order; this project targets little-endian Linux (x86_64, arm64).
import { constants as osConstants } from 'node:os';

export const NLMSG_HDRLEN = 16;
export const NLA_HDRLEN = 4;

// Message types every netlink family shares.
export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;

// nlmsg_flags.
export const NLM_F_REQUEST = 0x01;
export const NLM_F_MULTI = 0x02;
export const NLM_F_ACK = 0x04;
export const NLM_F_DUMP_INTR = 0x10; // on dump replies: the dump saw concurrent changes, redo it
export const NLM_F_ROOT = 0x100;
export const NLM_F_MATCH = 0x200;
export const NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
export const NLM_F_CAPPED = 0x100; // on NLMSG_ERROR: the request payload was not echoed
export const NLM_F_ACK_TLVS = 0x200; // on NLMSG_ERROR/DONE: extended-ack TLVs follow

// Extended ACK attribute types.
export const NLMSGERR_ATTR_MSG = 1;
export const NLMSGERR_ATTR_OFFS = 2;

const NLA_F_NESTED = 0x8000;
const NLA_TYPE_MASK = 0x3fff;

export interface NetlinkMessage {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  /** Everything after the 16-byte header (a view into the received buffer). */
  payload: Buffer;
}

export function align4(n: number): number {
  return (n + 3) & ~3;
}

/** A zero-filled buffer from Node's shared pool (Buffer.alloc makes a fresh ArrayBuffer each time). */
export function zeroed(size: number): Buffer {
  return Buffer.allocUnsafe(size).fill(0);
}

/** One complete message: header with the total length, then the payload padded to 4 bytes. */
export function encodeMessage(type: number, flags: number, seq: number, payload: Buffer, pid = 0): Buffer {
  const out = Buffer.allocUnsafe(NLMSG_HDRLEN + align4(payload.length));
  out.writeUInt32LE(NLMSG_HDRLEN + payload.length, 0);
  out.writeUInt16LE(type, 4);
  out.writeUInt16LE(flags, 6);
  out.writeUInt32LE(seq >>> 0, 8);
  out.writeUInt32LE(pid >>> 0, 12);
  payload.copy(out, NLMSG_HDRLEN);
  out.fill(0, NLMSG_HDRLEN + payload.length);
  return out;
}

/** Splits concatenated datagrams into messages; a truncated trailing message is a kernel or caller bug. */
export function parseMessages(buf: Buffer): NetlinkMessage[] {
  const out: NetlinkMessage[] = [];
  let off = 0;
  while (off + NLMSG_HDRLEN <= buf.length) {
    const len = buf.readUInt32LE(off);
    if (len < NLMSG_HDRLEN || off + len > buf.length) throw new Error(`malformed netlink message at byte ${off} (len ${len})`);
    out.push({
      type: buf.readUInt16LE(off + 4),
      flags: buf.readUInt16LE(off + 6),
      seq: buf.readUInt32LE(off + 8),
      pid: buf.readUInt32LE(off + 12),
      payload: buf.subarray(off + NLMSG_HDRLEN, off + len),
    });
    off += align4(len);
  }
  return out;
}

// ---- attributes: encoding -------------------------------------------------------------------

/** Header, value and zero padding in one buffer. */
function attrOfSize(type: number, size: number): Buffer {
  const out = Buffer.allocUnsafe(NLA_HDRLEN + align4(size));
  out.writeUInt16LE(NLA_HDRLEN + size, 0);
  out.writeUInt16LE(type, 2);
  out.fill(0, NLA_HDRLEN + size);
  return out;
}

export function attr(type: number, value: Buffer): Buffer {
  const out = attrOfSize(type, value.length);
  value.copy(out, NLA_HDRLEN);
  return out;
}

export function attrU8(type: number, value: number): Buffer {
  const out = attrOfSize(type, 1);
  out.writeUInt8(value & 0xff, NLA_HDRLEN);
  return out;
}

export function attrU16(type: number, value: number): Buffer {
  const out = attrOfSize(type, 2);
  out.writeUInt16LE(value, NLA_HDRLEN);
  return out;
}

export function attrU32(type: number, value: number): Buffer {
  const out = attrOfSize(type, 4);
  out.writeUInt32LE(value >>> 0, NLA_HDRLEN);
  return out;
}

/** NUL-terminated string attribute, as the kernel's NLA_NUL_STRING/NLA_STRING policies accept. */
export function attrString(type: number, value: string): Buffer {
  const size = Buffer.byteLength(value, 'utf8') + 1;
  const out = attrOfSize(type, size);
  out.write(value, NLA_HDRLEN, 'utf8');
  out.writeUInt8(0, NLA_HDRLEN + size - 1);
  return out;
}

/** Nested attribute; the NLA_F_NESTED bit is left to callers because older policies reject it. */
export function attrNested(type: number, children: Buffer[], flagNested = false): Buffer {
  return attr(flagNested ? type | NLA_F_NESTED : type, Buffer.concat(children));
}

// ---- attributes: decoding -------------------------------------------------------------------

export interface Attribute {
  type: number;
  value: Buffer;
}

/** Attributes in order (repeats kept), with the NESTED/BYTEORDER bits masked off the type. */
export function parseAttrList(buf: Buffer, offset = 0): Attribute[] {
  const out: Attribute[] = [];
  let off = offset;
  while (off + NLA_HDRLEN <= buf.length) {
    const len = buf.readUInt16LE(off);
    if (len < NLA_HDRLEN || off + len > buf.length) break;
    out.push({ type: buf.readUInt16LE(off + 2) & NLA_TYPE_MASK, value: buf.subarray(off + NLA_HDRLEN, off + len) });
    off += align4(len);
  }
  return out;
}

/** Attributes by type; the last one wins when a type repeats. */
export function parseAttrs(buf: Buffer, offset = 0): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  for (const a of parseAttrList(buf, offset)) out.set(a.type, a.value);
  return out;
}

export function readString(value: Buffer): string {
  const nul = value.indexOf(0);
  return value.toString('utf8', 0, nul < 0 ? value.length : nul);
}

export function readU32(value: Buffer | undefined): number | undefined {
  return value && value.length >= 4 ? value.readUInt32LE(0) : undefined;
}

export function readU16(value: Buffer | undefined): number | undefined {
  return value && value.length >= 2 ? value.readUInt16LE(0) : undefined;
}

export function readU8(value: Buffer | undefined): number | undefined {
  return value && value.length >= 1 ? value.readUInt8(0) : undefined;
}

// ---- NLMSG_ERROR / NLMSG_DONE -----------------------------------------------------------------

const errnoNames = new Map<number, string>(Object.entries(osConstants.errno).map(([name, n]) => [n, name]));

export function errnoName(errno: number): string {
  return errnoNames.get(errno) ?? `E${errno}`;
}

/** A request the kernel refused (NACK), or a failed dump. */
export class NetlinkError extends Error {
  readonly errno: number;
  readonly code: string;
  /** Sequence number of the refused request. */
  readonly seq: number;
  /** Position of the refused request in the batch the caller passed (0 for single requests). */
  readonly index: number;
  /** The kernel's extended-ack text, when it gave one. */
  readonly extack: string | undefined;
  constructor(errno: number, seq: number, index: number, extack?: string) {
    super(`netlink: ${errnoName(errno)} (errno ${errno})${extack ? `: ${extack}` : ''} [request #${index}, seq ${seq}]`);
    this.name = 'NetlinkError';
    this.errno = errno;
    this.code = errnoName(errno);
    this.seq = seq;
    this.index = index;
    this.extack = extack;
  }
}

export interface ErrorPayload {
  /** 0 for an ACK, a positive errno for a NACK. */
  errno: number;
  /** Sequence number copied from the request's header. */
  requestSeq: number;
  extack?: string;
  /** Byte offset of the offending attribute inside the request, when the kernel reported one. */
  extackOffset?: number;
}

/** Decodes an NLMSG_ERROR message: int error, the request's header, [its payload], [extack TLVs]. */
export function decodeError(msg: NetlinkMessage): ErrorPayload {
  const p = msg.payload;
  const errno = -p.readInt32LE(0) || 0; // `|| 0` turns -0 into 0
  const requestSeq = p.length >= 4 + NLMSG_HDRLEN ? p.readUInt32LE(4 + 8) : msg.seq;
  const out: ErrorPayload = { errno, requestSeq };
  if (msg.flags & NLM_F_ACK_TLVS && p.length >= 4 + NLMSG_HDRLEN) {
    const echoed = msg.flags & NLM_F_CAPPED ? NLMSG_HDRLEN : align4(p.readUInt32LE(4));
    decodeExtack(parseAttrs(p, 4 + echoed), out);
  }
  return out;
}

/** Decodes an NLMSG_DONE payload: int error (negative when a dump failed part-way), [extack TLVs]. */
export function decodeDone(msg: NetlinkMessage): ErrorPayload {
  const p = msg.payload;
  const out: ErrorPayload = { errno: p.length >= 4 ? -p.readInt32LE(0) || 0 : 0, requestSeq: msg.seq };
  if (msg.flags & NLM_F_ACK_TLVS) decodeExtack(parseAttrs(p, 4), out);
  return out;
}

function decodeExtack(tlvs: Map<number, Buffer>, into: ErrorPayload): void {
  const text = tlvs.get(NLMSGERR_ATTR_MSG);
  if (text) into.extack = readString(text);
  const offset = readU32(tlvs.get(NLMSGERR_ATTR_OFFS));
  if (offset !== undefined) into.extackOffset = offset;
}
