// IPv4/IPv6 address and CIDR arithmetic on bigints, for validation (ipBlock, podCIDR) and the lab allocators.
import { isIPv4, isIPv6 } from 'node:net';

export type IpFamily = 4 | 6;
export interface IpAddress { family: IpFamily; value: bigint }
export interface Cidr { family: IpFamily; base: bigint; prefix: number }

export function bitsOf(family: IpFamily): number { return family === 4 ? 32 : 128; }

export function parseIp(text: string): IpAddress | undefined {
  if (isIPv4(text)) {
    const value = text.split('.').reduce((acc, octet) => (acc << 8n) + BigInt(Number(octet)), 0n);
    return { family: 4, value };
  }
  if (!isIPv6(text) || text.includes('.')) return undefined;
  const [head = '', tail] = text.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const missing = 8 - headGroups.length - tailGroups.length;
  const groups = tail === undefined ? headGroups : [...headGroups, ...Array<string>(missing).fill('0'), ...tailGroups];
  const value = groups.reduce((acc, g) => (acc << 16n) + BigInt(parseInt(g, 16)), 0n);
  return { family: 6, value };
}

export function formatIp(address: IpAddress): string {
  if (address.family === 4) {
    return [24n, 16n, 8n, 0n].map((shift) => String((address.value >> shift) & 255n)).join('.');
  }
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((address.value >> BigInt(i * 16)) & 0xffffn).toString(16));
  // compress the longest run of zero groups, as the canonical text form does
  let bestStart = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  if (bestStart < 0) return groups.join(':');
  return `${groups.slice(0, bestStart).join(':')}::${groups.slice(bestStart + bestLen).join(':')}`;
}

/** Parses "a.b.c.d/n"; `strict` also requires the host bits to be zero. */
export function parseCidr(text: string, strict = false): Cidr | undefined {
  const [addr, prefixText, extra] = text.split('/');
  if (addr === undefined || prefixText === undefined || extra !== undefined || !/^\d{1,3}$/.test(prefixText)) return undefined;
  const ip = parseIp(addr);
  const prefix = Number(prefixText);
  if (!ip || prefix > bitsOf(ip.family)) return undefined;
  const base = ip.value & maskOf(ip.family, prefix);
  if (strict && base !== ip.value) return undefined;
  return { family: ip.family, base, prefix };
}

export function maskOf(family: IpFamily, prefix: number): bigint {
  const bits = BigInt(bitsOf(family));
  return ((1n << bits) - 1n) ^ ((1n << (bits - BigInt(prefix))) - 1n);
}

export function formatCidr(cidr: Cidr): string {
  return `${formatIp({ family: cidr.family, value: cidr.base })}/${cidr.prefix}`;
}

export function cidrContains(outer: Cidr, inner: Cidr | IpAddress): boolean {
  if (outer.family !== inner.family) return false;
  const innerBase = 'base' in inner ? inner.base : inner.value;
  const innerPrefix = 'prefix' in inner ? inner.prefix : bitsOf(inner.family);
  return innerPrefix >= outer.prefix && (innerBase & maskOf(outer.family, outer.prefix)) === outer.base;
}

export function cidrSize(cidr: Cidr): bigint {
  return 1n << BigInt(bitsOf(cidr.family) - cidr.prefix);
}
