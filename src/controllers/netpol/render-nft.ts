// Renders one family's desired state as a single `nft -f` transaction for table kube-router-filter-ipv4
// (ip) or -ipv6 (ip6): named sets, base chains on the input/forward/output hooks, and every rule.
import type { Family, FamilyState, Rule, SetSpec } from './model.ts';
import { IPV6_SET_PREFIX, TOP_CHAIN_OF } from './model.ts';

export const nftTableName = (family: Family): string => `kube-router-filter-${family}`;
const nftFamily = (family: Family): string => (family === 'ipv4' ? 'ip' : 'ip6');

/** nft set names need no family prefix: each family has its own table. */
export const nftSetName = (ipsetName: string): string =>
  ipsetName.startsWith(IPV6_SET_PREFIX) ? ipsetName.slice(IPV6_SET_PREFIX.length) : ipsetName;

/**
 * nft interval sets have no `nomatch`: an ipBlock set's excepts go to a companion set, and each rule that
 * matches the block also requires the address to be outside the companion (both conditions in one rule).
 */
export const exceptSetName = (ipsetName: string): string => `${nftSetName(ipsetName)}-EXCEPT`;

const hex32 = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;

function quote(text: string): string {
  return `"${text.replace(/["\\]/g, '')}"`;
}

function ruleExpr(rule: Rule, family: Family, setsWithExcept: ReadonlySet<string>): string {
  const m = rule.match;
  const ipKw = family === 'ipv4' ? 'ip' : 'ip6';
  const out: string[] = [];
  if (m.src !== undefined) out.push(`${ipKw} saddr ${m.src}`);
  if (m.dst !== undefined) out.push(`${ipKw} daddr ${m.dst}`);
  for (const s of m.sets ?? []) {
    const field = `${ipKw} ${s.dir === 'src' ? 'saddr' : 'daddr'}`;
    if (s.negate && setsWithExcept.has(s.set)) throw new Error(`negated match on set with excepts: ${s.set}`);
    out.push(`${field} ${s.negate ? '!= ' : ''}@${nftSetName(s.set)}`);
    if (setsWithExcept.has(s.set)) out.push(`${field} != @${exceptSetName(s.set)}`);
  }
  if (m.proto === 'icmp' || m.proto === 'icmpv6') {
    out.push(m.icmpType !== undefined ? `${m.proto} type ${m.icmpType}` : `meta l4proto ${m.proto === 'icmp' ? 'icmp' : 'ipv6-icmp'}`);
  } else if (m.proto !== undefined) {
    if (m.dport) out.push(`${m.proto} dport ${m.dport.from === m.dport.to ? m.dport.from : `${m.dport.from}-${m.dport.to}`}`);
    else out.push(`meta l4proto ${m.proto}`);
  }
  if (m.srcTypeLocal) out.push('fib saddr type local');
  if (m.dstTypeLocal) out.push('fib daddr type local');
  if (m.ctstate === 'INVALID') out.push('ct state invalid');
  if (m.ctstate === 'RELATED,ESTABLISHED') out.push('ct state established,related');
  if (m.mark) out.push(`meta mark & ${hex32(m.mark.mask)} ${m.mark.negate ? '!=' : '=='} ${hex32(m.mark.value)}`);
  if (m.limit) out.push(`limit rate ${m.limit.perMinute}/minute burst ${m.limit.burst} packets`);
  const a = rule.action;
  switch (a.kind) {
    case 'jump': out.push(`jump ${a.chain}`); break;
    case 'accept': case 'drop': case 'return': case 'reject': out.push(a.kind); break;
    case 'mark': {
      const keep = `meta mark & ${hex32(~a.mask)}`;
      out.push(a.value === 0 ? `meta mark set ${keep}` : `meta mark set ${keep} | ${hex32(a.value)}`);
      break;
    }
    case 'nflog': out.push(`log group ${a.group}`); break;
  }
  if (m.comment !== undefined) out.push(`comment ${quote(m.comment)}`);
  return out.join(' ');
}

function setDecl(prefix: string, name: string, s: SetSpec, entries: string[], family: Family): string[] {
  const type = family === 'ipv4' ? 'ipv4_addr' : 'ipv6_addr';
  const flags = s.type === 'hash:net' ? ' flags interval;' : '';
  const lines = [`add set ${prefix} ${name} { type ${type};${flags} }`];
  if (entries.length > 0) lines.push(`add element ${prefix} ${name} { ${entries.join(', ')} }`);
  return lines;
}

/**
 * The whole table as one transaction: the table is (re)created from scratch inside the transaction, so
 * the kernel switches from the old ruleset to the new one atomically and nothing stale survives.
 */
export function renderNft(state: FamilyState): string {
  const table = nftTableName(state.family);
  const prefix = `${nftFamily(state.family)} ${table}`;
  const lines = [`add table ${prefix}`, `delete table ${prefix}`, `add table ${prefix}`];
  const setsWithExcept = new Set<string>();
  for (const s of state.sets) {
    const block = s.members.filter((m) => !m.nomatch).map((m) => m.entry);
    const except = s.members.filter((m) => m.nomatch).map((m) => m.entry);
    lines.push(...setDecl(prefix, nftSetName(s.name), s, block, state.family));
    if (except.length > 0) {
      setsWithExcept.add(s.name);
      lines.push(...setDecl(prefix, exceptSetName(s.name), s, except, state.family));
    }
  }
  const hooks = new Map(Object.entries(TOP_CHAIN_OF).map(([builtin, chain]) => [chain, builtin.toLowerCase()]));
  // Declare every chain before any rule so jumps resolve regardless of order.
  for (const c of state.chains) {
    const hook = hooks.get(c.name);
    lines.push(hook
      ? `add chain ${prefix} ${c.name} { type filter hook ${hook} priority filter; policy accept; }`
      : `add chain ${prefix} ${c.name}`);
  }
  for (const c of state.chains) {
    for (const rule of c.rules) lines.push(`add rule ${prefix} ${c.name} ${ruleExpr(rule, state.family, setsWithExcept)}`);
  }
  return lines.join('\n') + '\n';
}

/** Removes our table of that family (cleanup when the nftables backend is turned off). */
export function renderNftDelete(family: Family): string {
  const prefix = `${nftFamily(family)} ${nftTableName(family)}`;
  return `add table ${prefix}\ndelete table ${prefix}\n`;
}
