// CIDRs with Go's net.ParseCIDR acceptance rules and IPNet.String's canonical text, containment, the one
// familyOf, and the allocation-light conversions the netlink codecs need.
//
// Accepted: an address as ParseIP accepts it (no zone), "/", then decimal digits (leading zeros allowed, as Go's
// dtoi does: "/08" is /8) not above 32 (IPv4) or 128 (IPv6). A bare address is not a CIDR. Host bits may be set:
// parseCidr clears them (Go's IPNet), parseCidrWithIp also returns the address as written (Go's first result).
// IPv4-mapped IPv6 follows Go too: "::ffff:1.2.3.0/120" is the IPv4 network 1.2.3.0/24; with a prefix shorter
// than 96 the mapping prefix is masked away and the result is an ordinary IPv6 network ("::/64").
import { err, ok, type Result } from '../result.ts';
import { bitsOf, bytesToIp, formatIpv6Fields, isIpv4Mapped, parseIp, scanIp, type IpAddress, type IpFamily } from './ip.ts';

export interface Cidr {
  family: IpFamily;
  /** Network address, host bits cleared: 4 bytes for family 4, 16 for family 6. */
  network: Uint8Array;
  prefixLength: number;
}

const scratch = new Uint8Array(16);

/**
 * Parses text into `scratch` (address as written, 4 or 16 bytes used) and returns family * 256 + prefix length, or
 * -1 when malformed. An IPv4-mapped address with a prefix of 96 or more becomes IPv4 (bytes moved to 0..3).
 */
function scanCidr(text: string): number {
  const slash = text.indexOf('/');
  if (slash < 0) return -1;
  const kind = scanIp(text, 0, slash, scratch);
  if (kind === 0) return -1;
  let length = 0;
  const end = text.length;
  if (slash + 1 === end) return -1;
  for (let i = slash + 1; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
    length = length * 10 + (c - 48);
    if (length >= 0xffffff) return -1;
  }
  if (length > bitsOf(kind)) return -1;
  if (kind === 6 && length >= 96 && isIpv4Mapped(scratch)) {
    scratch.copyWithin(0, 12, 16);
    return 4 * 256 + (length - 96);
  }
  return kind * 256 + length;
}

function masked(bytes: Uint8Array, prefixLength: number): Uint8Array {
  const out = bytes.slice();
  for (let i = 0; i < out.length; i++) {
    const keep = prefixLength - i * 8;
    if (keep >= 8) continue;
    out[i] = keep <= 0 ? 0 : (out[i] as number) & ((0xff << (8 - keep)) & 0xff);
  }
  return out;
}

export interface CidrWithIp {
  /** The address as written before the "/", host bits kept (an interface address, say). */
  ip: IpAddress;
  cidr: Cidr;
  /** True when the text had host bits set ("10.0.0.1/8"): `cidr` is then the normalised network. */
  hostBitsSet: boolean;
}

/** Go's net.ParseCIDR: the address as written and the network it is in. */
export function parseCidrWithIp(text: string): Result<CidrWithIp> {
  const packed = scanCidr(text);
  if (packed < 0) return err(`"${text}" is not a CIDR (expected address/prefix-length, e.g. 10.96.0.0/12)`);
  const family = (packed >> 8) as IpFamily;
  const prefixLength = packed & 0xff;
  const bytes = scratch.slice(0, family === 4 ? 4 : 16);
  const network = masked(bytes, prefixLength);
  const hostBitsSet = network.some((b, i) => b !== bytes[i]);
  return ok({ ip: { family, bytes }, cidr: { family, network, prefixLength }, hostBitsSet });
}

/** Go's net.ParseCIDR network: host bits cleared. */
export function parseCidr(text: string): Result<Cidr> {
  const parsed = parseCidrWithIp(text);
  return parsed.ok ? ok(parsed.value.cidr) : parsed;
}

export function isCidr(text: string): boolean {
  return scanCidr(text) >= 0;
}

/** Go's IPNet.String: `10.0.0.0/8`, `fd00::/64`. */
export function formatCidr(cidr: Cidr): string {
  const address = cidr.family === 4 ? bytesToIp(cidr.network) : formatIpv6Fields(cidr.network);
  return `${address}/${cidr.prefixLength}`;
}

/** The canonical text of a CIDR with host bits cleared: `10.1.2.3/8` is `10.0.0.0/8`. */
export function canonicalCidr(text: string): Result<string> {
  const parsed = parseCidr(text);
  return parsed.ok ? ok(formatCidr(parsed.value)) : parsed;
}

/** The family of an address or of a CIDR (`10.0.0.1`, `fd00::/64`), or undefined if it is neither. */
export function familyOf(text: string): IpFamily | undefined {
  if (text.includes('/')) {
    const packed = scanCidr(text);
    return packed < 0 ? undefined : ((packed >> 8) as IpFamily);
  }
  const parsed = parseIp(text);
  return parsed.ok ? parsed.value.family : undefined;
}

function prefixMatches(network: Uint8Array, prefixLength: number, bytes: Uint8Array): boolean {
  const full = prefixLength >> 3;
  for (let i = 0; i < full; i++) if (network[i] !== bytes[i]) return false;
  const rest = prefixLength & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (((bytes[full] as number) ^ (network[full] as number)) & mask) === 0;
}

/** True when `inner` (an address, or a CIDR of the same or a longer prefix) lies inside `outer`. */
export function cidrContains(outer: Cidr, inner: Cidr | IpAddress): boolean {
  if (outer.family !== inner.family) return false;
  if ('network' in inner) {
    return inner.prefixLength >= outer.prefixLength && prefixMatches(outer.network, outer.prefixLength, inner.network);
  }
  return prefixMatches(outer.network, outer.prefixLength, inner.bytes);
}

/** Text form of cidrContains for an address; false when either side does not parse. */
export function cidrTextContainsIp(cidr: string, ip: string): boolean {
  const outer = parseCidr(cidr);
  const address = parseIp(ip);
  return outer.ok && address.ok && cidrContains(outer.value, address.value);
}

/** The number of addresses in the CIDR. */
export function cidrSize(cidr: Cidr): bigint {
  return 1n << BigInt(bitsOf(cidr.family) - cidr.prefixLength);
}

/** The host prefix of an address: `10.0.0.1/32`, `fd00::1/128`. */
export function hostCidr(address: IpAddress): Cidr {
  return { family: address.family, network: address.bytes, prefixLength: bitsOf(address.family) };
}

/** A netlink prefix: the address bytes as written (host bits kept, for interface addresses) and the length. */
export interface PrefixBytes {
  family: IpFamily;
  address: Buffer;
  prefixLength: number;
}

/**
 * Fast path for the netlink codecs: "addr/len" to bytes, no Result allocated. Throws a TypeError on malformed text
 * (a caller bug: everything reaching a codec was validated at the edge).
 */
export function cidrToBytes(text: string): PrefixBytes {
  const packed = scanCidr(text);
  if (packed < 0) throw new TypeError(`not a CIDR: ${text}`);
  const family = (packed >> 8) as IpFamily;
  return { family, address: Buffer.from(scratch.subarray(0, family === 4 ? 4 : 16)), prefixLength: packed & 0xff };
}

/** Decoding side of cidrToBytes: 4 or 16 bytes and a length, printed as parseCidrWithIp would read them back. */
export function bytesToCidr(address: Uint8Array, prefixLength: number): string {
  if (address.length === 16 && isIpv4Mapped(address) && prefixLength >= 96) {
    return `${bytesToIp(address.subarray(12))}/${prefixLength - 96}`;
  }
  return `${address.length === 16 ? formatIpv6Fields(address) : bytesToIp(address)}/${prefixLength}`;
}
