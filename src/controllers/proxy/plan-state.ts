// The node's desired proxy state, kept per Service so one Service's event re-plans only that Service: virtual
// services by key (a key two Services claim goes to one of them, deterministically), dummy-link addresses
// reference-counted by the Services that need them, hairpin rules and firewall entries derived from both.
import type { HairpinRule, Problem, ServicePlan, VirtualService } from './model.ts';

/** What one Service's re-plan changed in the node's desired state. */
export interface StateDelta {
  /** Virtual services to create or update (the full desired form). */
  upsert: VirtualService[];
  /** Keys of virtual services no longer wanted. */
  remove: string[];
  addAddresses: string[];
  removeAddresses: string[];
  /** True when the set of hairpin rules changed. */
  hairpinChanged: boolean;
  /** Conflicts found while placing this Service's virtual services. */
  problems: Problem[];
}

export function sameVirtualService(a: VirtualService, b: VirtualService): boolean {
  if (a.key !== b.key || a.scheduler !== b.scheduler || a.persistenceSeconds !== b.persistenceSeconds || a.frontend !== b.frontend) return false;
  if (a.service !== b.service || a.portName !== b.portName) return false;
  if (a.schedulerFlags.join(',') !== b.schedulerFlags.join(',') || a.destinations.length !== b.destinations.length) return false;
  return a.destinations.every((d, i) => {
    const o = b.destinations[i]!;
    return d.address === o.address && d.port === o.port && d.weight === o.weight && d.local === o.local;
  });
}

const hairpinId = (h: HairpinRule): string => `${h.family}|${h.endpoint}|${h.address}|${h.protocol}|${h.port}`;

export class ProxyState {
  private readonly plans = new Map<string, ServicePlan>();
  /** Virtual service key -> Services claiming it (sorted; the first one owns it). */
  private readonly claims = new Map<string, string[]>();
  private readonly addressUsers = new Map<string, Set<string>>();
  private readonly hairpinCount = new Map<string, { rule: HairpinRule; users: number }>();

  plan(serviceKey: string): ServicePlan | undefined {
    return this.plans.get(serviceKey);
  }

  services(): IterableIterator<string> {
    return this.plans.keys();
  }

  /** The virtual service that is in force for a key (the owner's). */
  virtualService(key: string): VirtualService | undefined {
    const owner = this.claims.get(key)?.[0];
    return owner === undefined ? undefined : this.plans.get(owner)?.virtualServices.find((v) => v.key === key);
  }

  *virtualServices(): IterableIterator<VirtualService> {
    for (const key of this.claims.keys()) {
      const vs = this.virtualService(key);
      if (vs) yield vs;
    }
  }

  addresses(): string[] {
    return [...this.addressUsers.keys()];
  }

  hairpinRules(): HairpinRule[] {
    return [...this.hairpinCount.values()].map((h) => h.rule);
  }

  /** Replaces one Service's plan (undefined removes it) and returns what changed for the dataplane. */
  set(serviceKey: string, next: ServicePlan | undefined): StateDelta {
    const prev = this.plans.get(serviceKey);
    const delta: StateDelta = { upsert: [], remove: [], addAddresses: [], removeAddresses: [], hairpinChanged: false, problems: [] };
    const touched = new Set<string>();
    const before = new Map<string, VirtualService | undefined>();
    const keysOf = (p: ServicePlan | undefined) => (p?.virtualServices ?? []).map((v) => v.key);
    for (const key of [...keysOf(prev), ...keysOf(next)]) {
      if (!touched.has(key)) { touched.add(key); before.set(key, this.virtualService(key)); }
    }
    if (next) this.plans.set(serviceKey, next); else this.plans.delete(serviceKey);
    for (const key of keysOf(prev)) this.unclaim(key, serviceKey);
    for (const key of keysOf(next)) this.claim(key, serviceKey);
    for (const key of touched) {
      const was = before.get(key);
      const now = this.virtualService(key);
      if (!now) { if (was) delta.remove.push(key); continue; }
      if (!was || !sameVirtualService(was, now)) delta.upsert.push(now);
      const owner = this.claims.get(key)![0]!;
      if (next && owner !== serviceKey && keysOf(next).includes(key)) {
        delta.problems.push({ kind: 'Service', key: serviceKey, reason: 'VirtualServiceConflict',
          message: `${key} is already used by Service ${owner}; not programmed for this Service` });
      }
    }
    this.updateAddresses(serviceKey, prev?.dummyAddresses ?? [], next?.dummyAddresses ?? [], delta);
    delta.hairpinChanged = this.updateHairpin(prev?.hairpin ?? [], next?.hairpin ?? []);
    return delta;
  }

  private claim(key: string, service: string): void {
    const list = this.claims.get(key) ?? [];
    if (!list.includes(service)) { list.push(service); list.sort(); }
    this.claims.set(key, list);
  }

  private unclaim(key: string, service: string): void {
    const list = this.claims.get(key);
    if (!list) return;
    const rest = list.filter((s) => s !== service);
    if (rest.length === 0) this.claims.delete(key); else this.claims.set(key, rest);
  }

  private updateAddresses(service: string, before: readonly string[], after: readonly string[], delta: StateDelta): void {
    const keep = new Set(after);
    for (const address of before) {
      if (keep.has(address)) continue;
      const users = this.addressUsers.get(address);
      users?.delete(service);
      if (users && users.size === 0) { this.addressUsers.delete(address); delta.removeAddresses.push(address); }
    }
    for (const address of after) {
      let users = this.addressUsers.get(address);
      if (!users) { users = new Set(); this.addressUsers.set(address, users); delta.addAddresses.push(address); }
      users.add(service);
    }
  }

  private updateHairpin(before: readonly HairpinRule[], after: readonly HairpinRule[]): boolean {
    const beforeIds = new Set(before.map(hairpinId));
    const afterIds = new Set(after.map(hairpinId));
    let changed = false;
    for (const rule of before) {
      const id = hairpinId(rule);
      if (afterIds.has(id)) continue;
      const entry = this.hairpinCount.get(id);
      if (entry && --entry.users === 0) { this.hairpinCount.delete(id); changed = true; }
    }
    for (const rule of after) {
      const id = hairpinId(rule);
      if (beforeIds.has(id)) continue;
      const entry = this.hairpinCount.get(id);
      if (entry) entry.users++;
      else { this.hairpinCount.set(id, { rule, users: 1 }); changed = true; }
    }
    return changed;
  }
}
