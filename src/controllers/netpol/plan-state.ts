// The planned state kept between syncs, in pieces: one entry per policy (its chains and sets per family and
// its local targets) and one firewall per local pod. A full plan fills it; an incremental update re-plans only
// the named policies and pods and reports which chain and set names it touched. Pure: no I/O, no clock.
import {
  FAMILIES, type ChainSpec, type Family, type FamilyState, type PodFirewall, type PolicyChainInfo, type PolicyRejection, type SetSpec,
  TOP_CHAIN_OF,
} from './model.ts';
import { localPodsSetName, podChainName } from './names.ts';
import { builtinJumps, commonChain, defaultChain, podChain, tailChain, topChains } from './plan-chains.ts';
import { isTarget, planPolicyFamily, type PolicyFamilyPlan } from './plan-policy.ts';
import { advanceView, prepareView, type ClusterView, type PreparedView } from './plan-view.ts';
import { podKeyOf, toPolicyPod, type PolicyPod } from './policy-pod.ts';
import { podFirewallFor, policiesOf } from './plan.ts';
import type { NormalizedPolicy } from './policy-spec.ts';
import type { Labels } from './selectors.ts';

export interface PolicyEntry {
  rejection: PolicyRejection | null;
  /** ipBlock CIDRs with host bits set, as NormalizedPolicy.normalizedCidrs. */
  normalizedCidrs: string[];
  families: Partial<Record<Family, PolicyFamilyPlan>>;
  /** Local pods the policy selects (sorted keys). */
  localTargets: string[];
}

/** What an incremental update re-planned: these names (old and new) must be diffed and applied. */
export interface Delta {
  policies: Set<string>;
  pods: Set<string>;
  /** The top-level chains (and, with default-deny, the local-pods set) changed. */
  top: boolean;
  /** Every chain and set name the re-planned pieces had before or have now. */
  names: Set<string>;
}

export interface WorkItems {
  policies: Iterable<string>;
  pods: Iterable<string>;
  namespaces: Iterable<string>;
  /** The changed pods as they are now (null: gone or no policy pod), when the caller already converted them. */
  podsNow?: ReadonlyMap<string, PolicyPod | null>;
}

/**
 * Objects whose part of the ruleset the kernel refused (found by the controller, see isolate.ts). Fail closed:
 * a quarantined pod is left out of every set and its firewall (when local) allows nothing; a quarantined
 * policy is planned as rejected (it isolates its targets and allows nothing).
 */
export interface Quarantine {
  /** Pod key -> the pod as it was when quarantined (its deny-all firewall uses these addresses). */
  pods: ReadonlyMap<string, PolicyPod>;
  /** Policy key -> why it is quarantined. */
  policies: ReadonlyMap<string, string>;
}

export const NO_QUARANTINE: Quarantine = { pods: new Map(), policies: new Map() };

/** The view without the quarantined pods (the same object when none is). */
function withoutPods(view: ClusterView, pods: ReadonlyMap<string, PolicyPod>): ClusterView {
  return pods.size === 0 ? view : { ...view, pods: view.pods.filter((p) => !pods.has(podKeyOf(p))) };
}

/** A quarantined local pod's firewall: its own chain, no policy, nothing allowed. */
function denyAllFirewall(pod: PolicyPod, family: Family): PodFirewall | undefined {
  if (!pod.local || pod.ips[family].length === 0) return undefined;
  return { chain: podChainName(pod.namespace, pod.name), podKey: pod.key, ips: pod.ips[family], ingressChains: [], egressChains: [], denyAll: true };
}

const sameFirewall = (a: PodFirewall | undefined, b: PodFirewall | undefined): boolean => JSON.stringify(a) === JSON.stringify(b);
const byName = <T extends { name: string }>(a: T, b: T): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

function namesOf(entry: PolicyEntry | undefined, out: Set<string>): void {
  for (const part of Object.values(entry?.families ?? {})) {
    for (const c of part.chains) out.add(c.name);
    for (const s of part.sets) out.add(s.name);
  }
}

/** The named pods as the view holds them now (a scan, for callers that did not convert them already). */
function podsNow(view: ClusterView, keys: ReadonlySet<string>): Map<string, PolicyPod | null> {
  const out = new Map<string, PolicyPod | null>([...keys].map((k) => [k, null]));
  if (keys.size === 0) return out;
  for (const pod of view.pods) {
    const key = podKeyOf(pod);
    if (keys.has(key)) out.set(key, toPolicyPod(pod, view.nodeName, view.nodeIPs));
  }
  return out;
}

export class PlanState {
  readonly policies = new Map<string, PolicyEntry>();
  readonly firewalls: Record<Family, Map<string, PodFirewall>> = { ipv4: new Map(), ipv6: new Map() };
  /** Namespace labels as last planned. */
  readonly namespaces = new Map<string, Labels>();
  /**
   * Every policy set by name with how many policy plans use it: rules with the same definition share a set
   * (names.ts), which stays while any of them does. The spec is the one planned last (equal definitions have
   * equal members, and every user of a definition is re-planned by the same change).
   */
  private readonly sets: Record<Family, Map<string, { spec: SetSpec; users: number }>> = { ipv4: new Map(), ipv6: new Map() };

  /** The view last planned, prepared; advanced pod by pod between full plans. */
  private prepared: PreparedView;

  private constructor(private view: ClusterView, readonly quarantine: Quarantine) {
    this.prepared = prepareView(view);
  }

  /**
   * Every policy-relevant pod as last planned: the "old" side of the next change. It is the prepared view's
   * own index (advanced in place by update), not a copy: copying 50k entries cost a full sync ~70 ms.
   */
  get pods(): ReadonlyMap<string, PolicyPod> {
    return this.prepared.podsByKey;
  }

  get config(): ClusterView['config'] {
    return this.view.config;
  }

  get families(): Family[] {
    return FAMILIES.filter((f) => this.view.config.families.includes(f));
  }

  /**
   * Plans everything from scratch, the quarantined objects failing closed. `onPlanned` hears each policy's
   * chains and sets per family as soon as they are planned (a backend may start writing while the rest is planned).
   */
  static full(fullView: ClusterView, quarantine: Quarantine = NO_QUARANTINE, onPlanned?: (family: Family, part: PolicyFamilyPlan) => void): PlanState {
    const view = withoutPods(fullView, quarantine.pods);
    const state = new PlanState(view, quarantine);
    const prepared = state.prepared;
    const policies = policiesOf(view);
    for (const policy of policies) {
      const entry = state.planEntry(prepared, policy);
      state.setEntry(policy.key, entry);
      if (onPlanned) for (const [family, part] of Object.entries(entry.families) as [Family, PolicyFamilyPlan][]) onPlanned(family, part);
    }
    const families = state.families;
    // Only local pods have a firewall.
    for (const ns of prepared.podNamespaces) {
      for (const pod of prepared.localPodsIn(ns)) {
        for (const f of families) {
          const fw = podFirewallFor(pod, f, policies);
          if (fw) state.firewalls[f].set(pod.key, fw);
        }
      }
    }
    for (const [key, pod] of quarantine.pods) {
      for (const f of state.families) {
        const fw = denyAllFirewall(pod, f);
        if (fw) state.firewalls[f].set(key, fw);
      }
    }
    for (const ns of view.namespaces) if (ns.metadata?.name) state.namespaces.set(ns.metadata.name, ns.metadata.labels ?? {});
    return state;
  }

  /** Replaces (or, with undefined, removes) a policy's entry, keeping the shared-set use counts. */
  private setEntry(key: string, entry: PolicyEntry | undefined): void {
    for (const [f, part] of Object.entries(this.policies.get(key)?.families ?? {}) as [Family, PolicyFamilyPlan][]) {
      for (const set of part.sets) {
        const held = this.sets[f].get(set.name);
        if (held && --held.users === 0) this.sets[f].delete(set.name);
      }
    }
    if (!entry) {
      this.policies.delete(key);
      return;
    }
    this.policies.set(key, entry);
    for (const [f, part] of Object.entries(entry.families) as [Family, PolicyFamilyPlan][]) {
      for (const set of part.sets) {
        const held = this.sets[f].get(set.name);
        if (held) held.spec = set, held.users++;
        else this.sets[f].set(set.name, { spec: set, users: 1 });
      }
    }
  }

  private planEntry(prepared: PreparedView, planned: NormalizedPolicy): PolicyEntry {
    const why = this.quarantine.policies.get(planned.key);
    const policy: NormalizedPolicy = why === undefined ? planned : {
      ...planned, ingress: planned.ingress ? [] : null, egress: planned.egress ? [] : null,
      rejection: { policy: planned.key, field: 'spec', message: why },
    };
    const families: PolicyEntry['families'] = {};
    for (const f of this.families) families[f] = planPolicyFamily(prepared, policy, f);
    const localTargets = prepared.localPodsIn(policy.namespace).filter((p) => isTarget(policy, p)).map((p) => p.key);
    return { rejection: policy.rejection ?? null, normalizedCidrs: policy.normalizedCidrs, families, localTargets };
  }

  /** Re-plans the named policies and pods against a newer view of the same config and node. */
  update(fullView: ClusterView, work: WorkItems): Delta {
    const q = this.quarantine;
    const view = withoutPods(fullView, q.pods);
    this.view = view;
    const delta: Delta = { policies: new Set(work.policies), pods: new Set(work.pods), top: false, names: new Set() };
    for (const name of work.namespaces) {
      const ns = view.namespaces.find((n) => n.metadata?.name === name);
      if (ns) this.namespaces.set(name, ns.metadata?.labels ?? {});
      else this.namespaces.delete(name);
    }
    const changed = work.podsNow ?? podsNow(view, delta.pods);
    const prepared = advanceView(this.prepared, view, q.pods.size === 0 ? changed
      : new Map([...changed].map(([key, pod]) => [key, q.pods.has(key) ? null : pod])));
    this.prepared = prepared;
    if (delta.policies.size === 0 && delta.pods.size === 0) return delta;
    const policies = policiesOf(view);
    const byKey = new Map(policies.map((p) => [p.key, p]));
    for (const key of delta.policies) {
      const old = this.policies.get(key);
      namesOf(old, delta.names);
      for (const t of old?.localTargets ?? []) delta.pods.add(t);
      const policy = byKey.get(key);
      if (!policy) {
        this.setEntry(key, undefined);
        continue;
      }
      const entry = this.planEntry(prepared, policy);
      this.setEntry(key, entry);
      namesOf(entry, delta.names);
      for (const t of entry.localTargets) delta.pods.add(t);
    }
    for (const key of delta.pods) {
      const pod = prepared.podsByKey.get(key);
      for (const f of this.families) {
        const old = this.firewalls[f].get(key);
        const quarantined = q.pods.get(key);
        const fw = quarantined ? denyAllFirewall(quarantined, f) : pod ? podFirewallFor(pod, f, policies) ?? undefined : undefined;
        if (sameFirewall(old, fw)) continue;
        if (old) delta.names.add(old.chain);
        if (fw) {
          delta.names.add(fw.chain);
          this.firewalls[f].set(key, fw);
        } else {
          this.firewalls[f].delete(key);
        }
        delta.top = true;
      }
    }
    if (delta.top) {
      for (const chain of Object.values(TOP_CHAIN_OF)) delta.names.add(chain);
      if (view.config.defaultDeny) for (const f of this.families) delta.names.add(localPodsSetName(f));
    }
    return delta;
  }

  private sortedFirewalls(family: Family): PodFirewall[] {
    return [...this.firewalls[family].values()].sort((a, b) => (a.chain < b.chain ? -1 : a.chain > b.chain ? 1 : 0));
  }

  private localPodsSet(family: Family, firewalls: readonly PodFirewall[]): SetSpec {
    const members = [...new Set(firewalls.flatMap((f) => f.ips))].sort().map((entry) => ({ entry }));
    return { name: localPodsSetName(family), type: 'hash:ip', family, members };
  }

  /** The whole desired state of one family (equal to what plan() returns for the same view). */
  familyState(family: Family): FamilyState {
    const { config, podCIDRs } = this.view;
    const sets: SetSpec[] = [...this.sets[family].values()].map((s) => s.spec);
    const chains: ChainSpec[] = [commonChain(family), defaultChain(), tailChain(family, podCIDRs, config.defaultDeny)];
    const policyChains: PolicyChainInfo[] = [];
    for (const entry of this.policies.values()) {
      const part = entry.families[family];
      if (!part) continue;
      chains.push(...part.chains);
      policyChains.push(...part.info);
    }
    const firewalls = this.sortedFirewalls(family);
    chains.push(...firewalls.map((fw) => podChain(fw, family)), ...topChains(family, config, firewalls));
    if (config.defaultDeny) sets.push(this.localPodsSet(family, firewalls));
    policyChains.sort((a, b) => (a.chain < b.chain ? -1 : a.chain > b.chain ? 1 : 0));
    return { family, sets: sets.sort(byName), chains: chains.sort(byName), podFirewalls: firewalls, policyChains, builtinJumps: builtinJumps() };
  }

  /** Only the pieces a delta touched, for diffing against the same names of the last applied state. */
  deltaState(family: Family, delta: Delta): FamilyState {
    const sets: SetSpec[] = [];
    const chains: ChainSpec[] = [];
    for (const key of delta.policies) {
      const part = this.policies.get(key)?.families[family];
      if (part) chains.push(...part.chains);
    }
    // A touched set another policy still uses stays (it is absent only when no policy uses it any more).
    for (const name of delta.names) {
      const held = this.sets[family].get(name);
      if (held) sets.push(held.spec);
    }
    for (const key of delta.pods) {
      const fw = this.firewalls[family].get(key);
      if (fw) chains.push(podChain(fw, family));
    }
    if (delta.top) {
      const firewalls = this.sortedFirewalls(family);
      chains.push(...topChains(family, this.view.config, firewalls));
      if (this.view.config.defaultDeny) sets.push(this.localPodsSet(family, firewalls));
    }
    // Only names the delta touched: an unchanged pod chain re-planned on the way is not rewritten.
    const uniq = <T extends { name: string }>(xs: T[]): T[] =>
      [...new Map(xs.filter((x) => delta.names.has(x.name)).map((x) => [x.name, x])).values()].sort(byName);
    return { family, sets: uniq(sets), chains: uniq(chains), podFirewalls: [], policyChains: [], builtinJumps: builtinJumps() };
  }

  rejections(): Map<string, PolicyRejection> {
    const out = new Map<string, PolicyRejection>();
    for (const [key, e] of this.policies) if (e.rejection) out.set(key, e.rejection);
    return out;
  }

  /** Policies with ipBlock CIDRs that had host bits set, and those CIDRs. */
  normalizedCidrs(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const [key, e] of this.policies) if (e.normalizedCidrs.length > 0) out.set(key, e.normalizedCidrs);
    return out;
  }
}
