// The proxy's configuration and the checks on addresses users put in Services: canonical forms, and upstream's
// strict validation of externalIPs and load-balancer IPs (inside the allowed range, never inside a cluster-IP
// range; with no range configured every such IP is refused).
import { cidrContains, parseCidr, type Cidr } from '../../net/cidr.ts';
import { familyName, formatIp, parseIp } from '../../net/ip.ts';
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
  return parsed.ok ? { family: familyName(parsed.value.family), text: formatIp(parsed.value) } : undefined;
}

const parsedRanges = new Map<readonly string[], Cidr[]>();

/** The ranges of a flag, parsed once per list (the lists are the configuration's, fixed for the run). */
function rangesOf(texts: readonly string[]): Cidr[] {
  let parsed = parsedRanges.get(texts);
  if (!parsed) {
    parsed = texts.flatMap((t) => { const c = parseCidr(t); return c.ok ? [c.value] : []; });
    parsedRanges.set(texts, parsed);
  }
  return parsed;
}

function inRanges(ip: string, ranges: readonly string[]): boolean {
  const parsed = parseIp(ip);
  return parsed.ok && rangesOf(ranges).some((r) => cidrContains(r, parsed.value));
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
