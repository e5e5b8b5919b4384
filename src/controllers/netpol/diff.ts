// Compares the desired state of one family with what iptables-save / ipset save show and returns the
// smallest changes: chains rewritten only when their rules differ, set members added/removed one by one.
import type { ChainSpec, DesiredState, Family, FamilyState, Rule, SetMember } from './model.ts';
import type { ObservedSet } from './parse-ipset-save.ts';
import type { ObservedIptables } from './parse-iptables-save.ts';
import type { IptablesChanges } from './render-iptables.ts';
import type { IpsetChanges } from './render-ipset.ts';

export interface ObservedFamily {
  iptables: ObservedIptables;
  /** Every owned set `ipset save` showed (both families: ipsets share one name space). */
  sets: ReadonlyMap<string, ObservedSet>;
}

export interface FamilyChanges {
  family: Family;
  iptables: IptablesChanges;
  ipset: IpsetChanges;
}

// Rules are never mutated once built, and the same objects are compared sync after sync.
const ruleKeys = new WeakMap<Rule, string>();

/** Canonical identity of a rule: equal keys mean the kernel holds the rule we want. */
export function ruleKey(r: Rule): string {
  let key = ruleKeys.get(r);
  if (key === undefined) ruleKeys.set(r, (key = computeRuleKey(r)));
  return key;
}

function computeRuleKey(r: Rule): string {
  const m = r.match;
  const a = r.action;
  const action = a.kind === 'jump' ? [a.kind, a.chain] : a.kind === 'mark' ? [a.kind, a.value, a.mask] : a.kind === 'nflog' ? [a.kind, a.group] : [a.kind];
  return JSON.stringify([
    m.src ?? null, m.dst ?? null, (m.sets ?? []).map((s) => [s.set, s.dir, s.negate === true]), m.proto ?? null,
    m.dport ? [m.dport.from, m.dport.to] : null, m.icmpType ?? null, m.srcTypeLocal === true, m.dstTypeLocal === true,
    m.ctstate ?? null, m.mark ? [m.mark.value, m.mark.mask, m.mark.negate === true] : null,
    m.limit ? [m.limit.perMinute, m.limit.burst] : null, m.comment ?? null, action,
  ]);
}

const memberKey = (m: SetMember): string => `${m.entry}${m.nomatch ? ' nomatch' : ''}`;

function sameRules(want: readonly Rule[], have: readonly (Rule | null)[]): boolean {
  if (want === have) return true;
  if (want.length !== have.length) return false;
  return want.every((r, i) => {
    const h = have[i];
    return h !== null && h !== undefined && ruleKey(r) === ruleKey(h);
  });
}

export interface DiffOptions {
  /** Rewrite every chain and replace every set even if unchanged (periodic full resync). */
  full?: boolean;
  /** A set whose member delta exceeds this is replaced by swap instead of add/del lines. */
  swapThreshold?: number;
}

/** How one desired chain must be written against what the kernel has; null when it holds exactly these rules. */
export function chainRefill(chain: ChainSpec, observed: ObservedIptables, full = false): IptablesChanges['refill'][number] | null {
  const have = observed.chains.get(chain.name);
  if (!have) return { name: chain.name, rules: chain.rules, exists: false };
  return full || !sameRules(chain.rules, have) ? { name: chain.name, rules: chain.rules, exists: true } : null;
}

function diffChains(desired: FamilyState, observed: ObservedIptables, full: boolean): IptablesChanges {
  const wanted = new Set(desired.chains.map((c) => c.name));
  const refill: IptablesChanges['refill'] = [];
  for (const chain of desired.chains as ChainSpec[]) {
    const change = chainRefill(chain, observed, full);
    if (change) refill.push(change);
  }
  const remove = [...observed.chains.keys()].filter((n) => !wanted.has(n)).sort();
  const deleteBuiltin: IptablesChanges['deleteBuiltin'] = [];
  const insertBuiltin: IptablesChanges['insertBuiltin'] = [];
  for (const jump of desired.builtinJumps) {
    const rule: Rule = { match: { comment: jump.comment }, action: { kind: 'jump', chain: jump.target } };
    const key = ruleKey(rule);
    // As upstream, our jump must be the chain's first rule: an ACCEPT above it (e.g. the routes controller's
    // FORWARD accepts, inserted at position 1 when missing) would bypass policy. A jump found lower down is
    // deleted and re-inserted at position 1 in the same restore, so there is no moment without it.
    const kept = observed.builtinJumps.find((o) => o.builtin === jump.builtin && o.rule !== null && ruleKey(o.rule) === key && o.position === 0);
    if (!kept) insertBuiltin.push({ builtin: jump.builtin, rule });
  }
  // Every other jump from a builtin chain into ours (duplicates, old comments, stale targets, misplaced) goes.
  const keptOnce = new Set<string>();
  for (const o of observed.builtinJumps) {
    const wantedJump = desired.builtinJumps.find((j) => j.builtin === o.builtin && j.target === o.target);
    const isWanted = wantedJump !== undefined && o.rule !== null && o.position === 0 &&
      ruleKey(o.rule) === ruleKey({ match: { comment: wantedJump.comment }, action: { kind: 'jump', chain: wantedJump.target } });
    const id = `${o.builtin} ${o.target}`;
    if (isWanted && !keptOnce.has(id)) keptOnce.add(id);
    else deleteBuiltin.push({ builtin: o.builtin, args: o.args });
  }
  return { family: desired.family, refill, deleteBuiltin, insertBuiltin, remove };
}

/** Equal lists in the same order (the common case: a re-planned set against the cache of the last apply). */
function sameMemberList(a: readonly SetMember[], b: readonly SetMember[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as SetMember;
    const y = b[i] as SetMember;
    if (x.entry !== y.entry || (x.nomatch === true) !== (y.nomatch === true)) return false;
  }
  return true;
}

/** Members to add and delete; a merge walk when both lists are sorted by entry, else by lookup. */
function memberDelta(want: readonly SetMember[], have: readonly SetMember[]): { add: SetMember[]; del: SetMember[] } {
  const add: SetMember[] = [];
  const del: SetMember[] = [];
  let i = 0;
  let j = 0;
  let sorted = true;
  while (i < want.length && j < have.length) {
    const w = want[i] as SetMember;
    const h = have[j] as SetMember;
    if ((i > 0 && (want[i - 1] as SetMember).entry >= w.entry) || (j > 0 && (have[j - 1] as SetMember).entry >= h.entry)) {
      sorted = false;
      break;
    }
    if (w.entry === h.entry) {
      if (memberKey(w) !== memberKey(h)) del.push(h), add.push(w);
      i++, j++;
    } else if (w.entry < h.entry) add.push(w), i++;
    else del.push(h), j++;
  }
  if (sorted) {
    // The tails must be sorted too for the walk's answer to stand.
    const tailSorted = (xs: readonly SetMember[], from: number): boolean => {
      for (let k = Math.max(1, from); k < xs.length; k++) if ((xs[k - 1] as SetMember).entry >= (xs[k] as SetMember).entry) return false;
      return true;
    };
    if (tailSorted(want, i) && tailSorted(have, j)) {
      for (; i < want.length; i++) add.push(want[i] as SetMember);
      for (; j < have.length; j++) del.push(have[j] as SetMember);
      return { add, del };
    }
  }
  const haveKeys = new Map(have.map((m) => [m.entry, m]));
  const wantKeys = new Map(want.map((m) => [m.entry, m]));
  const out = { add: [] as SetMember[], del: [] as SetMember[] };
  for (const [entry, m] of haveKeys) {
    const w = wantKeys.get(entry);
    if (!w || memberKey(w) !== memberKey(m)) out.del.push(m);
  }
  for (const [entry, m] of wantKeys) {
    const h = haveKeys.get(entry);
    if (!h || memberKey(h) !== memberKey(m)) out.add.push(m);
  }
  return out;
}

function diffSets(desired: FamilyState, observed: ReadonlyMap<string, ObservedSet>, opts: DiffOptions): IpsetChanges {
  const out: IpsetChanges = { create: [], replace: [], del: [], add: [], destroy: [] };
  const threshold = opts.swapThreshold ?? 512;
  const wanted = new Set(desired.sets.map((s) => s.name));
  for (const set of desired.sets) {
    const have = observed.get(set.name);
    if (!have) { out.create.push(set); continue; }
    if (opts.full || have.foreignOptions || have.type !== set.type || have.family !== set.family) { out.replace.push(set); continue; }
    if (sameMemberList(set.members, have.members)) continue;
    const { add, del } = memberDelta(set.members, have.members);
    if (del.length + add.length > threshold) { out.replace.push(set); continue; }
    for (const member of del) out.del.push({ set: set.name, member });
    for (const member of add) out.add.push({ set: set.name, member });
  }
  out.destroy = [...observed.values()]
    .filter((s) => s.family === desired.family && !wanted.has(s.name)).map((s) => s.name).sort();
  return out;
}

/** What an empty kernel shows: no chain, jump or set of ours. */
export const nothingObserved = (): ObservedFamily => ({ iptables: { chains: new Map(), builtinJumps: [] }, sets: new Map() });

/** Changes for one family. */
export function diffFamily(desired: FamilyState, observed: ObservedFamily, opts: DiffOptions = {}): FamilyChanges {
  return {
    family: desired.family,
    iptables: diffChains(desired, observed.iptables, opts.full === true),
    ipset: diffSets(desired, observed.sets, opts),
  };
}

/** How much a change list writes: the sync report's size, instead of the text it became. */
export interface ChangeCounts {
  setsCreated: number;
  setsReplaced: number;
  membersAdded: number;
  membersDeleted: number;
  setsDestroyed: number;
  /** Chains declared (created or flushed) and refilled, and the rules written into them. */
  chainsWritten: number;
  rulesWritten: number;
  chainsRemoved: number;
}

export function changeCounts(changes: readonly FamilyChanges[]): ChangeCounts {
  const out: ChangeCounts = { setsCreated: 0, setsReplaced: 0, membersAdded: 0, membersDeleted: 0, setsDestroyed: 0, chainsWritten: 0, rulesWritten: 0, chainsRemoved: 0 };
  for (const { ipset, iptables } of changes) {
    out.setsCreated += ipset.create.length;
    out.setsReplaced += ipset.replace.length;
    out.membersAdded += ipset.add.length;
    for (const s of [...ipset.create, ...ipset.replace]) out.membersAdded += s.members.length;
    out.membersDeleted += ipset.del.length;
    out.setsDestroyed += ipset.destroy.length;
    out.chainsWritten += iptables.refill.length;
    for (const c of iptables.refill) out.rulesWritten += c.rules.length;
    out.chainsRemoved += iptables.remove.length;
  }
  return out;
}

/** A family with nothing desired: diffing against it removes everything of ours (cleanup, disabled family). */
export function emptyFamily(family: Family): FamilyState {
  return { family, sets: [], chains: [], podFirewalls: [], policyChains: [], builtinJumps: [] };
}

/** Changes for every planned family; `observed` must hold each planned family's observation. */
export function diff(desired: DesiredState, observed: Partial<Record<Family, ObservedFamily>>, opts: DiffOptions = {}): FamilyChanges[] {
  return desired.families.map((f) => {
    const o = observed[f.family] ?? nothingObserved();
    return diffFamily(f, o, opts);
  });
}
