// How network policy writes addresses into ipset and nftables: hash:net member text (hosts without a length, as
// `ipset save` prints them), the /0 split hash:net needs, and reading members back. Parsing itself is src/net/.
import { bitsOf, familyName, parseIp } from '../../net/ip.ts';
import { formatCidr, hostCidr, parseCidr, type Cidr } from '../../net/cidr.ts';
import type { Result } from '../../result.ts';
import type { Family } from './model.ts';

export function hostPrefixLen(family: Family): number {
  return family === 'ipv4' ? 32 : 128;
}

/** The policy model's name for a CIDR's family. */
export function cidrFamilyName(cidr: Cidr): Family {
  return familyName(cidr.family);
}

/** Splits a /0 into its two /1 halves, because ipset hash:net cannot store a zero-length prefix. */
export function splitZeroPrefix(c: Cidr): Cidr[] {
  if (c.prefixLength !== 0) return [c];
  const upper = new Uint8Array(c.network.length);
  upper[0] = 0x80;
  return [{ ...c, network: new Uint8Array(c.network.length), prefixLength: 1 }, { ...c, network: upper, prefixLength: 1 }];
}

/** Member text for a hash:net set: hosts print without a length, as `ipset save` shows them. */
export function netMemberText(c: Cidr): string {
  const text = formatCidr(c);
  return c.prefixLength === bitsOf(c.family) ? text.slice(0, text.lastIndexOf('/')) : text;
}

/** A hash:net member or iptables address as the tools print it: a CIDR, or a bare address meaning its host prefix. */
export function parseNetMember(text: string): Result<Cidr> {
  if (text.includes('/')) return parseCidr(text);
  const ip = parseIp(text);
  return ip.ok ? { ok: true, value: hostCidr(ip.value) } : ip;
}
