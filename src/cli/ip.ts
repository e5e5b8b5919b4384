// IP address and CIDR parsing for flag values, with Go's net.ParseIP/ParseCIDR acceptance rules (dotted IPv4
// without leading zeros, IPv6 with one "::" and an optional IPv4 tail, no zone) and canonical printing.
import { fail, ok, type Result } from './result.ts';

export interface ParsedIp {
  family: 4 | 6;
  bytes: Uint8Array;
}

export interface ParsedCidr {
  family: 4 | 6;
  /** Canonical network form: host bits cleared, IPv6 compressed, e.g. `10.96.0.0/12`, `fd00::/108`. */
  cidr: string;
  prefixLength: number;
}

function parseIpv4Bytes(text: string): Uint8Array | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const bytes = new Uint8Array(4);
  for (const [index, part] of parts.entries()) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return undefined;
    const value = Number(part);
    if (value > 255) return undefined;
    bytes[index] = value;
  }
  return bytes;
}

function parseGroups(text: string): number[] | undefined {
  if (text === '') return [];
  const groups: number[] = [];
  const parts = text.split(':');
  for (const [index, part] of parts.entries()) {
    if (index === parts.length - 1 && part.includes('.')) {
      const v4 = parseIpv4Bytes(part);
      if (v4 === undefined) return undefined;
      groups.push(((v4[0] as number) << 8) | (v4[1] as number), ((v4[2] as number) << 8) | (v4[3] as number));
      continue;
    }
    if (!/^[0-9a-fA-F]{1,4}$/.test(part)) return undefined;
    groups.push(parseInt(part, 16));
  }
  return groups;
}

function parseIpv6Bytes(text: string): Uint8Array | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = parseGroups(halves[0] as string);
  const tail = halves.length === 2 ? parseGroups(halves[1] as string) : [];
  if (head === undefined || tail === undefined) return undefined;
  // An IPv4 tail is only allowed at the very end of the address.
  if (halves.length === 2 && (halves[0] as string).includes('.')) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  groups.forEach((group, index) => {
    bytes[index * 2] = group >> 8;
    bytes[index * 2 + 1] = group & 0xff;
  });
  return bytes;
}

function isV4Mapped(bytes: Uint8Array): boolean {
  return bytes.length === 16 && bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
}

export function parseIp(text: string): Result<ParsedIp> {
  if (text.includes(':')) {
    const bytes = parseIpv6Bytes(text);
    if (bytes === undefined) return fail('not an IP address');
    // Go treats ::ffff:a.b.c.d as the IPv4 address a.b.c.d.
    if (isV4Mapped(bytes)) return ok({ family: 4, bytes: bytes.slice(12) });
    return ok({ family: 6, bytes });
  }
  const bytes = parseIpv4Bytes(text);
  return bytes === undefined ? fail('not an IP address') : ok({ family: 4, bytes });
}

/** Prints an address in Go's (RFC 5952) canonical form. */
export function formatIp(ip: ParsedIp): string {
  if (ip.family === 4) return Array.from(ip.bytes).join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((ip.bytes[i] as number) << 8) | (ip.bytes[i + 1] as number));
  let bestStart = -1;
  let bestLength = 1;
  for (let start = 0; start < 8; start++) {
    let length = 0;
    while (start + length < 8 && groups[start + length] === 0) length++;
    if (length > bestLength) {
      bestStart = start;
      bestLength = length;
    }
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** Parses an address and returns its canonical text (`::ffff:1.2.3.4` becomes `1.2.3.4`, IPv6 is compressed). */
export function canonicalIp(text: string): Result<string> {
  const parsed = parseIp(text);
  return parsed.ok ? ok(formatIp(parsed.value)) : parsed;
}

export function parseCidr(text: string): Result<ParsedCidr> {
  const slash = text.indexOf('/');
  if (slash < 0) return fail('not a CIDR (expected address/prefix-length, e.g. 10.96.0.0/12)');
  const address = text.slice(0, slash);
  const lengthText = text.slice(slash + 1);
  const family = address.includes(':') ? 6 : 4;
  const bytes = family === 6 ? parseIpv6Bytes(address) : parseIpv4Bytes(address);
  if (bytes === undefined) return fail('not a CIDR (the address part is not an IP address)');
  const maxLength = family === 6 ? 128 : 32;
  if (!/^(0|[1-9][0-9]{0,2})$/.test(lengthText) || Number(lengthText) > maxLength) {
    return fail(`not a CIDR (prefix length must be 0-${maxLength})`);
  }
  const prefixLength = Number(lengthText);
  const network = bytes.slice();
  for (let bit = prefixLength; bit < maxLength; bit++) {
    const index = bit >> 3;
    network[index] = (network[index] as number) & ~(0x80 >> (bit & 7));
  }
  return ok({ family, prefixLength, cidr: `${formatIp({ family, bytes: network })}/${prefixLength}` });
}
