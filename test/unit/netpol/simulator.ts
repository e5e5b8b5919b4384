// A tiny packet simulator over a planned ruleset: walks the structured chains and ipsets the way netfilter
// would (first match, jumps, returns, xmark, ipset most-specific nomatch), so tests can assert verdicts.
import { parseNetMember } from '../../../src/controllers/netpol/addresses.ts';
import { cidrContains, cidrTextContainsIp, familyOf, isCidr } from '../../../src/net/cidr.ts';
import { familyName, parseIp } from '../../../src/net/ip.ts';
import type {
  BuiltinChain, ChainSpec, DesiredState, Family, FamilyState, Rule, SetSpec,
} from '../../../src/controllers/netpol/model.ts';
import { plan } from '../../../src/controllers/netpol/plan.ts';
import type { ClusterView } from '../../../src/controllers/netpol/plan-view.ts';

export interface Packet {
  src: string;
  dst: string;
  proto: 'tcp' | 'udp' | 'sctp' | 'icmp' | 'icmpv6';
  dport?: number;
  icmpType?: number;
  ctstate?: 'NEW' | 'ESTABLISHED' | 'INVALID';
  mark?: number;
}

export type Verdict = 'accept' | 'drop' | 'reject';
type Outcome = Verdict | 'continue';

function setHas(set: SetSpec | undefined, ip: string): boolean {
  if (!set) throw new Error('rule references a set that is not planned');
  if (set.type === 'hash:ip') return set.members.some((m) => m.entry === ip);
  let best: { prefix: number; nomatch: boolean } | null = null;
  for (const m of set.members) {
    const c = parseNetMember(m.entry);
    const address = parseIp(ip);
    if (!c.ok || !address.ok || !cidrContains(c.value, address.value)) continue;
    if (!best || c.value.prefixLength > best.prefix) best = { prefix: c.value.prefixLength, nomatch: m.nomatch === true };
  }
  return best !== null && !best.nomatch;
}

class Walker {
  mark: number;
  private readonly chains: Map<string, ChainSpec>;
  private readonly sets: Map<string, SetSpec>;
  constructor(readonly state: FamilyState, readonly pkt: Packet, readonly localAddrs: readonly string[]) {
    this.mark = pkt.mark ?? 0;
    this.chains = new Map(state.chains.map((c) => [c.name, c]));
    this.sets = new Map(state.sets.map((s) => [s.name, s]));
  }

  private addrMatches(cidr: string, ip: string): boolean {
    if (!isCidr(cidr)) throw new Error(`bad cidr in rule: ${cidr}`);
    return cidrTextContainsIp(cidr, ip);
  }

  matches(rule: Rule): boolean {
    const m = rule.match;
    const p = this.pkt;
    if (m.src !== undefined && !this.addrMatches(m.src, p.src)) return false;
    if (m.dst !== undefined && !this.addrMatches(m.dst, p.dst)) return false;
    for (const s of m.sets ?? []) {
      const hit = setHas(this.sets.get(s.set), s.dir === 'src' ? p.src : p.dst);
      if (hit === (s.negate === true)) return false;
    }
    if (m.proto !== undefined && m.proto !== p.proto) return false;
    if (m.dport !== undefined && (p.dport === undefined || p.dport < m.dport.from || p.dport > m.dport.to)) return false;
    if (m.icmpType !== undefined && m.icmpType !== p.icmpType) return false;
    if (m.srcTypeLocal && !this.localAddrs.includes(p.src)) return false;
    if (m.dstTypeLocal && !this.localAddrs.includes(p.dst)) return false;
    const ct = p.ctstate ?? 'NEW';
    if (m.ctstate === 'INVALID' && ct !== 'INVALID') return false;
    if (m.ctstate === 'RELATED,ESTABLISHED' && ct !== 'ESTABLISHED') return false;
    if (m.mark !== undefined && ((this.mark & m.mark.mask) === m.mark.value) === (m.mark.negate === true)) return false;
    return true;
  }

  run(chainName: string, depth = 0): Outcome {
    if (depth > 16) throw new Error('jump loop');
    const chain = this.chains.get(chainName);
    if (!chain) throw new Error(`jump to missing chain ${chainName}`);
    for (const rule of chain.rules) {
      if (!this.matches(rule)) continue;
      const a = rule.action;
      switch (a.kind) {
        case 'jump': {
          const r = this.run(a.chain, depth + 1);
          if (r !== 'continue') return r;
          break;
        }
        case 'accept': return 'accept';
        case 'drop': return 'drop';
        case 'reject': return 'reject';
        case 'return': return 'continue';
        case 'mark': this.mark = ((this.mark & ~a.mask) ^ a.value) >>> 0; break;
        case 'nflog': break;
      }
    }
    return 'continue';
  }
}

/** Verdict of one builtin hook (builtin policy ACCEPT) for a packet in one family's planned ruleset. */
export function evaluateHook(state: FamilyState, hook: BuiltinChain, pkt: Packet, localAddrs: readonly string[]): Verdict {
  const w = new Walker(state, pkt, localAddrs);
  for (const j of state.builtinJumps.filter((b) => b.builtin === hook)) {
    const r = w.run(j.target);
    if (r !== 'continue') return r;
  }
  return 'accept';
}

export interface SimNode {
  name: string;
  ips: string[];
}

/**
 * Sends a packet through every node it crosses: the sender's node (FORWARD, or OUTPUT when a node sends)
 * and the receiver's node (FORWARD, or INPUT when a node receives). Pods are found from the view's pods.
 */
export function deliver(base: Omit<ClusterView, 'nodeName' | 'nodeIPs'>, nodes: SimNode[], pkt: Packet): Verdict {
  const srcFamily = familyOf(pkt.src);
  const family: Family = srcFamily === undefined ? 'ipv4' : familyName(srcFamily);
  const hostOfPod = (ip: string): string | undefined => base.pods.find((p) =>
    !p.spec?.hostNetwork && [p.status?.podIP, ...(p.status?.podIPs ?? []).map((x) => x.ip)].includes(ip))?.spec?.nodeName;
  const nodeOfAddr = (ip: string): SimNode | undefined => nodes.find((n) => n.ips.includes(ip));
  const srcNode = nodeOfAddr(pkt.src)?.name ?? hostOfPod(pkt.src);
  const dstNode = nodeOfAddr(pkt.dst)?.name ?? hostOfPod(pkt.dst);
  const hooks = new Map<string, BuiltinChain[]>();
  const add = (node: string | undefined, hook: BuiltinChain): void => {
    if (node && !hooks.get(node)?.includes(hook)) hooks.set(node, [...(hooks.get(node) ?? []), hook]);
  };
  if (srcNode) add(srcNode, nodeOfAddr(pkt.src) ? 'OUTPUT' : nodeOfAddr(pkt.dst)?.name === srcNode ? 'INPUT' : 'FORWARD');
  if (dstNode) add(dstNode, nodeOfAddr(pkt.dst) ? 'INPUT' : nodeOfAddr(pkt.src)?.name === dstNode ? 'OUTPUT' : 'FORWARD');
  for (const [nodeName, hookList] of hooks) {
    const node = nodes.find((n) => n.name === nodeName);
    if (!node) throw new Error(`unknown node ${nodeName}`);
    const state = stateFor(base, node, family);
    for (const hook of hookList) {
      const v = evaluateHook(state, hook, pkt, node.ips);
      if (v !== 'accept') return v;
    }
  }
  return 'accept';
}

const cache = new WeakMap<object, Map<string, DesiredState>>();
function stateFor(base: Omit<ClusterView, 'nodeName' | 'nodeIPs'>, node: SimNode, family: Family): FamilyState {
  let perNode = cache.get(base);
  if (!perNode) cache.set(base, (perNode = new Map()));
  let desired = perNode.get(node.name);
  if (!desired) perNode.set(node.name, (desired = plan({ ...base, nodeName: node.name, nodeIPs: node.ips })));
  const fam = desired.families.find((f) => f.family === family);
  if (!fam) throw new Error(`family ${family} not planned`);
  return fam;
}
