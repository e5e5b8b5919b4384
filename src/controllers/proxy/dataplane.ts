// The IPVS dataplane: service addresses on the dummy link, IPVS virtual services, and the netfilter side
// (firewall sets and chains, masquerade and hairpin), applied in an order that never leaves a reachable address
// without its virtual service: addresses and set entries first, IPVS next, removals last.
import type { IpvsService } from '../../kernel/ipvs.ts';
import { cidrContains, parseCidr, type Cidr } from '../../net/cidr.ts';
import { parseIp } from '../../net/ip.ts';
import type { AddressApplier } from './apply-addresses.ts';
import type { IpvsApplier } from './apply-ipvs.ts';
import type { ProxyDataplane } from './controller.ts';
import type { ProxyState, StateDelta } from './plan-state.ts';

/** The netfilter half of the dataplane (ipset + iptables, or nftables later). */
export interface NetfilterApplier {
  fullSync(state: ProxyState): Promise<string[]>;
  apply(delta: StateDelta, state: ProxyState): Promise<string[]>;
}

export interface OwnershipConfig {
  /** --service-node-port-range. */
  nodePortRange: { from: number; to: number };
  /** --excluded-cidrs: IPVS services in these ranges are never deleted. */
  excludedCidrs: readonly string[];
}

/**
 * Which IPVS services kube-router owns: those on an address of the dummy link (every ClusterIP, externalIP and
 * LB IP it programs lives there) and NodePorts (a local address, a port in the NodePort range) — never one
 * inside --excluded-cidrs. Any other virtual service on the host belongs to someone else and is left alone.
 */
export function ownershipRule(config: OwnershipConfig, dummyAddresses: ReadonlySet<string>, localAddresses: ReadonlySet<string>): (s: IpvsService) => boolean {
  const excluded: Cidr[] = config.excludedCidrs.flatMap((t) => { const c = parseCidr(t); return c.ok ? [c.value] : []; });
  return (s) => {
    if ('fwmark' in s) return false;
    const ip = parseIp(s.address);
    if (!ip.ok || excluded.some((c) => cidrContains(c, ip.value))) return false;
    if (dummyAddresses.has(s.address)) return true;
    return localAddresses.has(s.address) && s.port >= config.nodePortRange.from && s.port <= config.nodePortRange.to;
  };
}

export interface IpvsDataplaneDeps {
  addresses: AddressApplier;
  ipvs: IpvsApplier;
  netfilter?: NetfilterApplier;
  ownership: OwnershipConfig;
  /** Every address on the node's links (for recognising NodePort services), read at each full sync. */
  localAddresses(): Promise<Set<string>>;
}

export class IpvsDataplane implements ProxyDataplane {
  constructor(private readonly deps: IpvsDataplaneDeps) {}

  async fullSync(state: ProxyState): Promise<Map<string, string>> {
    const failures = new Map<string, string>();
    const onDummy = await this.deps.addresses.observe();
    const desiredAddresses = new Set(state.addresses());
    await this.deps.addresses.add(state.addresses().filter((a) => !onDummy.has(a)));
    for (const e of await this.deps.netfilter?.fullSync(state) ?? []) failures.set('netfilter', e);
    const owned = ownershipRule(this.deps.ownership, new Set([...onDummy, ...desiredAddresses]), await this.deps.localAddresses());
    const report = await this.deps.ipvs.fullSync(state.virtualServices(), owned);
    for (const [key, e] of report.failed) failures.set(key, `${e.code} (errno ${e.errno})`);
    // Stale addresses go last: their virtual services are gone by now. The new ones were pinned when added.
    await this.deps.addresses.remove([...onDummy].filter((a) => !desiredAddresses.has(a)));
    await this.deps.addresses.pin([...onDummy].filter((a) => desiredAddresses.has(a)));
    return failures;
  }

  async apply(delta: StateDelta, state: ProxyState): Promise<Map<string, string>> {
    const failures = new Map<string, string>();
    await this.deps.addresses.add(delta.addAddresses);
    const report = await this.deps.ipvs.apply(delta.upsert, delta.remove);
    for (const [key, e] of report.failed) failures.set(key, `${e.code} (errno ${e.errno})`);
    for (const e of await this.deps.netfilter?.apply(delta, state) ?? []) failures.set('netfilter', e);
    await this.deps.addresses.remove(delta.removeAddresses);
    return failures;
  }
}
