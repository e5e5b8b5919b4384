// Maps a batch of change notifications to the planning work it implies: which policies and which pods to
// re-plan, or a full re-plan. Compares each object with how it looked at the last plan, so coalesced and
// no-op updates (status churn, unrelated fields) cost nothing. Pure.
import type { ChangeRef } from '../runtime.ts';
import { isNamedPortCandidate } from './plan-policy.ts';
import type { ClusterView } from './plan-view.ts';
import { toPolicyPod, type PolicyPod } from './policy-pod.ts';
import { policiesAffectedBy, policiesOf } from './plan.ts';
import type { NormalizedPolicy } from './policy-spec.ts';
import type { Labels } from './selectors.ts';
import type { Pod, Namespace } from 'kubernetes-types/core/v1.js';

export interface Work {
  /** Something every piece depends on changed (this node, its IPs or pod CIDRs): plan everything. */
  full: boolean;
  policies: Set<string>;
  pods: Set<string>;
  namespaces: Set<string>;
  /** Each changed pod as it is now (null: gone or no longer a policy pod). */
  podsNow: Map<string, PolicyPod | null>;
}

/** How things looked when last planned. */
export interface PlannedSnapshot {
  pods: ReadonlyMap<string, PolicyPod>;
  namespaces: ReadonlyMap<string, Labels>;
}

/** Point lookups into the current caches. */
export interface CurrentObjects {
  pod(key: string): Pod | undefined;
  namespace(name: string): Namespace | undefined;
}

function samePolicyPod(a: PolicyPod, b: PolicyPod): boolean {
  return a.local === b.local && JSON.stringify([a.labels, a.ips, [...a.namedPorts]]) === JSON.stringify([b.labels, b.ips, [...b.namedPorts]]);
}

const sameList = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
const sameAddresses = (a: PolicyPod, b: PolicyPod): boolean => sameList(a.ips.ipv4, b.ips.ipv4) && sameList(a.ips.ipv6, b.ips.ipv6);

const sameLabels = (a: Labels, b: Labels): boolean => {
  const ka = Object.keys(a).sort();
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
};

/** Policies with a named port this pod could resolve (its port numbers or IPs feed their named-port sets). */
function namedPortPolicies(policies: readonly NormalizedPolicy[], pod: PolicyPod, nsLabels: Labels, out: Set<string>): void {
  for (const policy of policies) {
    for (const dir of ['ingress', 'egress'] as const) {
      for (const rule of policy[dir] ?? []) {
        if ((rule.ports ?? []).some((p) => p.kind === 'named') && isNamedPortCandidate(policy, dir, rule, pod, nsLabels)) out.add(policy.key);
      }
    }
  }
}

export function workFor(changes: readonly ChangeRef[], view: ClusterView, before: PlannedSnapshot, now: CurrentObjects): Work {
  const work: Work = { full: false, policies: new Set(), pods: new Set(), namespaces: new Set(), podsNow: new Map() };
  let policies: NormalizedPolicy[] | null = null;
  const allPolicies = (): NormalizedPolicy[] => (policies ??= policiesOf(view));
  const nsLabelsOf = (name: string): Labels =>
    now.namespace(name)?.metadata?.labels ?? before.namespaces.get(name) ?? { 'kubernetes.io/metadata.name': name };
  for (const change of changes) {
    switch (change.kind) {
      case 'Node':
        if (change.key === view.nodeName) work.full = true;
        break;
      case 'NetworkPolicy':
        work.policies.add(change.key);
        break;
      case 'Namespace': {
        const current = now.namespace(change.key);
        const oldLabels = before.namespaces.get(change.key) ?? { 'kubernetes.io/metadata.name': change.key };
        const newLabels = current?.metadata?.labels ?? { 'kubernetes.io/metadata.name': change.key };
        if (before.namespaces.has(change.key) === (current !== undefined) && sameLabels(oldLabels, newLabels)) break;
        work.namespaces.add(change.key);
        for (const key of policiesAffectedBy(view, { kind: 'namespace', name: change.key, oldLabels, newLabels })) work.policies.add(key);
        break;
      }
      case 'Pod': {
        const old = before.pods.get(change.key);
        const obj = now.pod(change.key);
        const current = obj ? toPolicyPod(obj, view.nodeName, view.nodeIPs) ?? undefined : undefined;
        if (!old && !current) break;
        if (old && current && samePolicyPod(old, current)) break;
        work.pods.add(change.key);
        work.podsNow.set(change.key, current ?? null);
        const either = (current ?? old) as PolicyPod;
        const label = { kind: 'pod' as const, key: change.key, namespace: either.namespace,
          oldLabels: (old ?? either).labels, newLabels: (current ?? either).labels };
        // A pod that keeps its addresses and node only moves between the selections whose answer flips.
        const onlyLabels = old !== undefined && current !== undefined && old.local === current.local &&
          sameAddresses(old, current);
        for (const key of policiesAffectedBy(view, label, onlyLabels)) work.policies.add(key);
        const nsLabels = nsLabelsOf(either.namespace);
        for (const p of [old, current]) if (p) namedPortPolicies(allPolicies(), p, nsLabels, work.policies);
        break;
      }
      default:
        break;
    }
  }
  return work;
}
