// The fixed chains (COMMON, DEFAULT, TAIL), a local pod's firewall chain, and the top-level KUBE-ROUTER-*
// chains with their INPUT whitelist head: the parts of the ruleset that do not come from one policy.
import { canonicalCidr, parseCidr } from '../../net/cidr.ts';
import { cidrFamilyName } from './addresses.ts';
import {
  CHAIN_COMMON, CHAIN_DEFAULT, CHAIN_FORWARD, CHAIN_INPUT, CHAIN_OUTPUT, CHAIN_TAIL, MARK_ALLOWED, MARK_PASSED,
  type BuiltinJump, type ChainSpec, type Family, type PodFirewall, type Rule,
} from './model.ts';
import { builtinJumpComment, localPodsSetName, podJumpComment, rejectedPodJumpComment } from './names.ts';
import { hostCidr } from './plan-policy.ts';
import type { NetpolConfig } from './plan-view.ts';

const markAllowed = { value: MARK_ALLOWED, mask: MARK_ALLOWED };
const markPassed = { value: MARK_PASSED, mask: MARK_PASSED };

/** Connection tracking and the ICMP types that must pass for networking to work at all. */
export function commonChain(family: Family): ChainSpec {
  const icmp: Rule[] = family === 'ipv4'
    ? [8, 3, 11].map((t) => ({ match: { proto: 'icmp', icmpType: t }, action: { kind: 'accept' } }))
    // echo-request, destination-unreachable, time-exceeded, neighbour solicitation/advertisement, echo-reply
    : [128, 1, 3, 135, 136, 129].map((t) => ({ match: { proto: 'icmpv6', icmpType: t }, action: { kind: 'accept' } }));
  return {
    name: CHAIN_COMMON,
    kind: 'common',
    rules: [
      { match: { ctstate: 'INVALID' }, action: { kind: 'drop' } },
      { match: { ctstate: 'RELATED,ESTABLISHED' }, action: { kind: 'accept' } },
      ...icmp,
    ],
  };
}

/** Allows a direction no policy governs. */
export function defaultChain(): ChainSpec {
  return { name: CHAIN_DEFAULT, kind: 'default', rules: [{ match: {}, action: { kind: 'mark', ...markAllowed } }] };
}

function cidrsOf(family: Family, cidrs: readonly string[]): string[] {
  return cidrs.filter((c) => {
    const p = parseCidr(c);
    return p.ok && cidrFamilyName(p.value) === family;
  }).map((c) => {
    const p = canonicalCidr(c);
    return p.ok ? p.value : c;
  });
}

/** Accepts what a pod chain passed; with default-deny, rejects pod-CIDR traffic of pods not yet programmed. */
export function tailChain(family: Family, podCIDRs: readonly string[], defaultDeny: boolean): ChainSpec {
  const accept: Rule = { match: { mark: markPassed }, action: { kind: 'accept' } };
  if (!defaultDeny) return { name: CHAIN_TAIL, kind: 'tail', rules: [accept] };
  const localPods = localPodsSetName(family);
  const cidrs = cidrsOf(family, podCIDRs);
  const rules: Rule[] = [];
  for (const cidr of cidrs) {
    rules.push({ match: { src: cidr, sets: [{ set: localPods, dir: 'src', negate: true }] }, action: { kind: 'reject' } });
    rules.push({ match: { dst: cidr, sets: [{ set: localPods, dir: 'dst', negate: true }] }, action: { kind: 'reject' } });
  }
  rules.push(accept);
  for (const cidr of cidrs) {
    rules.push({ match: { src: cidr }, action: { kind: 'reject' } });
    rules.push({ match: { dst: cidr }, action: { kind: 'reject' } });
  }
  return { name: CHAIN_TAIL, kind: 'tail', rules };
}

/** A local pod's chain: conntrack/ICMP, node access, then each direction's policies (or the default). */
export function podChain(fw: PodFirewall, family: Family): ChainSpec {
  const cidrs = fw.ips.map((ip) => hostCidr(family, ip));
  const rules: Rule[] = [{ match: {}, action: { kind: 'jump', chain: CHAIN_COMMON } }];
  for (const dst of cidrs) rules.push({ match: { srcTypeLocal: true, dst }, action: { kind: 'accept' } });
  // A quarantined pod jumps to no policy and not to DEFAULT: nothing marks its traffic allowed.
  const ingress = fw.denyAll ? [] : fw.ingressChains.length > 0 ? fw.ingressChains : [CHAIN_DEFAULT];
  for (const chain of ingress) for (const dst of cidrs) rules.push({ match: { dst }, action: { kind: 'jump', chain } });
  const egress = fw.denyAll ? [] : fw.egressChains.length > 0 ? fw.egressChains : [CHAIN_DEFAULT];
  for (const chain of egress) for (const src of cidrs) rules.push({ match: { src }, action: { kind: 'jump', chain } });
  const notAllowed = { ...markAllowed, negate: true };
  rules.push({ match: { mark: notAllowed, limit: { perMinute: 10, burst: 10 } }, action: { kind: 'nflog', group: 100 } });
  rules.push({ match: { mark: notAllowed }, action: { kind: 'reject' } });
  rules.push({ match: {}, action: { kind: 'mark', value: 0, mask: MARK_ALLOWED } });
  rules.push({ match: {}, action: { kind: 'mark', ...markPassed } });
  return { name: fw.chain, kind: 'pod', rules };
}

/** Traffic to service VIPs and NodePorts passes INPUT unfiltered; policy applies after DNAT (FORWARD/OUTPUT). */
export function inputWhitelist(family: Family, config: NetpolConfig): Rule[] {
  const rules: Rule[] = cidrsOf(family, config.serviceClusterIPRanges).map((dst) => ({ match: { dst }, action: { kind: 'return' } }));
  for (const proto of ['tcp', 'udp', 'sctp'] as const) {
    rules.push({ match: { proto, dstTypeLocal: true, dport: { ...config.nodePortRange } }, action: { kind: 'return' } });
  }
  for (const dst of [...cidrsOf(family, config.serviceExternalIPRanges), ...cidrsOf(family, config.loadBalancerIPRanges)]) {
    rules.push({ match: { dst }, action: { kind: 'return' } });
  }
  return rules;
}

/** KUBE-ROUTER-INPUT/FORWARD/OUTPUT: pod-chain jumps by address, then TAIL and the final accept. */
export function topChains(family: Family, config: NetpolConfig, pods: readonly PodFirewall[]): ChainSpec[] {
  const input: Rule[] = inputWhitelist(family, config);
  const forward: Rule[] = [];
  const output: Rule[] = [];
  for (const fw of pods) {
    const comment = fw.denyAll ? rejectedPodJumpComment(fw.podKey) : podJumpComment(fw.podKey);
    for (const ip of fw.ips) {
      const cidr = hostCidr(family, ip);
      const toPod: Rule = { match: { dst: cidr, comment }, action: { kind: 'jump', chain: fw.chain } };
      const fromPod: Rule = { match: { src: cidr, comment }, action: { kind: 'jump', chain: fw.chain } };
      input.push(fromPod);
      forward.push(toPod, fromPod);
      output.push(toPod, fromPod);
    }
  }
  const end: Rule[] = [
    { match: {}, action: { kind: 'jump', chain: CHAIN_TAIL } },
    { match: { mark: markPassed }, action: { kind: 'accept' } },
  ];
  return [
    { name: CHAIN_FORWARD, kind: 'top', rules: [...forward, ...end] },
    { name: CHAIN_INPUT, kind: 'top', rules: [...input, ...end] },
    { name: CHAIN_OUTPUT, kind: 'top', rules: [...output, ...end] },
  ];
}

export function builtinJumps(): BuiltinJump[] {
  return (['INPUT', 'FORWARD', 'OUTPUT'] as const).map((builtin) => {
    const target = `KUBE-ROUTER-${builtin}`;
    return { builtin, target, comment: builtinJumpComment(builtin, target) };
  });
}
