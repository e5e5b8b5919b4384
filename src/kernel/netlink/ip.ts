// IP address and CIDR conversions between text ('198.51.100.0/24', '2001:db8::/64') and netlink bytes,
// printing IPv6 the way iproute2 (inet_ntop) does so decoded objects compare equal to `ip -j` output.
import { isIPv4, isIPv6 } from 'node:net';
import { zeroed } from './codec.ts';

export type IpFamily = 4 | 6;

export const AF_INET = 2;
export const AF_INET6 = 10;

export interface Cidr {
  family: IpFamily;
  address: Buffer;
  prefixLen: number;
}

export function familyToAf(family: IpFamily): number {
  return family === 4 ? AF_INET : AF_INET6;
}

/** Returns 4 or 6 for an AF_INET/AF_INET6 value, undefined for any other address family. */
export function afToFamily(af: number): IpFamily | undefined {
  return af === AF_INET ? 4 : af === AF_INET6 ? 6 : undefined;
}

export function ipFamily(ip: string): IpFamily {
  if (isIPv4(ip)) return 4;
  if (isIPv6(ip)) return 6;
  throw new TypeError(`not an IP address: ${ip}`);
}

/** Dotted-quad parser without regex or arrays: route batches convert tens of thousands of these. */
function parseIPv4(ip: string): Buffer | undefined {
  const out = Buffer.allocUnsafe(4);
  let octet = 0;
  let digits = 0;
  let part = 0;
  for (let i = 0; i <= ip.length; i++) {
    const c = i < ip.length ? ip.charCodeAt(i) : 46; // end of string acts as a final '.'
    if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return undefined; // leading zero
      octet = octet * 10 + (c - 48);
      if (++digits > 3 || octet > 255) return undefined;
    } else if (c === 46 && digits > 0 && part < 4) {
      out[part++] = octet;
      octet = 0;
      digits = 0;
    } else {
      return undefined;
    }
  }
  return part === 4 ? out : undefined;
}

/** Text address to its 4 or 16 network-order bytes; throws TypeError on malformed input (a caller bug). */
export function ipToBytes(ip: string): Buffer {
  const v4 = parseIPv4(ip);
  if (v4) return v4;
  if (!isIPv6(ip)) throw new TypeError(`not an IP address: ${ip}`);
  let text = ip.split('%')[0] ?? ip;
  const lastColon = text.lastIndexOf(':');
  const dotted = text.slice(lastColon + 1);
  if (dotted.includes('.')) {
    // Rewrite an embedded IPv4 tail ('::ffff:1.2.3.4') as two hex words so one parser handles both forms.
    const v4 = ipToBytes(dotted);
    text = `${text.slice(0, lastColon + 1)}${v4.readUInt16BE(0).toString(16)}:${v4.readUInt16BE(2).toString(16)}`;
  }
  const [head = '', rest] = text.split('::');
  const headWords = head === '' ? [] : head.split(':').map((w) => parseInt(w, 16));
  const restWords = rest === undefined || rest === '' ? [] : rest.split(':').map((w) => parseInt(w, 16));
  const fill = 8 - headWords.length - restWords.length;
  const words = [...headWords, ...new Array<number>(rest === undefined ? 0 : fill).fill(0), ...restWords];
  const out = zeroed(16);
  words.forEach((w, i) => out.writeUInt16BE(w, i * 2));
  return out;
}

/** 4 or 16 bytes to text; IPv6 in RFC 5952 form with inet_ntop's embedded-IPv4 cases. */
export function bytesToIp(bytes: Buffer): string {
  if (bytes.length === 4) return `${bytes.readUInt8(0)}.${bytes.readUInt8(1)}.${bytes.readUInt8(2)}.${bytes.readUInt8(3)}`;
  if (bytes.length !== 16) throw new TypeError(`address of ${bytes.length} bytes`);
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push(bytes.readUInt16BE(i * 2));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  if (bestLen < 2) bestStart = -1;
  const embedsV4 = bestStart === 0 && (bestLen === 6 || (bestLen === 7 && words[7] !== 1) || (bestLen === 5 && words[5] === 0xffff));
  const hex = (from: number, to: number): string => words.slice(from, to).map((w) => w.toString(16)).join(':');
  if (embedsV4) return `::${bestLen === 5 ? 'ffff:' : ''}${bytesToIp(bytes.subarray(12))}`;
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}

/** Parses 'addr/len' (a bare address means a host prefix); throws TypeError on malformed input. */
export function parseCidr(cidr: string): Cidr {
  const slash = cidr.indexOf('/');
  const address = ipToBytes(slash < 0 ? cidr : cidr.slice(0, slash));
  const family: IpFamily = address.length === 4 ? 4 : 6;
  const max = family === 4 ? 32 : 128;
  const len = slash < 0 ? String(max) : cidr.slice(slash + 1);
  const prefixLen = Number(len);
  if (!/^\d{1,3}$/.test(len) || prefixLen > max) throw new TypeError(`bad prefix length in ${cidr}`);
  return { family, address, prefixLen };
}

export function formatCidr(address: Buffer, prefixLen: number): string {
  return `${bytesToIp(address)}/${prefixLen}`;
}
