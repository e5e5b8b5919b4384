// The two ways a planned state reaches the kernel. iptables: diff against an observation (the kernel on a
// full sync, the cache of the last apply on an incremental one) and apply only the difference. The nftables
// one is in sync-nft.ts.
import { ok, type Result } from '../../result.ts';
import type { IptablesApplier, ApplyReport, ObservedKernel } from './apply-iptables.ts';
import { changeCounts, diffFamily, nothingObserved, type ChangeCounts, type FamilyChanges, type ObservedFamily } from './diff.ts';

import type { ChainSpec, Family, FamilyState, SetSpec } from './model.ts';
import type { ObservedSet } from './parse-ipset-save.ts';
import { AppliedCache } from './observe-cache.ts';
import type { Delta, PlanState } from './plan-state.ts';
import { isEmptyChange } from './render-iptables.ts';
import { isEmptyIpsetChange } from './render-ipset.ts';
import { secondsSince } from './apply-exec.ts';
import type { RuleStream } from './stream-rules.ts';

export interface SyncReport {
  /** Nothing differed: no kernel write. */
  unchanged: boolean;
  /** iptables backend: what was run. */
  applied?: ApplyReport;
  /** nftables backend: what the write changed (counts only: the transaction text is streamed, not kept). */
  counts?: ChangeCounts;
  /** nftables backend: the write replaced whole tables (a full sync, or a delta nft cannot express). */
  rewrite?: boolean;
  /** nftables backend: how a delta was applied (an nft -f transaction, or an nf_tables element batch). */
  via?: 'nft' | 'netlink';
  /** Time spent reading the kernel and running the apply tools (the rest of a sync is planning and diffing). */
  observeSeconds?: number;
  applySeconds?: number;
}

/**
 * A full sync begun before its plan: the kernel read, and a hook that hears each policy's part as it is
 * planned (the iptables backend writes the new sets meanwhile and streams the chains whose sets are in).
 */
export interface FullStart {
  observed: ObservedKernel;
  observeSeconds: number;
  onPlanned?: (family: Family, part: PlannedPart) => void;
  /** Waits for the early writes: the sets the kernel now has as planned. */
  written?: () => Promise<SetSpec[]>;
  /** Rule transactions begun while planning, per family (committed by the apply). */
  streams?: ReadonlyMap<Family, RuleStream>;
  /** The plan failed: closes what was begun, applying nothing. */
  abandon?: () => Promise<void>;
}

/** One policy's planned chains and sets in one family. */
export interface PlannedPart {
  chains: readonly ChainSpec[];
  sets: readonly SetSpec[];
}

export interface SyncBackend {
  readonly kind: 'iptables' | 'nftables';
  /** Reads the kernel before a full plan is made (optional: backends without it read it in full()). */
  beginFull?(families: readonly Family[]): Promise<Result<FullStart>>;
  /**
   * Re-reads the kernel (or takes what beginFull read) and repairs any difference (adopts existing state
   * without rewriting it).
   */
  full(state: PlanState, start?: FullStart): Promise<Result<SyncReport>>;
  /** Applies what a delta touched. */
  incremental(state: PlanState, delta: Delta): Promise<Result<SyncReport>>;
  /** Removes everything of ours in these families (they were enabled by an earlier run, not this one). */
  removeFamilies(families: readonly Family[]): Promise<Result<unknown>>;
  /**
   * Whether the kernel would take the whole state, asked without changing anything of ours (used to find
   * which object's part a refused transaction failed on).
   */
  check(state: PlanState): Promise<boolean>;
  /** A cheap check between full syncs: false when something now sits in front of our rules. */
  rulesInFront?(state: PlanState): Promise<Result<boolean>>;
}

/** What a delta changes against the cache of the last apply, per family; null when nothing. */
export function deltaChanges(state: PlanState, delta: Delta, cache: AppliedCache): { parts: { family: Family; desired: FamilyState }[]; changes: FamilyChanges[] } | null {
  if (delta.names.size === 0) return null;
  const parts = state.families.map((f) => ({ family: f, desired: state.deltaState(f, delta) }));
  const changes = parts.map((p) => diffFamily(p.desired, cache.restricted(p.family, delta.names)));
  return nothing(changes) ? null : { parts, changes };
}

/** What an empty kernel would need: the whole state. */
export const fromNothing = (state: PlanState): FamilyChanges[] =>
  state.families.map((f) => diffFamily(state.familyState(f), nothingObserved()));

/** The observation with sets written early added, as the kernel now has them. */
function withSets(observed: ObservedKernel, sets: readonly SetSpec[]): ObservedKernel {
  const out: ObservedKernel = {};
  const merged = new Map<string, ObservedSet>();
  for (const o of Object.values(observed)) for (const [name, set] of o.sets) merged.set(name, set);
  for (const set of sets) merged.set(set.name, { ...set, foreignOptions: false });
  for (const [family, o] of Object.entries(observed) as [Family, ObservedFamily][]) out[family] = { iptables: o.iptables, sets: merged };
  return out;
}

/** The report of an apply with the sets written early counted in. */
function withEarly(report: ApplyReport, early: readonly SetSpec[]): ApplyReport {
  if (early.length === 0) return report;
  let members = 0;
  for (const set of early) members += set.members.length;
  return { ...report, setsCreated: report.setsCreated + early.length, membersAdded: report.membersAdded + members, ipsetVia: 'netlink' };
}

const nothing = (changes: FamilyChanges[]): boolean => changes.every((c) => isEmptyChange(c.iptables) && isEmptyIpsetChange(c.ipset));

export class IptablesSync implements SyncBackend {
  readonly kind = 'iptables';
  readonly cache = new AppliedCache();

  constructor(readonly applier: IptablesApplier) {}

  removeFamilies(families: readonly Family[]): Promise<Result<unknown>> {
    return this.applier.removeAll(families);
  }

  check(state: PlanState): Promise<boolean> {
    return this.applier.check(fromNothing(state));
  }

  /** iptables chains are shared: another tool may insert above our jumps between full syncs. */
  async rulesInFront(state: PlanState): Promise<Result<boolean>> {
    const first = await this.applier.jumpsFirst(state.families);
    return first.ok ? ok(!first.value) : first;
  }

  async beginFull(families: readonly Family[]): Promise<Result<FullStart>> {
    const t0 = process.hrtime.bigint();
    const observed = await this.applier.observe(families);
    if (!observed.ok) return observed;
    const present = new Set(Object.values(observed.value).flatMap((o) => [...o.sets.keys()]));
    const prewriter = await this.applier.setPrewriter(present, families);
    const start: FullStart = { observed: observed.value, observeSeconds: secondsSince(t0) };
    if (prewriter) {
      const streams = this.applier.ruleStreams(observed.value, () => prewriter.settledWindows());
      start.onPlanned = (family, part) => {
        const ready = prewriter.offer(part.sets);
        streams.get(family)?.offer(part.chains, ready);
      };
      // After planning, the windows still to settle free more chains for the tool as each one does.
      start.written = () => prewriter.finish(() => { for (const stream of streams.values()) stream.releaseOnProgress(); });
      start.streams = streams;
      start.abandon = async () => {
        await prewriter.finish();
        for (const stream of streams.values()) await stream.abandon();
      };
    }
    return ok(start);
  }

  async full(state: PlanState, start?: FullStart): Promise<Result<SyncReport>> {
    const families = state.families;
    // Worked out while the kernel may still be taking the early set writes.
    const desired = families.map((f) => state.familyState(f));
    let observed: ObservedKernel;
    let observeSeconds: number;
    let early: SetSpec[] = [];
    if (start) {
      ({ observed, observeSeconds } = start);
      early = (await start.written?.()) ?? [];
      for (const stream of start.streams?.values() ?? []) stream.settle();
      if (early.length > 0) observed = withSets(observed, early);
    } else {
      const t0 = process.hrtime.bigint();
      const read = await this.applier.observe(families);
      observeSeconds = secondsSince(t0);
      if (!read.ok) return read;
      observed = read.value;
    }
    const changes = desired.map((d) => diffFamily(d, observed[d.family] ?? nothingObserved()));
    if (nothing(changes)) {
      await start?.abandon?.();
      this.cache.replaceAll(desired);
      return ok(early.length === 0 ? { unchanged: true, observeSeconds } : { unchanged: false, applied: withEarly({ ...changeCounts([]), execs: 0 }, early), observeSeconds });
    }
    const t1 = process.hrtime.bigint();
    const r = await this.applier.apply(changes, start?.streams);
    if (!r.ok) {
      this.cache.invalidate();
      return r;
    }
    this.cache.replaceAll(desired);
    return ok({ unchanged: false, applied: withEarly(r.value, early), observeSeconds, applySeconds: secondsSince(t1) });
  }

  async incremental(state: PlanState, delta: Delta): Promise<Result<SyncReport>> {
    if (!this.cache.valid) return this.full(state);
    const d = deltaChanges(state, delta, this.cache);
    if (!d) return ok({ unchanged: true });
    const { parts, changes } = d;
    const t1 = process.hrtime.bigint();
    const r = await this.applier.apply(changes);
    const applySeconds = secondsSince(t1);
    if (!r.ok) {
      // Part of the batch may have landed: the next sync re-reads the kernel.
      this.cache.invalidate();
      return r;
    }
    for (const p of parts) this.cache.applyDelta(p.desired, delta.names);
    return ok({ unchanged: false, applied: r.value, applySeconds });
  }
}
