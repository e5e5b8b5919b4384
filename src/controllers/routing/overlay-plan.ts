// Overlay planning (pure): which learned next hops get an IPIP/FoU tunnel (--enable-overlay, --overlay-type,
// --overlay-encap, --overlay-encap-port), with upstream's tunnel names, the table-77 routes and `from <pod CIDR>
// lookup 77` rules that go with them, and the diff of observed tunnels and fou ports against that plan.
import { createHash } from 'node:crypto';
import { cidrTextContainsIp, familyOf } from '../../net/cidr.ts';

/** The policy-routing table upstream names `kube-router` in rt_tables. */
export const OVERLAY_TABLE = 77;
/** Our tunnels: `tun-` and 11 hex digits (upstream's naming); any other link is never touched. */
export const TUNNEL_NAME_PATTERN = /^tun-[0-9a-f]{11}$/;
/** Outer TTL of FoU tunnels, as upstream sets it. */
export const FOU_TUNNEL_TTL = 225;

export type Family = 4 | 6;

export interface OverlayOptions {
  enabled: boolean;
  type: 'subnet' | 'full';
  encap: 'ipip' | 'fou';
  encapPort: number;
}

/** This node as the overlay sees it: its best IP per family (tunnel local ends) and its pod CIDRs (rule sources). */
export interface OverlayNode {
  ipv4?: string;
  ipv6?: string;
  podCidrs: string[];
}

export interface TunnelSpec {
  name: string;
  family: Family;
  local: string;
  remote: string;
  encap: 'ipip' | 'fou';
  /** FoU destination port (encap fou only). */
  encapPort?: number;
}

/** A tunnel link as read back from the kernel (only links we own: see isOwnedTunnel). */
export interface ObservedTunnel {
  name: string;
  ifindex: number;
  kind: string;
  up: boolean;
  local?: string;
  remote?: string;
  /** 'gue' / 'fou' when the link is encapsulated in UDP, absent for plain IPIP. */
  encapType?: string;
  encapDport?: number;
  ttl?: number;
}

export interface FouPort {
  family: Family;
  port: number;
  /** True for `gue` ports (the kind we create); ipproto ports are someone else's. */
  gue: boolean;
}

export interface OverlayRule {
  family: Family;
  src: string;
}

export interface OverlayPlan {
  /** Desired tunnels by name. */
  tunnels: Map<string, TunnelSpec>;
  /** Learned prefix -> the tunnel its route goes through (prefixes absent here are routed without a tunnel). */
  tunnelOfPrefix: Map<string, string>;
  rules: OverlayRule[];
  fouPorts: FouPort[];
}

/** Upstream's name: `tun-` + the first 11 hex digits of sha256 of the IP with its dots and colons removed. */
export function tunnelName(ip: string): string {
  const stripped = ip.replaceAll('.', '').replaceAll(':', '');
  return `tun-${createHash('sha256').update(stripped).digest('hex').slice(0, 11)}`;
}

/** Only links of an IP-in-IP kind with our naming are ours. */
export function isOwnedTunnel(name: string, kind: string | undefined): boolean {
  return (kind === 'ipip' || kind === 'ip6tnl') && TUNNEL_NAME_PATTERN.test(name);
}

/** Whether a next hop is reached through a tunnel: overlay on and (full mode, or outside every local subnet). */
export function needsTunnel(nextHop: string, localSubnets: readonly string[], options: OverlayOptions): boolean {
  if (!options.enabled) return false;
  if (options.type === 'full') return true;
  return !localSubnets.some((subnet) => cidrTextContainsIp(subnet, nextHop));
}

export function hostPrefix(ip: string): string {
  return `${ip}/${familyOf(ip) === 6 ? 128 : 32}`;
}

/**
 * The overlay for the learned paths (prefix -> next hop). Without node identity (before the first sync) nothing
 * is planned; with overlay off the plan is empty, so applying it removes every tunnel and rule we own.
 */
export function planOverlay(
  learned: ReadonlyMap<string, string>, localSubnets: readonly string[], node: OverlayNode | undefined, options: OverlayOptions,
): OverlayPlan {
  const plan: OverlayPlan = { tunnels: new Map(), tunnelOfPrefix: new Map(), rules: [], fouPorts: [] };
  if (!options.enabled || !node) return plan;
  for (const [prefix, nextHop] of learned) {
    const family = familyOf(nextHop);
    const local = family === 4 ? node.ipv4 : family === 6 ? node.ipv6 : undefined;
    if (!family || !local || nextHop === local) continue;
    if (!needsTunnel(nextHop, localSubnets, options)) continue;
    const name = tunnelName(nextHop);
    const spec: TunnelSpec = { name, family, local, remote: nextHop, encap: options.encap };
    if (options.encap === 'fou') spec.encapPort = options.encapPort;
    plan.tunnels.set(name, spec);
    plan.tunnelOfPrefix.set(prefix, name);
  }
  for (const cidr of node.podCidrs) {
    const family = familyOf(cidr);
    if (family) plan.rules.push({ family, src: cidr });
  }
  // The fou port is the receiving end too: it exists whenever fou is the encap, tunnels or not.
  if (options.encap === 'fou') {
    for (const family of [4, 6] as const) {
      if ((family === 4 ? node.ipv4 : node.ipv6) !== undefined) plan.fouPorts.push({ family, port: options.encapPort, gue: true });
    }
  }
  return plan;
}

/** True when the observed link is exactly the tunnel the spec describes (kind, ends, encapsulation). */
export function tunnelMatches(observed: ObservedTunnel, spec: TunnelSpec): boolean {
  const kind = spec.family === 4 ? 'ipip' : 'ip6tnl';
  if (observed.kind !== kind || observed.local !== spec.local || observed.remote !== spec.remote) return false;
  if (spec.encap === 'fou') return observed.encapType === 'gue' && observed.encapDport === spec.encapPort;
  return observed.encapType === undefined;
}

export interface TunnelDiff {
  create: TunnelSpec[];
  /** Deleted (orphans, and tunnels recreated because their ends or encapsulation changed). */
  remove: string[];
  /** Existing and right but down. */
  setUp: string[];
}

export function diffTunnels(observed: readonly ObservedTunnel[], desired: ReadonlyMap<string, TunnelSpec>): TunnelDiff {
  const diff: TunnelDiff = { create: [], remove: [], setUp: [] };
  const byName = new Map(observed.map((t) => [t.name, t]));
  for (const t of observed) if (!desired.has(t.name)) diff.remove.push(t.name);
  for (const [name, spec] of desired) {
    const current = byName.get(name);
    if (!current) diff.create.push(spec);
    else if (!tunnelMatches(current, spec)) {
      diff.remove.push(name);
      diff.create.push(spec);
    } else if (!current.up) diff.setUp.push(name);
  }
  return diff;
}

/** `ip -batch` lines that create a tunnel and bring it up (the device is left with no address, as upstream). */
export function tunnelCreateCommands(spec: TunnelSpec): string[] {
  const kind = spec.family === 4 ? 'ipip' : 'ip6tnl';
  const words = ['link', 'add', 'name', spec.name, 'type', kind, 'local', spec.local, 'remote', spec.remote];
  if (spec.encap === 'fou') {
    words.push('ttl', String(FOU_TUNNEL_TTL), 'encap', 'gue', 'encap-sport', 'auto', 'encap-dport', String(spec.encapPort));
  }
  if (spec.family === 6) words.push('mode', 'ip6ip6');
  return [words.join(' '), `link set ${spec.name} up`];
}

export interface FouDiff {
  add: FouPort[];
  remove: FouPort[];
}

/**
 * Fou ports to add and remove. Only gue ports are candidates for removal, and only on a port we use or used:
 * the configured one or one our (observed) tunnels pointed at, so another tool's fou receiver survives.
 */
export function diffFouPorts(observed: readonly FouPort[], desired: readonly FouPort[], ownedPorts: ReadonlySet<number>): FouDiff {
  // An ipproto receiver on our port is not ours: adding gue there fails and surfaces as an apply error.
  const key = (p: FouPort) => `${p.family}/${p.port}/${p.gue}`;
  const have = new Set(observed.map(key));
  const want = new Set(desired.map(key));
  return {
    add: desired.filter((p) => !have.has(key(p))),
    remove: observed.filter((p) => p.gue && ownedPorts.has(p.port) && !want.has(key(p))),
  };
}

export function fouCommand(op: 'add' | 'del', p: FouPort): string {
  return `fou ${op} port ${p.port}${op === 'add' ? ' gue' : ''}${p.family === 6 ? ' -6' : ''}`;
}
