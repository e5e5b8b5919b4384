// Plans one NetworkPolicy for one node: its per-direction policy chains (structured rules that set the
// "allowed" mark) and the ipsets those rules match on, plus the predicates deciding set membership (selector
// peers: plan-peers.ts).
import { cidrFamilyName, hostPrefixLen, netMemberText } from './addresses.ts';
import {
  MARK_ALLOWED, type ChainSpec, type Family, type PolicyChainInfo, type Rule, type RuleMatch, type SetMatch, type SetMember, type SetSpec,
} from './model.ts';
import { ipBlockSetName, namedPortSetName, peerPodSetName, policyChainName, targetSetName } from './names.ts';
import type { Direction, NormalizedPolicy, NormalizedRule } from './policy-spec.ts';
import { addressMembers, isSelectorPeer, peerDefinition, selectorPeerMembers, selectorPeerPods, sortedMembers } from './plan-peers.ts';
import type { PreparedView } from './plan-view.ts';
import { namedPortKey, type PolicyPod } from './policy-pod.ts';
import { selectorMatches, type Labels } from './selectors.ts';

export interface PolicyFamilyPlan {
  chains: ChainSpec[];
  sets: SetSpec[];
  info: PolicyChainInfo[];
}

/** The policy selects this pod (same namespace, podSelector matches). */
export function isTarget(policy: NormalizedPolicy, pod: PolicyPod): boolean {
  return pod.namespace === policy.namespace && selectorMatches(policy.podSelector, pod.labels);
}

/** What decides a policy's target members: its namespace and pod selector. */
export const targetDefinition = (policy: NormalizedPolicy): string => JSON.stringify([policy.namespace, policy.podSelector]);

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

const hostCidr = (family: Family, ip: string): string => `${ip}/${hostPrefixLen(family)}`;

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
  sets.push({ name: targetSet, type: 'hash:ip', family, members: addressMembers(targetPods, family) });
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
