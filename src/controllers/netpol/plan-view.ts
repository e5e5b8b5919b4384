// The planner's input (an immutable view of the cluster caches plus node facts and config), prepared once per
// plan: the policy pods by key, by namespace and by shared labels, advanced pod by pod between full plans.
import type { Namespace, Pod } from 'kubernetes-types/core/v1.js';
import type { NetworkPolicy } from 'kubernetes-types/networking/v1.js';
import type { Family } from './model.ts';
import { podKeyOf, toPolicyPodCached, type PolicyPod } from './policy-pod.ts';
import type { Labels } from './selectors.ts';

export interface NetpolConfig {
  /** Families this node runs policy for. */
  families: Family[];
  serviceClusterIPRanges: string[];
  nodePortRange: { from: number; to: number };
  serviceExternalIPRanges: string[];
  loadBalancerIPRanges: string[];
  /** Reject traffic of pods in this node's pod CIDRs until their firewall chain exists. */
  defaultDeny: boolean;
}

export interface ClusterView {
  pods: readonly Pod[];
  namespaces: readonly Namespace[];
  policies: readonly NetworkPolicy[];
  nodeName: string;
  nodeIPs: readonly string[];
  podCIDRs: readonly string[];
  config: NetpolConfig;
}

/** Everything the planner needs from a view, computed once. */
export interface PreparedView {
  view: ClusterView;
  /** Every policy pod (in no particular order; built on first use). */
  readonly pods: readonly PolicyPod[];
  podsByKey: ReadonlyMap<string, PolicyPod>;
  /** Pods of one namespace, sorted by key (empty if none). */
  podsIn(namespace: string): readonly PolicyPod[];
  /** The local ones among them, in the same order. */
  localPodsIn(namespace: string): readonly PolicyPod[];
  /**
   * The pods of one namespace grouped by their labels object: replicas share one (kube/slim.ts), so a selector
   * is evaluated once per group instead of once per pod. Groups and pods in podsIn order.
   */
  labelGroupsIn(namespace: string): ReadonlyMap<Labels, readonly PolicyPod[]>;
  /**
   * The pods of one namespace by their value of one label key (pods without the key are in no list), each list
   * in podsIn order: a selector requiring `key in (values)` starts from those lists instead of testing every
   * pod of the namespace (at 50k pods most pods' labels are their own, so groups save little).
   */
  podsByLabelIn(namespace: string, key: string): ReadonlyMap<string, readonly PolicyPod[]>;
  /** Namespaces that have at least one pod, sorted. */
  podNamespaces: readonly string[];
  namespaceLabels(namespace: string): Labels;
}

const byPodKey = (a: PolicyPod, b: PolicyPod): number => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/**
 * The pods of a view by key and by namespace; prepared views share them until a pod changes. What is derived
 * per namespace (local pods, label groups, label index) is filled on first use and carried to the next view
 * for the namespaces no change touched.
 */
interface PodIndex {
  byKey: ReadonlyMap<string, PolicyPod>;
  byNamespace: ReadonlyMap<string, readonly PolicyPod[]>;
  derived: Map<string, NamespaceDerived>;
}
interface NamespaceDerived {
  local?: readonly PolicyPod[];
  groups?: ReadonlyMap<Labels, readonly PolicyPod[]>;
  /** Label key -> value -> pods (podsByLabelIn). */
  byLabel?: Map<string, ReadonlyMap<string, readonly PolicyPod[]>>;
}
const indexOf = new WeakMap<PreparedView, PodIndex>();
const NO_PODS: readonly PolicyPod[] = [];

function groupByLabels(pods: readonly PolicyPod[]): ReadonlyMap<Labels, readonly PolicyPod[]> {
  const groups = new Map<Labels, PolicyPod[]>();
  for (const p of pods) {
    const g = groups.get(p.labels);
    if (g) g.push(p);
    else groups.set(p.labels, [p]);
  }
  return groups;
}

function byLabelValue(pods: readonly PolicyPod[], key: string): ReadonlyMap<string, readonly PolicyPod[]> {
  const out = new Map<string, PolicyPod[]>();
  for (const p of pods) {
    const value = Object.prototype.hasOwnProperty.call(p.labels, key) ? p.labels[key] : undefined;
    if (value === undefined) continue;
    const list = out.get(value);
    if (list) list.push(p);
    else out.set(value, [p]);
  }
  return out;
}

function preparedFrom(view: ClusterView, index: PodIndex, namespaces: readonly string[]): PreparedView {
  let all: PolicyPod[] | null = null;
  const podsIn = (namespace: string): readonly PolicyPod[] => index.byNamespace.get(namespace) ?? NO_PODS;
  const derivedOf = (namespace: string): NamespaceDerived => {
    let d = index.derived.get(namespace);
    if (!d) index.derived.set(namespace, (d = {}));
    return d;
  };
  const prepared: PreparedView = {
    view, podsByKey: index.byKey, podNamespaces: namespaces,
    get pods() {
      return (all ??= [...index.byKey.values()]);
    },
    podsIn,
    localPodsIn(namespace) {
      const d = derivedOf(namespace);
      return (d.local ??= podsIn(namespace).filter((p) => p.local));
    },
    labelGroupsIn(namespace) {
      const d = derivedOf(namespace);
      return (d.groups ??= groupByLabels(podsIn(namespace)));
    },
    podsByLabelIn(namespace, key) {
      const d = derivedOf(namespace);
      const byLabel = (d.byLabel ??= new Map());
      let byValue = byLabel.get(key);
      if (!byValue) byLabel.set(key, (byValue = byLabelValue(podsIn(namespace), key)));
      return byValue;
    },
    namespaceLabels: namespaceLabelLookup(view),
  };
  indexOf.set(prepared, index);
  return prepared;
}

/** Prepares the view; with `onlyPod`, only that pod is converted (for per-pod planning). */
export function prepareView(view: ClusterView, onlyPod?: string): PreparedView {
  const byKey = new Map<string, PolicyPod>();
  for (const pod of view.pods) {
    if (onlyPod !== undefined && podKeyOf(pod) !== onlyPod) continue;
    const p = toPolicyPodCached(pod, view.nodeName, view.nodeIPs);
    // Two objects with one key cannot both be current; pick one independently of input order.
    if (p && (!byKey.has(p.key) || JSON.stringify(p.ips) > JSON.stringify(byKey.get(p.key)?.ips))) byKey.set(p.key, p);
  }
  const byNamespace = new Map<string, PolicyPod[]>();
  for (const p of byKey.values()) {
    const list = byNamespace.get(p.namespace);
    if (list) list.push(p);
    else byNamespace.set(p.namespace, [p]);
  }
  for (const list of byNamespace.values()) list.sort(byPodKey);
  return preparedFrom(view, { byKey, byNamespace, derived: new Map() }, [...byNamespace.keys()].sort());
}

/**
 * The prepared view of a newer view in which only the given pods changed (null: gone or no longer a policy
 * pod): equal to prepareView(view) when that holds, at the cost of the changed pods and their namespaces.
 * `prev` must not be used afterwards.
 */
export function advanceView(prev: PreparedView, view: ClusterView, changed: ReadonlyMap<string, PolicyPod | null>): PreparedView {
  const index = indexOf.get(prev);
  if (!index) return prepareView(view);
  const next = advanceIndex(prev, index, view, changed);
  // Only the last step is kept: a view never holds on to the ones before it.
  steps.delete(prev);
  steps.set(next, { prev, changes: [...changed].map(([key, now]) => ({ old: priorPods.get(key), now })), sameNamespaces: prev.view.namespaces === view.namespaces });
  priorPods.clear();
  return next;
}

/** How a prepared view came from the previous one: the pods that changed (as they were and are). */
export interface ViewStep {
  prev: PreparedView;
  changes: readonly { old: PolicyPod | undefined; now: PolicyPod | null }[];
  /** The same namespace objects (so the same namespace labels) in both views. */
  sameNamespaces: boolean;
}
const steps = new WeakMap<PreparedView, ViewStep>();
// The changed pods as the previous view had them, captured while its index is updated in place.
const priorPods = new Map<string, PolicyPod>();

/** The step from the previous view, for a view made by advanceView (undefined for a fresh one). */
export const stepOf = (prepared: PreparedView): ViewStep | undefined => steps.get(prepared);

function advanceIndex(prev: PreparedView, index: PodIndex, view: ClusterView, changed: ReadonlyMap<string, PolicyPod | null>): PreparedView {
  for (const key of changed.keys()) {
    const old = index.byKey.get(key);
    if (old) priorPods.set(key, old);
  }
  if (changed.size === 0) return preparedFrom(view, index, prev.podNamespaces);
  // The previous view is given up: its maps are updated in place (copying 10k entries per pod change would
  // cost more than the rest of the plan); only the touched namespaces get new lists.
  const byKey = index.byKey as Map<string, PolicyPod>;
  const byNamespace = new Map(index.byNamespace);
  const touched = new Set<string>();
  for (const [key, pod] of changed) {
    const old = byKey.get(key);
    if (old) touched.add(old.namespace);
    if (pod) {
      byKey.set(key, pod);
      touched.add(pod.namespace);
    } else {
      byKey.delete(key);
    }
  }
  for (const ns of touched) {
    const list = (byNamespace.get(ns) ?? []).filter((p) => !changed.has(p.key));
    for (const pod of changed.values()) if (pod && pod.namespace === ns) list.push(pod);
    if (list.length === 0) byNamespace.delete(ns);
    else byNamespace.set(ns, list.sort(byPodKey));
  }
  const namespaces = touched.size > 0 && [...touched].some((ns) => byNamespace.has(ns) !== prev.podNamespaces.includes(ns))
    ? [...byNamespace.keys()].sort() : prev.podNamespaces;
  const derived = new Map(index.derived);
  for (const ns of touched) derived.delete(ns);
  return preparedFrom(view, { byKey, byNamespace, derived }, namespaces);
}

/** Labels of a namespace by name; one missing from the cache still has the label the API server always sets. */
export function namespaceLabelLookup(view: ClusterView): (namespace: string) => Labels {
  const nsLabels = new Map<string, Labels>();
  for (const ns of view.namespaces) {
    const name = ns.metadata?.name;
    if (name) nsLabels.set(name, ns.metadata?.labels ?? {});
  }
  return (namespace) => nsLabels.get(namespace) ?? { 'kubernetes.io/metadata.name': namespace };
}
