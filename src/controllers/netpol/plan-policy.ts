// Plans one NetworkPolicy for one node: its per-direction policy chains (structured rules that set the
// "allowed" mark) and the ipsets those rules match on, plus the predicates deciding set membership.
import { cidrFamilyName, hostPrefixLen, netMemberText } from './addresses.ts';
import {
  MARK_ALLOWED, type ChainSpec, type Family, type PolicyChainInfo, type Rule, type RuleMatch, type SetMatch, type SetMember, type SetSpec,
} from './model.ts';
import { ipBlockSetName, namedPortSetName, peerPodSetName, policyChainName, targetSetName } from './names.ts';
import type { Direction, NormalizedPeer, NormalizedPolicy, NormalizedRule } from './policy-spec.ts';
import { stepOf, type PreparedView } from './plan-view.ts';
import { namedPortKey, type PolicyPod } from './policy-pod.ts';
import { selectorMatches, type CompiledSelector, type Labels } from './selectors.ts';

export interface PolicyFamilyPlan {
  chains: ChainSpec[];
  sets: SetSpec[];
  info: PolicyChainInfo[];
}

/** The policy selects this pod (same namespace, podSelector matches). */
export function isTarget(policy: NormalizedPolicy, pod: PolicyPod): boolean {
  return pod.namespace === policy.namespace && selectorMatches(policy.podSelector, pod.labels);
}

/** The pod is one of the rule's selector peers (any peer: OR; pod and namespace selector in one peer: AND). */
export function isSelectorPeer(policy: NormalizedPolicy, rule: NormalizedRule, pod: PolicyPod, nsLabels: Labels): boolean {
  return (rule.peers ?? []).some((peer) => peer.kind === 'pods' &&
    (peer.namespaceSelector === null ? pod.namespace === policy.namespace : selectorMatches(peer.namespaceSelector, nsLabels)) &&
    selectorMatches(peer.podSelector, pod.labels));
}

/**
 * Pods on which a named port of this rule is looked up (the destination, per the API): the local targets for
 * ingress; for egress the selector peers, or, when the rule has no peers or an ipBlock peer, every known pod,
 * since only pods declare named ports and an ipBlock may cover pod IPs.
 */
export function isNamedPortCandidate(policy: NormalizedPolicy, dir: Direction, rule: NormalizedRule, pod: PolicyPod, nsLabels: Labels): boolean {
  if (dir === 'ingress') return pod.local && isTarget(policy, pod);
  if (rule.peers === null || rule.peers.some((p) => p.kind === 'ipBlock')) return true;
  return isSelectorPeer(policy, rule, pod, nsLabels);
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

/** What decides a policy's target members: its namespace and pod selector. */
export const targetDefinition = (policy: NormalizedPolicy): string => JSON.stringify([policy.namespace, policy.podSelector]);

/** The rule's selector peers, found namespace by namespace (same result as filtering with isSelectorPeer). */
function selectorPeerPods(prepared: PreparedView, policy: NormalizedPolicy, rule: NormalizedRule): PolicyPod[] {
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
function selectorPeerMembers(prepared: PreparedView, policy: NormalizedPolicy, rule: NormalizedRule, family: Family): SetSpec['members'] {
  const pods = selectorPeerPods(prepared, policy, rule);
  let byFamily = memberMemo.get(pods);
  if (!byFamily) memberMemo.set(pods, (byFamily = new Map()));
  let members = byFamily.get(family);
  if (!members) {
    const known = knownMembers(prepared);
    const key = `${peerDefinition(policy, rule)}/${family}`;
    members = patchedMembers(prepared, known.get(key), policy, rule, family, pods) ?? sortedMembers(pods.flatMap((p) => p.ips[family]));
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

// Candidate lists shared between policies (all pods, memoised selector peers) resolve a named port once.
const namedPortMemo = new WeakMap<readonly PolicyPod[], Map<string, Map<number, SetSpec['members']>>>();

/** Set members per port number the named port resolves to on these candidate pods. */
function namedPortMembers(candidates: readonly PolicyPod[], portKey: string, family: Family): Map<number, SetSpec['members']> {
  let memo = namedPortMemo.get(candidates);
  if (!memo) namedPortMemo.set(candidates, (memo = new Map()));
  const hit = memo.get(`${portKey}/${family}`);
  if (hit) return hit;
  const byNumber = new Map<number, string[]>();
  for (const pod of candidates) {
    const number = pod.namedPorts.get(portKey);
    if (number === undefined || pod.ips[family].length === 0) continue;
    const ips = byNumber.get(number);
    if (ips) ips.push(...pod.ips[family]);
    else byNumber.set(number, [...pod.ips[family]]);
  }
  const out = new Map([...byNumber].map(([n, ips]) => [n, sortedMembers(ips)]));
  memo.set(`${portKey}/${family}`, out);
  return out;
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

const hostCidr = (family: Family, ip: string): string => `${ip}/${hostPrefixLen(family)}`;

function sortedMembers(entries: Iterable<string>): SetSpec['members'] {
  return [...new Set(entries)].sort().map((entry) => ({ entry }));
}

interface PortVariant {
  proto?: RuleMatch['proto'];
  dport?: { from: number; to: number };
  set?: SetMatch;
}

function directionPlan(prepared: PreparedView, policy: NormalizedPolicy, family: Family, dir: Direction, rules: NormalizedRule[]): { chain: ChainSpec; sets: SetSpec[] } {
  const { namespace, name } = policy;
  const peerDir: 'src' | 'dst' = dir === 'ingress' ? 'src' : 'dst';
  const sets: SetSpec[] = [];
  const chainRules: Rule[] = [];
  const targetDef = targetDefinition(policy);
  const targetSet = targetSetName(targetDef, family, dir);
  const targetPods = prepared.localPodsIn(namespace).filter((p) => isTarget(policy, p));
  sets.push({ name: targetSet, type: 'hash:ip', family, members: sortedMembers(targetPods.flatMap((p) => p.ips[family])) });
  const targetMatch: SetMatch = { set: targetSet, dir: dir === 'ingress' ? 'dst' : 'src' };

  rules.forEach((rule) => {
    const peerVariants: (SetMatch | null)[] = [];
    if (rule.peers === null) peerVariants.push(null);
    else {
      if (rule.peers.some((p) => p.kind === 'pods')) {
        const setName = peerPodSetName(peerDefinition(policy, rule), family, dir);
        sets.push({ name: setName, type: 'hash:ip', family, members: selectorPeerMembers(prepared, policy, rule, family) });
        peerVariants.push({ set: setName, dir: peerDir });
      }
      rule.peers.forEach((peer) => {
        if (peer.kind !== 'ipBlock' || peer.blocks[0] === undefined || cidrFamilyName(peer.blocks[0]) !== family) return;
        const members: SetMember[] = [
          ...peer.blocks.map((b) => ({ entry: netMemberText(b) })),
          ...peer.except.map((e) => ({ entry: netMemberText(e), nomatch: true })),
        ].sort((a, b) => (a.entry < b.entry ? -1 : a.entry > b.entry ? 1 : 0));
        const setName = ipBlockSetName(members.map((m) => (m.nomatch ? `!${m.entry}` : m.entry)).join(','), family, dir);
        // Two equal blocks in one rule share their set, and one rule is enough for both.
        if (peerVariants.some((v) => v?.set === setName)) return;
        sets.push({ name: setName, type: 'hash:net', family, members });
        peerVariants.push({ set: setName, dir: peerDir });
      });
    }
    // Only ipBlocks of the other family: this rule matches nothing here (it must not become "all").
    if (peerVariants.length === 0) return;

    const portVariants: PortVariant[] = [];
    if (rule.ports === null) portVariants.push({});
    else {
      rule.ports.forEach((port) => {
        if (port.kind === 'all') portVariants.push({ proto: port.protocol });
        else if (port.kind === 'range') portVariants.push({ proto: port.protocol, dport: { from: port.from, to: port.to } });
        else {
          // Candidates per isNamedPortCandidate, enumerated without scanning every pod where possible.
          const everyPod = dir === 'egress' && (rule.peers === null || rule.peers.some((p) => p.kind === 'ipBlock'));
          const candidates = dir === 'ingress' ? targetPods : everyPod ? prepared.pods : selectorPeerPods(prepared, policy, rule);
          const portKey = namedPortKey(port.name, port.protocol);
          const candidateDef = dir === 'ingress' ? `target${targetDef}` : everyPod ? 'all' : `pods${peerDefinition(policy, rule)}`;
          const byNumber = namedPortMembers(candidates, portKey, family);
          for (const number of [...byNumber.keys()].sort((a, b) => a - b)) {
            const setName = namedPortSetName(`${candidateDef}/${portKey}`, family, number);
            sets.push({ name: setName, type: 'hash:ip', family, members: byNumber.get(number) ?? [] });
            portVariants.push({ proto: port.protocol, dport: { from: number, to: number }, set: { set: setName, dir: 'dst' } });
          }
        }
      });
    }

    for (const peer of peerVariants) {
      for (const port of portVariants) {
        const match: RuleMatch = { sets: [targetMatch, ...(peer ? [peer] : []), ...(port.set ? [port.set] : [])] };
        if (port.proto) match.proto = port.proto;
        if (port.dport) match.dport = port.dport;
        chainRules.push({ match, action: { kind: 'mark', value: MARK_ALLOWED, mask: MARK_ALLOWED } });
        chainRules.push({ match: { ...match, mark: { value: MARK_ALLOWED, mask: MARK_ALLOWED } }, action: { kind: 'return' } });
      }
    }
  });
  return { chain: { name: policyChainName(namespace, name, family, dir), kind: 'policy', rules: chainRules }, sets };
}

/** The chains and sets of one policy in one family (a rejected policy gets empty chains: it allows nothing). */
export function planPolicyFamily(prepared: PreparedView, policy: NormalizedPolicy, family: Family): PolicyFamilyPlan {
  const out: PolicyFamilyPlan = { chains: [], sets: [], info: [] };
  for (const dir of ['ingress', 'egress'] as const) {
    const rules = policy[dir];
    if (rules === null) continue;
    const chainName = policyChainName(policy.namespace, policy.name, family, dir);
    out.info.push({ chain: chainName, policyKey: policy.key, direction: dir });
    if (policy.rejection) {
      out.chains.push({ name: chainName, kind: 'policy', rules: [] });
      continue;
    }
    const { chain, sets } = directionPlan(prepared, policy, family, dir, rules);
    out.chains.push(chain);
    out.sets.push(...sets);
  }
  return out;
}

export { hostCidr };
