// The proxy's configuration and the checks on addresses users put in Services: canonical forms, and upstream's
// strict validation of externalIPs and load-balancer IPs (inside the allowed range, never inside a cluster-IP
// range; with no range configured every such IP is refused).
import { parseIp, formatIp, parseCidr } from '../../cli/ip.ts';
import type { Family } from './model.ts';

export interface ProxyConfig {
  families: Family[];
  clusterIpRanges: string[];
  externalIpRanges: string[];
  loadBalancerIpRanges: string[];
  strictExternalIpValidation: boolean;
  /** --hairpin-mode: hairpin SNAT for every Service, not only annotated ones. */
  hairpinAll: boolean;
  /** --nodeport-bindon-all-ip. */
  nodePortBindOnAllIp: boolean;
}

export interface Address {
  family: Family;
  text: string;
}

/** A valid IP in canonical text form, or undefined. */
export function canonicalAddress(text: string): Address | undefined {
  const parsed = parseIp(text);
  if (!parsed.ok) return undefined;
  return { family: parsed.value.family === 4 ? 'ipv4' : 'ipv6', text: formatIp(parsed.value) };
}

function inRanges(ip: string, ranges: readonly string[]): boolean {
  const parsed = parseIp(ip);
  if (!parsed.ok) return false;
  for (const range of ranges) {
    const cidr = parseCidr(range);
    if (!cidr.ok || cidr.value.family !== parsed.value.family) continue;
    const base = parseIp(cidr.value.cidr.slice(0, cidr.value.cidr.indexOf('/')));
    if (!base.ok) continue;
    let bits = cidr.value.prefixLength;
    let match = true;
    for (let i = 0; bits > 0 && match; i++, bits -= 8) {
      const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
      match = (((parsed.value.bytes[i] ?? 0) ^ (base.value.bytes[i] ?? 0)) & mask) === 0;
    }
    if (match) return true;
  }
  return false;
}

/**
 * The externalIPs or load-balancer IPs of a Service that may be programmed; each refused one is reported.
 * Canonical forms are returned, de-duplicated, in the given order.
 */
export function filterServiceIps(ips: readonly string[], what: 'externalIP' | 'loadBalancerIP', config: ProxyConfig, report: (message: string) => void): string[] {
  const allowed = what === 'externalIP' ? config.externalIpRanges : config.loadBalancerIpRanges;
  const flag = what === 'externalIP' ? '--service-external-ip-range' : '--loadbalancer-ip-range';
  const out: string[] = [];
  for (const text of ips) {
    const ip = canonicalAddress(text);
    if (!ip) { report(`${what} "${text}" is not a valid IP address`); continue; }
    if (!config.families.includes(ip.family)) { report(`${what} ${ip.text}: ${ip.family} is not enabled on this node`); continue; }
    if (config.strictExternalIpValidation) {
      if (allowed.length === 0) { report(`${what} ${ip.text} refused: no ${flag} is configured (strict validation)`); continue; }
      if (inRanges(ip.text, config.clusterIpRanges)) { report(`${what} ${ip.text} refused: inside the service cluster IP range`); continue; }
      if (!inRanges(ip.text, allowed)) { report(`${what} ${ip.text} refused: not inside any ${flag}`); continue; }
    }
    if (!out.includes(ip.text)) out.push(ip.text);
  }
  return out;
}
