// Renders one family's desired state as a single `nft -f` transaction for table kube-router-filter-ipv4
// (ip) or -ipv6 (ip6): named sets, base chains on the input/forward/output hooks, and every rule.
import { inChunks } from '../../kernel/exec.ts';
import type { FamilyChanges } from './diff.ts';
import type { Family, FamilyState, Rule, SetMember, SetSpec } from './model.ts';
import { IPV6_SET_PREFIX, TOP_CHAIN_OF } from './model.ts';
import { shortHash } from './names.ts';

export const nftTableName = (family: Family): string => `kube-router-filter-${family}`;
export const nftFamily = (family: Family): string => (family === 'ipv4' ? 'ip' : 'ip6');

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
  out.push(`comment ${quote(ruleComment(out.join(' '), m.comment))}`);
  return out.join(' ');
}

/**
 * Every rule we write carries a fingerprint of its own text in its comment (after our comment, if any). nft
 * lists comments back verbatim, so a full sync can check our chains rule by rule against the listing without
 * parsing nft's expression syntax (see nft-compare.ts).
 */
function ruleComment(expr: string, comment: string | undefined): string {
  const fingerprint = `#${shortHash(`${expr}|${comment ?? ''}`).slice(0, 12)}`;
  return comment === undefined ? fingerprint : `${comment} ${fingerprint}`;
}

/** One family's table as we write it: the model both the renderer and the full-sync comparison use. */
export interface NftTable {
  sets: { name: string; type: 'ipv4_addr' | 'ipv6_addr'; interval: boolean; elements: string[] }[];
  /** `hook` for the base chains on input/forward/output (type filter, priority filter, policy accept). */
  chains: { name: string; hook?: string; rules: string[] }[];
}

function nftSets(s: SetSpec, family: Family): NftTable['sets'] {
  const type = family === 'ipv4' ? 'ipv4_addr' : 'ipv6_addr';
  const interval = s.type === 'hash:net';
  const block = s.members.filter((m) => !m.nomatch).map((m) => m.entry);
  const except = s.members.filter((m) => m.nomatch).map((m) => m.entry);
  const out = [{ name: nftSetName(s.name), type, interval, elements: block } as const];
  return except.length > 0 ? [...out, { name: exceptSetName(s.name), type, interval, elements: except } as const] : out;
}

// Elements per `add element` line: a 17k-member set is many short lines, not one huge one.
const ELEMENTS_PER_LINE = 1000;

function* setDecl(prefix: string, set: NftTable['sets'][number]): Generator<string> {
  yield `add set ${prefix} ${set.name} { type ${set.type};${set.interval ? ' flags interval;' : ''} }`;
  for (let i = 0; i < set.elements.length; i += ELEMENTS_PER_LINE) {
    yield `add element ${prefix} ${set.name} { ${set.elements.slice(i, i + ELEMENTS_PER_LINE).join(', ')} }`;
  }
}

/** The table a family state becomes. */
export function nftTable(state: FamilyState): NftTable {
  const sets = state.sets.flatMap((s) => nftSets(s, state.family));
  const setsWithExcept = new Set(state.sets.filter(hasExcept).map((s) => s.name));
  const hooks = new Map(Object.entries(TOP_CHAIN_OF).map(([builtin, chain]) => [chain, builtin.toLowerCase()]));
  const chains = state.chains.map((c) => {
    const hook = hooks.get(c.name);
    return { name: c.name, ...(hook ? { hook } : {}), rules: c.rules.map((r) => ruleExpr(r, state.family, setsWithExcept)) };
  });
  return { sets, chains };
}

/**
 * The whole table as one transaction: the table is (re)created from scratch inside the transaction, so
 * the kernel switches from the old ruleset to the new one atomically and nothing stale survives.
 */
export function renderNft(state: FamilyState): string {
  return [...inChunks(nftLines(state))].join('');
}

/** The same transaction line by line, produced lazily (set by set, rule by rule) for streaming into nft. */
export function* nftLines(state: FamilyState): Generator<string> {
  const prefix = `${nftFamily(state.family)} ${nftTableName(state.family)}`;
  yield `add table ${prefix}`;
  yield `delete table ${prefix}`;
  yield `add table ${prefix}`;
  for (const s of state.sets) for (const set of nftSets(s, state.family)) yield* setDecl(prefix, set);
  const setsWithExcept = new Set(state.sets.filter(hasExcept).map((s) => s.name));
  const hooks = new Map(Object.entries(TOP_CHAIN_OF).map(([builtin, chain]) => [chain, builtin.toLowerCase()]));
  // Declare every chain before any rule so jumps resolve regardless of order.
  for (const c of state.chains) {
    const hook = hooks.get(c.name);
    yield hook ? `add chain ${prefix} ${c.name} { type filter hook ${hook} priority filter; policy accept; }` : `add chain ${prefix} ${c.name}`;
  }
  for (const c of state.chains) for (const rule of c.rules) yield `add rule ${prefix} ${c.name} ${ruleExpr(rule, state.family, setsWithExcept)}`;
}

/** Removes our table of that family (cleanup when the nftables backend is turned off). */
export function renderNftDelete(family: Family): string {
  const prefix = `${nftFamily(family)} ${nftTableName(family)}`;
  return `add table ${prefix}\ndelete table ${prefix}\n`;
}

/** A set's except companion exists exactly when the set holds nomatch members. */
const hasExcept = (s: { members: SetMember[] }): boolean => s.members.some((m) => m.nomatch);

/**
 * A diff (the same changes the iptables backend applies) as one nft transaction on our existing table: sets
 * created / refilled / deleted, chains created / flushed and refilled / deleted, element adds and deletes.
 * Returns null when a change cannot be expressed safely (a set gaining or losing its except companion): the
 * caller then re-renders the whole table, still in one transaction. `current` holds every set the refilled
 * rules may reference (their except companions decide the rule text); `previous` the sets as they were.
 */
export function renderNftDelta(family: Family, changes: FamilyChanges, current: ReadonlyMap<string, SetSpec>,
  previous: ReadonlyMap<string, SetSpec>): string | null {
  const prefix = `${nftFamily(family)} ${nftTableName(family)}`;
  const { ipset, iptables } = changes;
  const lines: string[] = [];
  for (const s of ipset.create) for (const set of nftSets(s, family)) lines.push(...setDecl(prefix, set));
  for (const s of ipset.replace) {
    const before = previous.get(s.name);
    if (!before || hasExcept(before) || hasExcept(s)) return null;
    lines.push(`flush set ${prefix} ${nftSetName(s.name)}`);
    for (let i = 0; i < s.members.length; i += ELEMENTS_PER_LINE) {
      lines.push(`add element ${prefix} ${nftSetName(s.name)} { ${s.members.slice(i, i + ELEMENTS_PER_LINE).map((m) => m.entry).join(', ')} }`);
    }
  }
  for (const [verb, list] of [['delete', ipset.del], ['add', ipset.add]] as const) {
    for (const { set, member } of list) {
      const [now, before] = [current.get(set), previous.get(set)];
      if (member.nomatch && !(now && before && hasExcept(now) && hasExcept(before))) return null;
      lines.push(`${verb} element ${prefix} ${member.nomatch ? exceptSetName(set) : nftSetName(set)} { ${member.entry} }`);
    }
  }
  const setsWithExcept = new Set([...current.values()].filter(hasExcept).map((s) => s.name));
  for (const c of iptables.refill) if (!c.exists) lines.push(`add chain ${prefix} ${c.name}`);
  for (const c of iptables.refill) {
    if (c.exists) lines.push(`flush chain ${prefix} ${c.name}`);
    for (const rule of c.rules) lines.push(`add rule ${prefix} ${c.name} ${ruleExpr(rule, family, setsWithExcept)}`);
  }
  // Every stale chain is emptied before any is deleted: they may jump to each other.
  for (const name of iptables.remove) lines.push(`flush chain ${prefix} ${name}`);
  for (const name of iptables.remove) lines.push(`delete chain ${prefix} ${name}`);
  for (const name of ipset.destroy) {
    lines.push(`delete set ${prefix} ${nftSetName(name)}`);
    const before = previous.get(name);
    if (before && hasExcept(before)) lines.push(`delete set ${prefix} ${exceptSetName(name)}`);
  }
  return lines.length ? lines.join('\n') + '\n' : '';
}
