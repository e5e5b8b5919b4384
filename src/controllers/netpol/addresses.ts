// IPv4/IPv6 address and CIDR parsing for the policy planner: canonical text forms (as ipset/iptables print
// them), prefix containment and family detection, all pure and returning errors as values.
import type { Family } from './model.ts';

export interface Cidr {
  family: Family;
  /** Network address as an integer (host bits cleared). */
  network: bigint;
  prefix: number;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const bitsOf = (family: Family): number => (family === 'ipv4' ? 32 : 128);

function parseV4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    value = (value << 8n) | BigInt(n);
  }
  return value;
}

function parseV6(text: string): bigint | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(text)) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groupsOf = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    const pieces = s.split(':');
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i] ?? '';
      if (i === pieces.length - 1 && piece.includes('.')) {
        const v4 = parseV4(piece);
        if (v4 === undefined) return undefined;
        out.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(piece)) return undefined;
        out.push(parseInt(piece, 16));
      }
    }
    return out;
  };
  const head = groupsOf(halves[0] ?? '');
  const tail = halves.length === 2 ? groupsOf(halves[1] ?? '') : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const groups = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
}

/** Parses a bare IPv4 or IPv6 address. */
export function parseIp(text: string): Parsed<{ family: Family; value: bigint }> {
  const v4 = parseV4(text);
  if (v4 !== undefined) return { ok: true, value: { family: 'ipv4', value: v4 } };
  const v6 = text.includes(':') ? parseV6(text) : undefined;
  if (v6 !== undefined) return { ok: true, value: { family: 'ipv6', value: v6 } };
  return { ok: false, error: `invalid IP address "${text}"` };
}

/** Formats an address integer the way iproute2/ipset/iptables print it (RFC 5952 for IPv6). */
export function formatIp(family: Family, value: bigint): string {
  if (family === 'ipv4') {
    return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.');
  }
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  // Longest run (length >= 2) of zero groups becomes "::"; the first wins on ties.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Parses "addr/len" (or a bare address as a host prefix); host bits are cleared. */
export function parseCidr(text: string): Parsed<Cidr> {
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const ip = parseIp(addrText);
  if (!ip.ok) return { ok: false, error: `invalid CIDR "${text}"` };
  const bits = bitsOf(ip.value.family);
  let prefix = bits;
  if (slash >= 0) {
    const lenText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > bits) return { ok: false, error: `invalid CIDR "${text}"` };
    prefix = Number(lenText);
  }
  return { ok: true, value: { family: ip.value.family, network: maskTo(ip.value.value, prefix, bits), prefix } };
}

function maskTo(value: bigint, prefix: number, bits: number): bigint {
  const hostBits = BigInt(bits - prefix);
  return (value >> hostBits) << hostBits;
}

/** "a.b.c.d/len" with host bits cleared. */
export function formatCidr(c: Cidr): string {
  return `${formatIp(c.family, c.network)}/${c.prefix}`;
}

/** Canonical text of an address (compressed IPv6), or undefined if unparsable. */
export function canonicalIp(text: string): string | undefined {
  const p = parseIp(text);
  return p.ok ? formatIp(p.value.family, p.value.value) : undefined;
}

export function familyOf(text: string): Family | undefined {
  const p = parseCidr(text);
  return p.ok ? p.value.family : undefined;
}

/** True if `inner` lies entirely within `outer` (same family). */
export function cidrContains(outer: Cidr, inner: Cidr): boolean {
  if (outer.family !== inner.family || inner.prefix < outer.prefix) return false;
  return maskTo(inner.network, outer.prefix, bitsOf(outer.family)) === outer.network;
}

/** True if address `ip` (text) is inside `cidr`. */
export function cidrHas(cidr: Cidr, ip: string): boolean {
  const p = parseIp(ip);
  if (!p.ok || p.value.family !== cidr.family) return false;
  return maskTo(p.value.value, cidr.prefix, bitsOf(cidr.family)) === cidr.network;
}

/** Splits a /0 into its two /1 halves, because ipset hash:net cannot store a zero-length prefix. */
export function splitZeroPrefix(c: Cidr): Cidr[] {
  if (c.prefix !== 0) return [c];
  const top = 1n << BigInt(bitsOf(c.family) - 1);
  return [{ ...c, network: 0n, prefix: 1 }, { ...c, network: top, prefix: 1 }];
}

/** Member text for a hash:net set: hosts print without a length, as `ipset save` shows them. */
export function netMemberText(c: Cidr): string {
  return c.prefix === bitsOf(c.family) ? formatIp(c.family, c.network) : formatCidr(c);
}

export const hostPrefixLen = bitsOf;
