// The proxy's netfilter state through the shared writers: its three ipsets (members replaced whole on a full
// sync, added/deleted on a delta), its chains filled whole with `iptables-restore --noflush`, and one jump each
// from INPUT / POSTROUTING. Nothing else in the tables is read or written.
import type { Exec } from '../../kernel/exec.ts';
import { iptablesRestore, ruleExists, type IptablesMode, type IptablesTarget, type RuleArgs, type TableEdit } from '../../kernel/iptables.ts';
import { ipsetRestore, type IpsetOp } from '../../kernel/ipset.ts';
import type { IpFamily } from '../../net/ip.ts';
import type { NetfilterApplier } from './dataplane.ts';
import {
  HAIRPIN_CHAIN, MASQUERADE_CHAIN, SERVICES_CHAIN, firewallJump, firewallRules, hairpinJump, hairpinRules, masqueradeJump,
  masqueradeRules, proxySets, servicePortEntry, vsFamily,
} from './netfilter-rules.ts';
import type { ProxyState, StateDelta } from './plan-state.ts';

export interface NetfilterConfig {
  families: IpFamily[];
  mode: IptablesMode;
  /** --ipvs-permit-all: the service firewall (KUBE-ROUTER-SERVICES). */
  firewall: boolean;
  masqueradeAll: boolean;
  /** The node's address per family (the SNAT source). */
  nodeIp(family: IpFamily): string | undefined;
  /** This node's pod CIDRs per family. */
  podCidrs(family: IpFamily): string[];
  /** The node's own addresses (not the service addresses on the dummy link), for kube-router-local-ips. */
  hostAddresses(): Set<string>;
}

interface Entry { family: IpFamily; address: string; port: string }

export class IptablesNetfilter implements NetfilterApplier {
  /** What the sets hold for each virtual service key, and how many services use each address. */
  private readonly entries = new Map<string, Entry>();
  private readonly addressUsers = new Map<string, number>();

  constructor(private readonly exec: Exec, private readonly config: NetfilterConfig) {}

  private target(family: IpFamily): IptablesTarget {
    return { family, mode: this.config.mode };
  }

  async fullSync(state: ProxyState): Promise<string[]> {
    const errors: string[] = [];
    this.entries.clear();
    this.addressUsers.clear();
    for (const vs of state.virtualServices()) this.track(vs.key, { family: vsFamily(vs), address: vs.address, port: servicePortEntry(vs) });
    const host = this.config.hostAddresses();
    const ops: IpsetOp[] = [];
    for (const family of this.config.families) {
      const sets = proxySets(family);
      const mine = [...this.entries.values()].filter((e) => e.family === family);
      const localIps = [...host].filter((a) => a.includes(':') === (family === 6)).sort();
      ops.push({ op: 'create', set: sets.localIps }, { op: 'replace', set: sets.localIps, members: localIps.map((entry) => ({ entry })) });
      ops.push({ op: 'create', set: sets.serviceIps }, { op: 'replace', set: sets.serviceIps, members: [...new Set(mine.map((e) => e.address))].sort().map((entry) => ({ entry })) });
      ops.push({ op: 'create', set: sets.servicePorts }, { op: 'replace', set: sets.servicePorts, members: mine.map((e) => e.port).sort().map((entry) => ({ entry })) });
    }
    const sets = await ipsetRestore(this.exec, ops);
    if (!sets.ok) return [sets.error.message];
    for (const family of this.config.families) {
      const filter: TableEdit = this.config.firewall ? { table: 'filter', fill: [{ chain: SERVICES_CHAIN, rules: firewallRules(family) }] } : { table: 'filter' };
      const nat: TableEdit = {
        table: 'nat',
        fill: [
          { chain: MASQUERADE_CHAIN, rules: masqueradeRules(family, this.config.nodeIp(family), this.config.podCidrs(family), this.config.masqueradeAll) },
          { chain: HAIRPIN_CHAIN, rules: hairpinRules(family, state.hairpinRules()) },
        ],
      };
      const r = await iptablesRestore(this.exec, this.target(family), [filter, nat]);
      if (!r.ok) { errors.push(r.error.message); continue; }
      errors.push(...await this.ensureJump(family, 'nat', 'POSTROUTING', masqueradeJump()));
      errors.push(...await this.ensureJump(family, 'nat', 'POSTROUTING', hairpinJump()));
      // --ipvs-permit-all=false after a run with it: the firewall is taken out of the path.
      if (this.config.firewall) errors.push(...await this.ensureJump(family, 'filter', 'INPUT', firewallJump(family), 1));
      else errors.push(...await this.removeJump(family, 'filter', 'INPUT', firewallJump(family)));
    }
    return errors;
  }

  async apply(delta: StateDelta, state: ProxyState): Promise<string[]> {
    const ops: IpsetOp[] = [];
    for (const vs of delta.upsert) {
      if (this.entries.has(vs.key)) continue;
      const entry: Entry = { family: vsFamily(vs), address: vs.address, port: servicePortEntry(vs) };
      if (!this.config.families.includes(entry.family)) continue;
      const sets = proxySets(entry.family);
      if (this.track(vs.key, entry)) ops.push({ op: 'add', set: sets.serviceIps.name, entry: { entry: entry.address } });
      ops.push({ op: 'add', set: sets.servicePorts.name, entry: { entry: entry.port } });
    }
    for (const key of delta.remove) {
      const entry = this.entries.get(key);
      if (!entry) continue;
      const sets = proxySets(entry.family);
      ops.push({ op: 'del', set: sets.servicePorts.name, entry: entry.port });
      if (this.untrack(key, entry)) ops.push({ op: 'del', set: sets.serviceIps.name, entry: entry.address });
    }
    const errors: string[] = [];
    const r = await ipsetRestore(this.exec, ops);
    if (!r.ok) errors.push(r.error.message);
    if (delta.hairpinChanged) {
      for (const family of this.config.families) {
        const w = await iptablesRestore(this.exec, this.target(family), [{ table: 'nat', fill: [{ chain: HAIRPIN_CHAIN, rules: hairpinRules(family, state.hairpinRules()) }] }]);
        if (!w.ok) errors.push(w.error.message);
      }
    }
    return errors;
  }

  /** Removes every jump, chain and set of the proxy (--cleanup-config); absent ones are fine. */
  async removeAll(): Promise<string[]> {
    const errors: string[] = [];
    for (const family of this.config.families) {
      for (const [table, chain, jump] of [['filter', 'INPUT', firewallJump(family)], ['nat', 'POSTROUTING', masqueradeJump()], ['nat', 'POSTROUTING', hairpinJump()]] as const) {
        errors.push(...await this.removeJump(family, table, chain, jump));
      }
      const chains = await iptablesRestore(this.exec, this.target(family), [
        { table: 'filter', fill: [{ chain: SERVICES_CHAIN, rules: [] }], remove: [SERVICES_CHAIN] },
        { table: 'nat', fill: [{ chain: MASQUERADE_CHAIN, rules: [] }, { chain: HAIRPIN_CHAIN, rules: [] }], remove: [MASQUERADE_CHAIN, HAIRPIN_CHAIN] },
      ]);
      if (!chains.ok) errors.push(chains.error.message);
      const sets = proxySets(family);
      const r = await ipsetRestore(this.exec, [sets.localIps, sets.serviceIps, sets.servicePorts].map((s): IpsetOp => ({ op: 'destroy', set: s.name })));
      if (!r.ok) errors.push(r.error.message);
    }
    return errors;
  }

  private async ensureJump(family: IpFamily, table: 'filter' | 'nat', chain: string, rule: RuleArgs, position?: number): Promise<string[]> {
    const present = await ruleExists(this.exec, this.target(family), table, chain, rule);
    if (!present.ok) return [present.error.message];
    if (present.value) return [];
    const edit: TableEdit = position ? { table, insert: [{ chain, position, rule }] } : { table, append: [{ chain, rule }] };
    const r = await iptablesRestore(this.exec, this.target(family), [edit]);
    return r.ok ? [] : [r.error.message];
  }

  /** Deletes every copy of a jump (bounded, in case deleting keeps failing). */
  private async removeJump(family: IpFamily, table: 'filter' | 'nat', chain: string, rule: RuleArgs): Promise<string[]> {
    for (let i = 0; i < 10; i++) {
      const present = await ruleExists(this.exec, this.target(family), table, chain, rule);
      if (!present.ok) return present.error.kind === 'object-not-found' ? [] : [present.error.message];
      if (!present.value) return [];
      const r = await iptablesRestore(this.exec, this.target(family), [{ table, delete: [{ chain, rule }] }]);
      if (!r.ok) return [r.error.message];
    }
    return [];
  }

  /** Returns true when the address is new to the sets. */
  private track(key: string, entry: Entry): boolean {
    this.entries.set(key, entry);
    const n = (this.addressUsers.get(entry.address) ?? 0) + 1;
    this.addressUsers.set(entry.address, n);
    return n === 1;
  }

  /** Returns true when no service uses the address any more. */
  private untrack(key: string, entry: Entry): boolean {
    this.entries.delete(key);
    const n = (this.addressUsers.get(entry.address) ?? 1) - 1;
    if (n <= 0) { this.addressUsers.delete(entry.address); return true; }
    this.addressUsers.set(entry.address, n);
    return false;
  }
}
