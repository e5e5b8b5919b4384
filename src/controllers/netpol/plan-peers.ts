// The selector peers of a policy rule: which pods they are (from the namespace's label index where the
// selector requires a label, one test per labels group otherwise) and their sorted member list per family,
// memoised per prepared view, shared between rules with the same definition, and patched between views.
import type { Family, SetMember, SetSpec } from './model.ts';
import type { NormalizedPolicy, NormalizedRule, NormalizedPeer } from './policy-spec.ts';
import { stepOf, type PreparedView } from './plan-view.ts';
import type { PolicyPod } from './policy-pod.ts';
import { selectorMatches, type CompiledSelector, type Labels } from './selectors.ts';

/** The pod is one of the rule's selector peers (any peer: OR; pod and namespace selector in one peer: AND). */
export function isSelectorPeer(policy: NormalizedPolicy, rule: NormalizedRule, pod: PolicyPod, nsLabels: Labels): boolean {
  return (rule.peers ?? []).some((peer) => peer.kind === 'pods' &&
    (peer.namespaceSelector === null ? pod.namespace === policy.namespace : selectorMatches(peer.namespaceSelector, nsLabels)) &&
    selectorMatches(peer.podSelector, pod.labels));
}

// Many policies share peer selectors (e.g. "app=dns in every namespace"); within one prepared view the answer
// is the same for each, so it is computed once per distinct (namespace scope, selectors) and shared.
const peerMemo = new WeakMap<PreparedView, Map<string, PolicyPod[]>>();

/**
 * What decides a rule's selector-peer members: per pod peer its namespace scope (the policy's namespace, or a
 * namespace selector) and pod selector, sorted. Equal definitions always select the same pods, so it keys both
 * the planning memo and the shared set's name.
 */
export function peerDefinition(policy: NormalizedPolicy, rule: NormalizedRule): string {
  let def = peerDefs.get(rule);
  if (def === undefined) {
    const scope = (rule.peers ?? []).filter((p) => p.kind === 'pods')
      .map((p) => (p.kind === 'pods' ? JSON.stringify([p.namespaceSelector ?? policy.namespace, p.podSelector]) : ''));
    def = `[${[...new Set(scope)].sort().join(',')}]`;
    peerDefs.set(rule, def);
  }
  return def;
}
// Normalised rules are immutable and belong to one policy.
const peerDefs = new WeakMap<NormalizedRule, string>();


/** The rule's selector peers, found namespace by namespace (same result as filtering with isSelectorPeer). */
export function selectorPeerPods(prepared: PreparedView, policy: NormalizedPolicy, rule: NormalizedRule): PolicyPod[] {
  const key = peerDefinition(policy, rule);
  let memo = peerMemo.get(prepared);
  if (!memo) peerMemo.set(prepared, (memo = new Map()));
  const hit = memo.get(key);
  if (hit) return hit;
  const result = findSelectorPeerPods(prepared, policy, rule);
  memo.set(key, result);
  return result;
}

/** The sorted set members of the rule's selector peers (shared, like the pods, between equal selectors). */
export function selectorPeerMembers(prepared: PreparedView, policy: NormalizedPolicy, rule: NormalizedRule, family: Family): SetSpec['members'] {
  const pods = selectorPeerPods(prepared, policy, rule);
  let byFamily = memberMemo.get(pods);
  if (!byFamily) memberMemo.set(pods, (byFamily = new Map()));
  let members = byFamily.get(family);
  if (!members) {
    const known = knownMembers(prepared);
    const key = `${peerDefinition(policy, rule)}/${family}`;
    members = patchedMembers(prepared, known.get(key), policy, rule, family, pods) ?? addressMembers(pods, family);
    byFamily.set(family, members);
    known.set(key, members);
  }
  return members;
}
const memberMemo = new WeakMap<PolicyPod[], Map<Family, SetSpec['members']>>();

/**
 * Peer member lists by definition and family, per prepared view. A view made from the previous one by a pod
 * change (with the same namespaces) starts from the previous view's lists: a definition no changed pod was or
 * is selected by keeps its members (every policy whose selection a change flips, or whose selected pod's
 * addresses change, is re-planned: plan-work.ts), and one that a changed pod moved in or out of is patched
 * with that pod's addresses instead of rebuilt and sorted (a namespace-wide peer holds thousands at 50k pods).
 */
const members = new WeakMap<PreparedView, Map<string, SetSpec['members']>>();
function knownMembers(prepared: PreparedView): Map<string, SetSpec['members']> {
  let known = members.get(prepared);
  if (!known) {
    const step = stepOf(prepared);
    const before = step?.sameNamespaces ? members.get(step.prev) : undefined;
    members.set(prepared, (known = new Map(before)));
  }
  return known;
}

/** The previous list patched with the changed pods' addresses; null when there is no previous list to patch. */
function patchedMembers(prepared: PreparedView, base: SetSpec['members'] | undefined, policy: NormalizedPolicy, rule: NormalizedRule,
  family: Family, pods: readonly PolicyPod[]): SetSpec['members'] | null {
  const step = stepOf(prepared);
  if (!base || !step?.sameNamespaces) return null;
  const removed = new Set<string>();
  const added = new Set<string>();
  for (const { old, now } of step.changes) {
    if (old && isSelectorPeer(policy, rule, old, prepared.namespaceLabels(old.namespace))) for (const ip of old.ips[family]) removed.add(ip);
    if (now && isSelectorPeer(policy, rule, now, prepared.namespaceLabels(now.namespace))) for (const ip of now.ips[family]) added.add(ip);
  }
  // An address another selected pod still has stays a member.
  for (const ip of removed) if (added.has(ip) || pods.some((p) => p.ips[family].includes(ip))) removed.delete(ip);
  const have = new Set<string>();
  let out = removed.size === 0 ? base : base.filter((m) => !removed.has(m.entry));
  for (const ip of added) {
    if (have.size === 0) for (const m of out) have.add(m.entry);
    if (have.has(ip)) continue;
    have.add(ip);
    const at = insertionPoint(out, ip);
    out = [...out.slice(0, at), { entry: ip }, ...out.slice(at)];
  }
  return out;
}

/** Where `entry` goes in a list sorted as sortedMembers sorts (code-unit order). */
function insertionPoint(list: SetSpec['members'], entry: string): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((list[mid] as SetMember).entry < entry) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function findSelectorPeerPods(prepared: PreparedView, policy: NormalizedPolicy, rule: NormalizedRule): PolicyPod[] {
  const peers = (rule.peers ?? []).filter((p): p is Extract<NormalizedPeer, { kind: 'pods' }> => p.kind === 'pods');
  const found: PolicyPod[] = [];
  const seen = peers.length > 1 ? new Set<string>() : null;
  for (const peer of peers) {
    const namespaces = peer.namespaceSelector === null ? [policy.namespace]
      : prepared.podNamespaces.filter((ns) => selectorMatches(peer.namespaceSelector as CompiledSelector, prepared.namespaceLabels(ns)));
    for (const ns of namespaces) {
      const add = (pods: readonly PolicyPod[]): void => {
        if (!seen) for (const pod of pods) found.push(pod);
        else for (const pod of pods) if (!seen.has(pod.key)) seen.add(pod.key), found.push(pod);
      };
      const candidates = requiredLabelCandidates(prepared, ns, peer.podSelector);
      if (candidates) {
        for (const pods of candidates) add(pods.filter((p) => selectorMatches(peer.podSelector, p.labels)));
        continue;
      }
      // No label required: one selector test per distinct labels object (replicas share theirs), not per pod.
      for (const [labels, pods] of prepared.labelGroupsIn(ns)) if (selectorMatches(peer.podSelector, labels)) add(pods);
    }
  }
  return found;
}

/**
 * The pod lists of one namespace holding every pod the selector can match, taken from its most selective
 * `key in (values)` requirement (matchLabels are such); null when it has none. Pods in them still need testing.
 */
function requiredLabelCandidates(prepared: PreparedView, ns: string, selector: CompiledSelector): (readonly PolicyPod[])[] | null {
  let best: (readonly PolicyPod[])[] | null = null;
  let bestSize = Infinity;
  for (const req of selector.requirements) {
    if (req.op !== 'In') continue;
    const byValue = prepared.podsByLabelIn(ns, req.key);
    const lists: (readonly PolicyPod[])[] = [];
    let size = 0;
    for (const v of req.values) {
      const list = byValue.get(v);
      if (list) lists.push(list), size += list.length;
    }
    if (size < bestSize) best = lists, bestSize = size;
    if (size === 0) break;
  }
  return best;
}

/** The entries as set members, sorted (code-unit order) and without repeats; sorts `entries` in place. */
export function sortedMembers(entries: string[]): SetSpec['members'] {
  entries.sort();
  const out: SetMember[] = [];
  let last: string | undefined;
  for (const entry of entries) {
    if (entry !== last) out.push({ entry });
    last = entry;
  }
  return out;
}

/** The pods' addresses of one family as sorted set members (a loop: flatMap costs more at 50k pods). */
export function addressMembers(pods: readonly PolicyPod[], family: Family): SetSpec['members'] {
  const ips: string[] = [];
  for (const pod of pods) for (const ip of pod.ips[family]) ips.push(ip);
  return sortedMembers(ips);
}
