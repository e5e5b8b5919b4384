// IP addresses with Go's net.ParseIP acceptance rules (what the API server and upstream kube-router accept) and
// net.IP.String's canonical text, plus the allocation-light byte conversions the netlink codecs need.
//
// Accepted: dotted IPv4 with exactly four decimal fields, no leading zeros ("010.1.2.3" is rejected); IPv6 with
// 1-4 hex digits per field, at most one "::" standing for at least one zero field, and an optional dotted IPv4
// tail in the last 32 bits. Rejected: zones ("fe80::1%eth0"), surrounding whitespace, the empty string.
// Canonical text: IPv4 dotted; IPv6 lower-case RFC 5952 (longest run of two or more zero fields as "::").
// IPv4-mapped IPv6 ("::ffff:1.2.3.4") IS the IPv4 address, as in Go: it parses to family 4 and prints "1.2.3.4".
import { err, ok, type Result } from '../result.ts';

export type IpFamily = 4 | 6;
/** The spelling BGP and the policy model use for a family. */
export type FamilyName = 'ipv4' | 'ipv6';

export interface IpAddress {
  family: IpFamily;
  /** 4 bytes for family 4, 16 for family 6, network order. */
  bytes: Uint8Array;
}

export function familyName(family: IpFamily): FamilyName {
  return family === 4 ? 'ipv4' : 'ipv6';
}

export function bitsOf(family: IpFamily): 32 | 128 {
  return family === 4 ? 32 : 128;
}

const DOT = 46;
const COLON = 58;

/** Go's parseIPv4 over text[start, end) into out[at..at+3]; false if malformed. */
function scanIpv4(text: string, start: number, end: number, out: Uint8Array, at: number): boolean {
  let field = 0;
  let value = 0;
  let digits = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      if (digits === 1 && value === 0) return false; // leading zero
      value = value * 10 + (c - 48);
      if (++digits > 3 || value > 255) return false;
    } else if (c === DOT) {
      if (digits === 0 || field === 3) return false;
      out[at + field++] = value;
      value = 0;
      digits = 0;
    } else {
      return false;
    }
  }
  if (digits === 0 || field !== 3) return false;
  out[at + 3] = value;
  return true;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** Go's (netip) parseIPv6 over text[start, end) into out[0..15]; false if malformed. */
function scanIpv6(text: string, start: number, end: number, out: Uint8Array): boolean {
  out.fill(0, 0, 16);
  let ellipsis = -1;
  let i = 0;
  let pos = start;
  if (end - pos >= 2 && text.charCodeAt(pos) === COLON && text.charCodeAt(pos + 1) === COLON) {
    ellipsis = 0;
    pos += 2;
    if (pos === end) return true;
  }
  while (i < 16) {
    let digits = 0;
    let field = 0;
    while (pos + digits < end) {
      const v = hexValue(text.charCodeAt(pos + digits));
      if (v < 0) break;
      if (++digits > 4) return false;
      field = field * 16 + v;
    }
    if (digits === 0) return false;
    if (pos + digits < end && text.charCodeAt(pos + digits) === DOT) {
      // An IPv4 tail must fill exactly the last 32 bits (or sit after "::").
      if ((ellipsis < 0 && i !== 12) || i + 4 > 16) return false;
      if (!scanIpv4(text, pos, end, out, i)) return false;
      i += 4;
      pos = end;
      break;
    }
    out[i] = field >> 8;
    out[i + 1] = field & 0xff;
    i += 2;
    pos += digits;
    if (pos === end) break;
    if (text.charCodeAt(pos) !== COLON) return false;
    pos++;
    if (pos === end) return false; // trailing colon
    if (text.charCodeAt(pos) === COLON) {
      if (ellipsis >= 0) return false; // a second "::"
      ellipsis = i;
      pos++;
      if (pos === end) break;
    }
  }
  if (pos !== end) return false;
  if (i < 16) {
    if (ellipsis < 0) return false;
    const shift = 16 - i;
    for (let j = i - 1; j >= ellipsis; j--) out[j + shift] = out[j] as number;
    out.fill(0, ellipsis, ellipsis + shift);
  } else if (ellipsis >= 0) {
    return false; // "::" must stand for at least one zero field
  }
  return true;
}

/** True for ::ffff:a.b.c.d (the first 16 bytes of `bytes`). */
export function isIpv4Mapped(bytes: Uint8Array): boolean {
  if (bytes.length !== 16 || bytes[10] !== 0xff || bytes[11] !== 0xff) return false;
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return true;
}

/**
 * Parses text[start, end) into `out` (16 bytes). Returns 4 when the address is IPv4 (in out[0..3]), 6 when it is
 * IPv6 (out[0..15]), 0 when malformed. IPv4-mapped IPv6 returns 6: the caller decides, as Go's To4 does.
 */
export function scanIp(text: string, start: number, end: number, out: Uint8Array): 0 | IpFamily {
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === DOT) return scanIpv4(text, start, end, out, 0) ? 4 : 0;
    if (c === COLON) return scanIpv6(text, start, end, out) ? 6 : 0;
  }
  return 0;
}

const scratch = new Uint8Array(16);

/** Go's net.ParseIP, with the family Go's To4 would report. */
export function parseIp(text: string): Result<IpAddress> {
  const kind = scanIp(text, 0, text.length, scratch);
  if (kind === 0) return err(`"${text}" is not an IP address`);
  if (kind === 4) return ok({ family: 4, bytes: scratch.slice(0, 4) });
  if (isIpv4Mapped(scratch)) return ok({ family: 4, bytes: scratch.slice(12, 16) });
  return ok({ family: 6, bytes: scratch.slice(0, 16) });
}

export function isIp(text: string): boolean {
  return scanIp(text, 0, text.length, scratch) !== 0;
}

/** Go's net.IP.String for 4 or 16 bytes (an IPv4-mapped 16-byte address prints as dotted IPv4). */
export function bytesToIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  if (bytes.length !== 16) throw new TypeError(`an IP address has 4 or 16 bytes, not ${bytes.length}`);
  if (isIpv4Mapped(bytes)) return `${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  return formatIpv6Fields(bytes);
}

/** RFC 5952 text of 16 bytes as hex fields, ignoring the IPv4-mapped form. */
export function formatIpv6Fields(bytes: Uint8Array): string {
  let bestStart = -1;
  let bestEnd = -1;
  for (let i = 0; i < 16; i += 2) {
    let j = i;
    while (j < 16 && bytes[j] === 0 && bytes[j + 1] === 0) j += 2;
    if (j > i && j - i > bestEnd - bestStart) {
      bestStart = i;
      bestEnd = j;
      i = j;
    }
  }
  if (bestEnd - bestStart <= 2) bestStart = bestEnd = -1; // "::" never stands for a single field
  let text = '';
  for (let i = 0; i < 16; i += 2) {
    if (i === bestStart) {
      text += '::';
      i = bestEnd;
      if (i >= 16) break;
    } else if (i > 0) {
      text += ':';
    }
    text += (((bytes[i] as number) << 8) | (bytes[i + 1] as number)).toString(16);
  }
  return text;
}

export function formatIp(address: IpAddress): string {
  return bytesToIp(address.bytes);
}

/**
 * The canonical text of an address, or null when it is none, without allocating for the common case: IPv4
 * text Go accepts is already canonical (no leading zeros), so it comes back as the same string. Canonical IPv6
 * text never contains a dot (an IPv4-mapped address is IPv4).
 */
export function canonicalIpText(text: string): string | null {
  const kind = scanIp(text, 0, text.length, scratch);
  if (kind === 0) return null;
  return kind === 4 ? text : bytesToIp(scratch.subarray(0, 16));
}

/** The canonical text of an address: `::ffff:1.2.3.4` is `1.2.3.4`, `2001:DB8:0::1` is `2001:db8::1`. */
export function canonicalIp(text: string): Result<string> {
  const parsed = parseIp(text);
  return parsed.ok ? ok(formatIp(parsed.value)) : parsed;
}

/**
 * Fast path for the netlink codecs: text to its 4 or 16 network-order bytes, no Result allocated. Throws a
 * TypeError on malformed text (a caller bug: everything reaching a codec was validated at the edge).
 */
export function ipToBytes(text: string): Buffer {
  const kind = scanIp(text, 0, text.length, scratch);
  if (kind === 0) throw new TypeError(`not an IP address: ${text}`);
  if (kind === 6 && !isIpv4Mapped(scratch)) return Buffer.from(scratch.subarray(0, 16));
  const from = kind === 4 ? 0 : 12;
  const out = Buffer.allocUnsafe(4);
  out[0] = scratch[from] as number;
  out[1] = scratch[from + 1] as number;
  out[2] = scratch[from + 2] as number;
  out[3] = scratch[from + 3] as number;
  return out;
}

/** The address as an unsigned integer, for allocators that count through a range. */
export function ipToBigInt(address: IpAddress): bigint {
  let value = 0n;
  for (const byte of address.bytes) value = (value << 8n) | BigInt(byte);
  return value;
}

/** The address `value` of `family` (its low 32 or 128 bits). */
export function ipFromBigInt(family: IpFamily, value: bigint): IpAddress {
  const bytes = new Uint8Array(family === 4 ? 4 : 16);
  for (let i = bytes.length - 1; i >= 0; i--) {
    bytes[i] = Number(value & 0xffn);
    value >>= 8n;
  }
  return { family, bytes };
}
