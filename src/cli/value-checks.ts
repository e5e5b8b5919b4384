// Checks on one flag's already-typed value. Each returns the problem as a phrase ("must be ...") or
// undefined; the caller turns it into `invalid value "<text>" for --<flag>: <problem>`.
import type { PortRange } from '../config/options.ts';
import { isPrivateAsn, reservedAsnReason } from './asn.ts';
import { decodeStrictBase64 } from '../config/go-values.ts';
import { parseCidr } from '../net/cidr.ts';
import { parseIp } from '../net/ip.ts';

export type Check<T> = (value: T) => string | undefined;

const SECOND_MS = 1000;

export const positiveDuration: Check<number> = (ms) => (ms > 0 ? undefined : 'must be greater than 0');

export const nonNegativeDuration: Check<number> = (ms) => (ms >= 0 ? undefined : 'must not be negative');

export function durationBetween(minMs: number, maxMs: number, wording: string): Check<number> {
  return (ms) => (ms >= minMs && ms <= maxMs ? undefined : `must be ${wording}`);
}

export function intBetween(min: number, max: number): Check<number> {
  return (value) => (value >= min && value <= max ? undefined : `must be between ${min} and ${max}`);
}

export function oneOf(...choices: string[]): Check<string> {
  return (value) => (choices.includes(value) ? undefined : `must be one of: ${choices.join(', ')}`);
}

export const clusterAsn: Check<number> = (asn) =>
  asn === 0 || isPrivateAsn(asn) ? undefined : 'must be a private ASN (64512-65534 or 4200000000-4294967294)';

export const peerAsns: Check<number[]> = (asns) => {
  for (const asn of asns) {
    const reason = reservedAsnReason(asn);
    if (reason !== undefined) return `ASN ${asn} is ${reason}`;
  }
  return undefined;
};

export const peerPorts: Check<number[]> = (ports) => {
  const bad = ports.find((port) => port < 1 || port > 65535);
  return bad === undefined ? undefined : `port ${bad} is not between 1 and 65535`;
};

export const cidrList: Check<string[]> = (cidrs) => {
  for (const cidr of cidrs) {
    const parsed = parseCidr(cidr);
    if (!parsed.ok) return parsed.error;
  }
  return undefined;
};

export const serviceClusterIpRange: Check<string[]> = (cidrs) => {
  if (cidrs.length < 1 || cidrs.length > 2) return 'must be one CIDR, or two CIDRs (one IPv4, one IPv6)';
  const listProblem = cidrList(cidrs);
  if (listProblem !== undefined) return listProblem;
  const families = cidrs.map((cidr) => {
    const parsed = parseCidr(cidr);
    return parsed.ok ? parsed.value.family : 0;
  });
  if (families.length === 2 && families[0] === families[1]) return 'two CIDRs must be of different IP families';
  return undefined;
};

export function parsePortRange(text: string): PortRange | undefined {
  const match = /^([0-9]+)[-:]([0-9]+)$/.exec(text);
  if (match === null) return undefined;
  return { first: Number(match[1]), last: Number(match[2]) };
}

export const nodePortRange: Check<string> = (text) => {
  const range = parsePortRange(text);
  if (range === undefined) return 'must be a port range like 30000-32767 or 30000:32767';
  if (range.first < 1 || range.last > 65535) return 'ports must be between 1 and 65535';
  if (range.first >= range.last) return 'the first port must be lower than the last';
  return undefined;
};

export const routerId: Check<string> = (text) => {
  if (text === '' || text === 'generate') return undefined;
  const parsed = parseIp(text);
  return parsed.ok && parsed.value.family === 4 ? undefined : 'must be an IPv4 address or "generate"';
};

export const ipAddress: Check<string> = (text) => (parseIp(text).ok ? undefined : 'must be an IP address');

export const ipAddressOrEmpty: Check<string> = (text) =>
  text === '' || parseIp(text).ok ? undefined : 'must be an IP address (or empty for all addresses)';

export const verbosity: Check<string> = (text) =>
  /^[0-9]+$/.test(text) && Number(text) <= 2147483647 ? undefined : 'must be a non-negative integer';

export const httpPath: Check<string> = (text) => (text.startsWith('/') ? undefined : 'must start with "/"');

export const base64Passwords: Check<string[]> = (passwords) => {
  for (const [index, password] of passwords.entries()) {
    // Blank entries are allowed: that peer has no password.
    if (password !== '' && !decodeStrictBase64(password).ok) return `entry ${index + 1} is not valid base64`;
  }
  return undefined;
};

export function positiveDurationUpTo(maxMs: number, maxText: string): Check<number> {
  return (ms) => (ms > 0 && ms <= maxMs ? undefined : `must be greater than 0 and at most ${maxText}`);
}

// As upstream: up to 18h12m16s (65536 s) is accepted; the BGP speaker clamps to the 16-bit field (65535 s).
export const BGP_HOLDTIME_CHECK = durationBetween(3 * SECOND_MS, 65536 * SECOND_MS, 'between 3s and 18h12m16s');
export const GRACEFUL_RESTART_TIME_CHECK = positiveDurationUpTo(4095 * SECOND_MS, '4095s (1h8m15s)');
export const GRACEFUL_RESTART_DEFERRAL_CHECK = positiveDurationUpTo(18 * 3600 * SECOND_MS, '18h');
