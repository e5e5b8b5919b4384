// The desired network-policy state for one node as plain data: ipsets, chains with structured rules and the
// builtin-chain jumps, per address family. Produced by plan.ts, consumed by the renderers, the diff and tests.
import { IPV6_SET_PREFIX } from '../../kernel/ipset.ts';

export type Family = 'ipv4' | 'ipv6';
export const FAMILIES: readonly Family[] = ['ipv4', 'ipv6'];

/** Firewall mark meaning "a policy (or the default) allowed this packet for the direction being checked". */
export const MARK_ALLOWED = 0x10000;
/** Firewall mark meaning "this packet went through a pod firewall chain and passed". */
export const MARK_PASSED = 0x20000;

export const CHAIN_INPUT = 'KUBE-ROUTER-INPUT';
export const CHAIN_FORWARD = 'KUBE-ROUTER-FORWARD';
export const CHAIN_OUTPUT = 'KUBE-ROUTER-OUTPUT';
export const CHAIN_DEFAULT = 'KUBE-NWPLCY-DEFAULT';
export const CHAIN_COMMON = 'KUBE-NWPLCY-COMMON';
export const CHAIN_TAIL = 'KUBE-NWPLCY-TAIL';
export const POLICY_CHAIN_PREFIX = 'KUBE-NWPLCY-';
export const POD_CHAIN_PREFIX = 'KUBE-POD-FW-';
export const LOCAL_PODS_SET = 'kube-router-local-pods';
export const SET_PREFIXES = ['KUBE-SRC-', 'KUBE-DST-'] as const;
/** Family prefix ipset needs because set names are global across families (one spelling, kernel/ipset.ts). */
export { IPV6_SET_PREFIX };

export type BuiltinChain = 'INPUT' | 'FORWARD' | 'OUTPUT';
export const TOP_CHAIN_OF: Record<BuiltinChain, string> = {
  INPUT: CHAIN_INPUT,
  FORWARD: CHAIN_FORWARD,
  OUTPUT: CHAIN_OUTPUT,
};

export type L4Protocol = 'tcp' | 'udp' | 'sctp';
export type Protocol = L4Protocol | 'icmp' | 'icmpv6';

export interface SetMember {
  /** Address (hash:ip) or CIDR (hash:net; host prefixes written as bare addresses). */
  entry: string;
  /** hash:net only: an ipBlock `except`, so addresses under it do not match (most specific prefix wins). */
  nomatch?: boolean;
}

export interface SetSpec {
  name: string;
  type: 'hash:ip' | 'hash:net';
  family: Family;
  /** Sorted by entry, no duplicates. */
  members: SetMember[];
}

export interface SetMatch {
  set: string;
  dir: 'src' | 'dst';
  negate?: boolean;
}

/** Everything a rule can test; every field present must hold (AND). */
export interface RuleMatch {
  /** Address or CIDR in canonical "addr/len" form. */
  src?: string;
  dst?: string;
  sets?: SetMatch[];
  proto?: Protocol;
  /** Destination port range (tcp/udp/sctp only); from === to for a single port. */
  dport?: { from: number; to: number };
  /** ICMP / ICMPv6 type number. */
  icmpType?: number;
  srcTypeLocal?: boolean;
  dstTypeLocal?: boolean;
  ctstate?: 'INVALID' | 'RELATED,ESTABLISHED';
  mark?: { value: number; mask: number; negate?: boolean };
  limit?: { perMinute: number; burst: number };
  comment?: string;
}

export type RuleAction =
  | { kind: 'jump'; chain: string }
  | { kind: 'accept' }
  | { kind: 'drop' }
  | { kind: 'return' }
  | { kind: 'reject' }
  /** Sets the bits of `value` under `mask` (iptables MARK --set-xmark value/mask). */
  | { kind: 'mark'; value: number; mask: number }
  | { kind: 'nflog'; group: number };

export interface Rule {
  match: RuleMatch;
  action: RuleAction;
}

export type ChainKind = 'top' | 'common' | 'default' | 'tail' | 'policy' | 'pod';

export interface ChainSpec {
  name: string;
  kind: ChainKind;
  rules: Rule[];
}

/** Which policy chains a local pod's firewall chain jumps to, per direction. */
export interface PodFirewall {
  chain: string;
  podKey: string;
  ips: string[];
  /** Policy chains checked for traffic to the pod; empty means not isolated (the DEFAULT chain allows). */
  ingressChains: string[];
  egressChains: string[];
  /** The pod's own part could not be programmed (quarantined): it is isolated both ways and allowed nothing. */
  denyAll?: boolean;
}

export interface PolicyChainInfo {
  chain: string;
  policyKey: string;
  direction: 'ingress' | 'egress';
}

export interface BuiltinJump {
  builtin: BuiltinChain;
  target: string;
  comment: string;
}

export interface FamilyState {
  family: Family;
  /** Sorted by name. */
  sets: SetSpec[];
  /** All chains we own in the filter table, sorted by name. */
  chains: ChainSpec[];
  podFirewalls: PodFirewall[];
  policyChains: PolicyChainInfo[];
  /** Jumps at position 1 of the builtin chains, INPUT, FORWARD, OUTPUT order. */
  builtinJumps: BuiltinJump[];
}

/** A policy that could not be honoured; its target pods fail closed. */
export interface PolicyRejection {
  policy: string;
  field: string;
  message: string;
}

export interface DesiredState {
  families: FamilyState[];
  rejections: PolicyRejection[];
}

/** True for chain names this controller owns (and may flush or delete). */
export function isOwnedChain(name: string): boolean {
  return name === CHAIN_INPUT || name === CHAIN_FORWARD || name === CHAIN_OUTPUT ||
    name.startsWith(POLICY_CHAIN_PREFIX) || name.startsWith(POD_CHAIN_PREFIX);
}

/**
 * True for ipset names this controller owns. Swap temporaries (KUBE-TMP-*) are not among them: they belong to
 * the shared ipset writer, which every controller uses, and go with the set they stood in for.
 */
export function isOwnedSet(name: string): boolean {
  const bare = name.startsWith(IPV6_SET_PREFIX) ? name.slice(IPV6_SET_PREFIX.length) : name;
  return bare === LOCAL_PODS_SET || bare.startsWith('KUBE-SRC-') || bare.startsWith('KUBE-DST-');
}
