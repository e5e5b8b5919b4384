// The network-policy planner: cluster view in, desired chains and ipsets for this node's pods out. Pure and
// deterministic (sorted, independent of input order), with per-policy and per-pod entry points for
// incremental updates and an index of which policies a label change can affect.
import type { NetworkPolicy } from 'kubernetes-types/networking/v1.js';
import {
  FAMILIES, type ChainSpec, type DesiredState, type Family, type FamilyState, type PodFirewall,
  type PolicyChainInfo, type PolicyRejection, type SetSpec,
} from './model.ts';
import { localPodsSetName, podChainName, policyChainName } from './names.ts';
import { builtinJumps, commonChain, defaultChain, podChain, tailChain, topChains } from './plan-chains.ts';
import { isNamedPortCandidate, isTarget, planPolicyFamily } from './plan-policy.ts';
import { namespaceLabelLookup, prepareView, type ClusterView, type PreparedView } from './plan-view.ts';
import type { PolicyPod } from './policy-pod.ts';
import { normalizePolicy, type NormalizedPeer, type NormalizedPolicy } from './policy-spec.ts';
import { selectorMatches, type CompiledSelector, type Labels } from './selectors.ts';

const byName = <T extends { name: string }>(a: T, b: T): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
const byKey = (a: NormalizedPolicy, b: NormalizedPolicy): number => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

// Cluster objects in a view are immutable, so a policy object normalises to the same result every time.
const normalized = new WeakMap<NetworkPolicy, NormalizedPolicy>();
function normalizeCached(p: NetworkPolicy): NormalizedPolicy {
  let n = normalized.get(p);
  if (!n) {
    n = normalizePolicy(p);
    normalized.set(p, n);
  }
  return n;
}

/** The view's policies, normalised (cached per object) and sorted by key; one per key. */
export function policiesOf(view: ClusterView): NormalizedPolicy[] {
  let out = policyLists.get(view.policies);
  if (!out) policyLists.set(view.policies, (out = normalizeAll(view)));
  return out;
}

// One view's policy list is normalised once, however many planning steps of one sync ask for it.
const policyLists = new WeakMap<readonly NetworkPolicy[], NormalizedPolicy[]>();

function normalizeAll(view: ClusterView): NormalizedPolicy[] {
  const seen = new Map<string, { policy: NormalizedPolicy; spec: string }>();
  for (const p of view.policies) {
    const policy = normalizeCached(p);
    const spec = JSON.stringify(p.spec ?? {});
    const prior = seen.get(policy.key);
    // Duplicate keys should not happen; pick one independently of input order.
    if (!prior || spec > prior.spec) seen.set(policy.key, { policy, spec });
  }
  return [...seen.values()].map((e) => e.policy).sort(byKey);
}

export interface PodPlan {
  podKey: string;
  /** Per family: the pod's firewall (null when the pod is not local or has no IP of that family). */
  families: Partial<Record<Family, { firewall: PodFirewall | null; chain: ChainSpec | null; memberOf: string[] }>>;
  /** Policies whose chains depend on this pod's named ports: re-plan them with planPolicy. */
  policiesToReplan: string[];
}

/** A local pod's firewall for one family: the policy chains it jumps to (null: not local or no IP of it). */
export function podFirewallFor(pod: PolicyPod, family: Family, policies: readonly NormalizedPolicy[]): PodFirewall | null {
  if (!pod.local || pod.ips[family].length === 0) return null;
  const selecting = policies.filter((p) => isTarget(p, pod));
  return {
    chain: podChainName(pod.namespace, pod.name),
    podKey: pod.key,
    ips: pod.ips[family],
    ingressChains: selecting.filter((p) => p.ingress !== null).map((p) => policyChainName(p.namespace, p.name, family, 'ingress')),
    egressChains: selecting.filter((p) => p.egress !== null).map((p) => policyChainName(p.namespace, p.name, family, 'egress')),
  };
}

function planFamily(prepared: PreparedView, policies: readonly NormalizedPolicy[], family: Family): FamilyState {
  const { config, podCIDRs } = prepared.view;
  // Rules with the same definition share one set (names.ts): each name once.
  const sets = new Map<string, SetSpec>();
  const chains: ChainSpec[] = [commonChain(family), defaultChain(), tailChain(family, podCIDRs, config.defaultDeny)];
  const policyChains: PolicyChainInfo[] = [];
  for (const policy of policies) {
    const part = planPolicyFamily(prepared, policy, family);
    for (const set of part.sets) if (!sets.has(set.name)) sets.set(set.name, set);
    chains.push(...part.chains);
    policyChains.push(...part.info);
  }
  const podFirewalls = prepared.pods.map((p) => podFirewallFor(p, family, policies)).filter((f): f is PodFirewall => f !== null);
  podFirewalls.sort((a, b) => (a.chain < b.chain ? -1 : a.chain > b.chain ? 1 : 0));
  chains.push(...podFirewalls.map((fw) => podChain(fw, family)));
  chains.push(...topChains(family, config, podFirewalls));
  if (config.defaultDeny) {
    const members = [...new Set(podFirewalls.flatMap((f) => f.ips))].sort().map((entry) => ({ entry }));
    sets.set(localPodsSetName(family), { name: localPodsSetName(family), type: 'hash:ip', family, members });
  }
  policyChains.sort((a, b) => (a.chain < b.chain ? -1 : a.chain > b.chain ? 1 : 0));
  return { family, sets: [...sets.values()].sort(byName), chains: chains.sort(byName), podFirewalls, policyChains, builtinJumps: builtinJumps() };
}

/** The whole desired state for this node. */
export function plan(view: ClusterView): DesiredState {
  const prepared = prepareView(view);
  const policies = policiesOf(view);
  const families = FAMILIES.filter((f) => view.config.families.includes(f)).map((f) => planFamily(prepared, policies, f));
  const rejections = policies.map((p) => p.rejection).filter((r): r is PolicyRejection => r !== undefined);
  return { families, rejections };
}

export interface PolicyPlan {
  policyKey: string;
  /** null when the policy is not in the view (deleted): its chains and sets should go. */
  rejection: PolicyRejection | null;
  families: Partial<Record<Family, { chains: ChainSpec[]; sets: SetSpec[]; info: PolicyChainInfo[] }>>;
  /** Local pods the policy selects: their firewall chains need re-planning when this set changes. */
  localTargets: string[];
}

/** The chains and sets of one policy, to swap into the last full plan. */
export function planPolicy(view: ClusterView, policyKey: string): PolicyPlan | null {
  const policy = policiesOf(view).find((p) => p.key === policyKey);
  if (!policy) return null;
  const prepared = prepareView(view);
  const families: PolicyPlan['families'] = {};
  for (const f of FAMILIES.filter((fam) => view.config.families.includes(fam))) families[f] = planPolicyFamily(prepared, policy, f);
  return {
    policyKey, rejection: policy.rejection ?? null, families,
    localTargets: prepared.pods.filter((p) => p.local && isTarget(policy, p)).map((p) => p.key),
  };
}

/** One pod's firewall chain and the policy sets its addresses belong in. */
export function planPod(view: ClusterView, podKey: string): PodPlan | null {
  const prepared = prepareView(view, podKey);
  const pod = prepared.podsByKey.get(podKey);
  if (!pod) return null;
  const policies = policiesOf(view);
  const nsLabels = prepared.namespaceLabels(pod.namespace);
  const out: PodPlan = { podKey, families: {}, policiesToReplan: [] };
  const replan = new Set<string>();
  for (const family of FAMILIES.filter((f) => view.config.families.includes(f))) {
    const firewall = podFirewallFor(pod, family, policies);
    const memberOf = new Set<string>();
    for (const policy of policies) {
      // Planning against a view holding only this pod yields exactly the sets this pod is a member of.
      const part = planPolicyFamily(prepared, policy, family);
      for (const set of part.sets) if (set.type === 'hash:ip' && set.members.length > 0) memberOf.add(set.name);
      for (const dir of ['ingress', 'egress'] as const) {
        for (const rule of policy[dir] ?? []) {
          if ((rule.ports ?? []).some((p) => p.kind === 'named') && isNamedPortCandidate(policy, dir, rule, pod, nsLabels)) replan.add(policy.key);
        }
      }
    }
    if (firewall && view.config.defaultDeny) memberOf.add(localPodsSetName(family));
    out.families[family] = { firewall, chain: firewall ? podChain(firewall, family) : null, memberOf: [...memberOf].sort() };
  }
  out.policiesToReplan = [...replan].sort();
  return out;
}

export type LabelChange =
  | { kind: 'namespace'; name: string; oldLabels: Labels; newLabels: Labels }
  | { kind: 'pod'; key: string; namespace: string; oldLabels: Labels; newLabels: Labels };

// Normalised policies are immutable: their pod peers are collected once.
const podPeers = new WeakMap<NormalizedPolicy, PodPeer[]>();
type PodPeer = Extract<NormalizedPeer, { kind: 'pods' }>;
function podPeersOf(policy: NormalizedPolicy): PodPeer[] {
  let peers = podPeers.get(policy);
  if (!peers) {
    peers = [...(policy.ingress ?? []), ...(policy.egress ?? [])].flatMap((r) => r.peers ?? []).filter((p): p is PodPeer => p.kind === 'pods');
    podPeers.set(policy, peers);
  }
  return peers;
}

/**
 * Policies whose target or peer selection a label change may alter: selectors matching the old or the new
 * labels; with `onlyFlips` (the object itself is unchanged but for its labels), only selectors whose answer
 * differs between them — a selector matching both still selects the object with the same addresses.
 */
export function policiesAffectedBy(view: ClusterView, change: LabelChange, onlyFlips = false): string[] {
  const out: string[] = [];
  const eitherLabels = onlyFlips
    ? (sel: CompiledSelector): boolean => selectorMatches(sel, change.oldLabels) !== selectorMatches(sel, change.newLabels)
    : (sel: CompiledSelector): boolean => selectorMatches(sel, change.oldLabels) || selectorMatches(sel, change.newLabels);
  const nsLabels = change.kind === 'pod' ? namespaceLabelLookup(view)(change.namespace) : {};
  for (const policy of policiesOf(view)) {
    const peers = podPeersOf(policy);
    const affected = change.kind === 'namespace'
      ? peers.some((p) => p.namespaceSelector !== null && eitherLabels(p.namespaceSelector))
      : (change.namespace === policy.namespace && eitherLabels(policy.podSelector)) ||
        peers.some((p) => eitherLabels(p.podSelector) &&
          (p.namespaceSelector === null ? change.namespace === policy.namespace : selectorMatches(p.namespaceSelector, nsLabels)));
    if (affected) out.push(policy.key);
  }
  return out;
}

