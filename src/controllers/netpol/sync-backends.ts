// The two ways a planned state reaches the kernel. iptables: diff against an observation (the kernel on a
// full sync, the cache of the last apply on an incremental one) and apply only the difference. nftables:
// deltas as element and chain operations; on a full sync, our tables are listed, compared with the state and
// replaced in one transaction when they differ in anything.
import { ok, type Result } from '../../kube/result.ts';
import type { IptablesApplier, ApplyReport } from './apply-iptables.ts';
import type { NftApplier } from './apply-nftables.ts';
import { diffFamily, type FamilyChanges } from './diff.ts';
import type { Family, FamilyState } from './model.ts';
import { AppliedCache } from './observe-cache.ts';
import type { Delta, PlanState } from './plan-state.ts';
import { isEmptyChange } from './render-iptables.ts';
import { isEmptyIpsetChange } from './render-ipset.ts';
import { secondsSince } from './apply-exec.ts';
import { nftTable, renderNft, renderNftDelta } from './render-nft.ts';
import { nftTableDifference, parseNftListing } from './nft-compare.ts';

export interface SyncReport {
  /** Nothing differed: no kernel write. */
  unchanged: boolean;
  /** iptables backend: what was run. */
  applied?: ApplyReport;
  /** nftables backend: the transaction run. */
  transaction?: string;
  /** Time spent reading the kernel and running the apply tools (the rest of a sync is planning and diffing). */
  observeSeconds?: number;
  applySeconds?: number;
}

export interface SyncBackend {
  readonly kind: 'iptables' | 'nftables';
  /** Re-reads the kernel and repairs any difference (adopts existing state without rewriting it). */
  full(state: PlanState): Promise<Result<SyncReport>>;
  /** Applies what a delta touched. */
  incremental(state: PlanState, delta: Delta): Promise<Result<SyncReport>>;
  /** Removes everything of ours in these families (they were enabled by an earlier run, not this one). */
  removeFamilies(families: readonly Family[]): Promise<Result<unknown>>;
  /** A cheap check between full syncs: false when something now sits in front of our rules. */
  rulesInFront?(state: PlanState): Promise<Result<boolean>>;
}

const nothing = (changes: FamilyChanges[]): boolean => changes.every((c) => isEmptyChange(c.iptables) && isEmptyIpsetChange(c.ipset));

export class IptablesSync implements SyncBackend {
  readonly kind = 'iptables';
  readonly cache = new AppliedCache();

  constructor(readonly applier: IptablesApplier) {}

  removeFamilies(families: readonly Family[]): Promise<Result<unknown>> {
    return this.applier.removeAll(families);
  }

  /** iptables chains are shared: another tool may insert above our jumps between full syncs. */
  async rulesInFront(state: PlanState): Promise<Result<boolean>> {
    const first = await this.applier.jumpsFirst(state.families);
    return first.ok ? ok(!first.value) : first;
  }

  async full(state: PlanState): Promise<Result<SyncReport>> {
    const families = state.families;
    const t0 = process.hrtime.bigint();
    const observed = await this.applier.observe(families);
    const observeSeconds = secondsSince(t0);
    if (!observed.ok) return observed;
    const desired = families.map((f) => state.familyState(f));
    const changes = desired.map((d) => diffFamily(d, observed.value[d.family] ?? { iptables: { chains: new Map(), builtinJumps: [] }, sets: new Map() }));
    if (nothing(changes)) {
      this.cache.replaceAll(desired);
      return ok({ unchanged: true, observeSeconds });
    }
    const t1 = process.hrtime.bigint();
    const r = await this.applier.apply(changes);
    if (!r.ok) {
      this.cache.invalidate();
      return r;
    }
    this.cache.replaceAll(desired);
    return ok({ unchanged: false, applied: r.value, observeSeconds, applySeconds: secondsSince(t1) });
  }

  async incremental(state: PlanState, delta: Delta): Promise<Result<SyncReport>> {
    if (!this.cache.valid) return this.full(state);
    if (delta.names.size === 0) return ok({ unchanged: true });
    const parts = state.families.map((f) => ({ family: f, desired: state.deltaState(f, delta) }));
    const changes = parts.map((p) => diffFamily(p.desired, this.cache.restricted(p.family, delta.names)));
    if (nothing(changes)) return ok({ unchanged: true });
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

export class NftSync implements SyncBackend {
  readonly kind = 'nftables';
  /** The state our tables hold, for turning a delta into element operations. */
  private readonly cache = new AppliedCache();

  constructor(readonly applier: NftApplier) {}

  removeFamilies(families: readonly Family[]): Promise<Result<unknown>> {
    return this.applier.removeAll(families);
  }

  /**
   * Lists our tables and compares them with the state, set by set and rule by rule (fingerprint comments);
   * a table that differs in anything is rewritten whole, in one transaction. An equal one is adopted as is.
   */
  async full(state: PlanState): Promise<Result<SyncReport>> {
    const t0 = process.hrtime.bigint();
    const observed = await this.applier.observe(state.families);
    if (!observed.ok) return observed;
    const observeSeconds = secondsSince(t0);
    const states = state.families.map((f) => state.familyState(f));
    const stale = states.filter((s) => {
      const text = observed.value.get(s.family);
      if (text === undefined) return true;
      try {
        return nftTableDifference(parseNftListing(text), nftTable(s)) !== null;
      } catch {
        return true;
      }
    });
    if (stale.length === 0) {
      this.cache.replaceAll(states);
      return ok({ unchanged: true, observeSeconds });
    }
    return this.write(states, stale, observeSeconds);
  }

  /** A delta becomes one transaction of set, element and chain operations on our existing tables. */
  async incremental(state: PlanState, delta: Delta): Promise<Result<SyncReport>> {
    if (!this.cache.valid) return this.full(state);
    if (delta.names.size === 0) return ok({ unchanged: true });
    const parts = state.families.map((f) => ({ family: f, desired: state.deltaState(f, delta) }));
    const changes = parts.map((p) => diffFamily(p.desired, this.cache.restricted(p.family, delta.names)));
    if (nothing(changes)) return ok({ unchanged: true });
    const texts = changes.map((c, i) => renderNftDelta(c.family, c,
      new Map((parts[i]?.desired.sets ?? []).map((s) => [s.name, s])), this.cache.restricted(c.family, delta.names).sets));
    if (texts.some((t) => t === null)) {
      const states = state.families.map((f) => state.familyState(f));
      return this.write(states, states);
    }
    const transaction = texts.join('');
    const t1 = process.hrtime.bigint();
    const r = await this.applier.apply(transaction);
    const applySeconds = secondsSince(t1);
    if (!r.ok) {
      this.cache.invalidate();
      return r;
    }
    for (const p of parts) this.cache.applyDelta(p.desired, delta.names);
    return ok({ unchanged: false, transaction, applySeconds });
  }

  /** Rewrites the `stale` families' tables in one transaction; the cache then holds every family's state. */
  private async write(states: FamilyState[], stale: FamilyState[], observeSeconds?: number): Promise<Result<SyncReport>> {
    const transaction = stale.map((s) => renderNft(s)).join('');
    const t1 = process.hrtime.bigint();
    const r = await this.applier.apply(transaction);
    const applySeconds = secondsSince(t1);
    if (!r.ok) {
      this.cache.invalidate();
      return r;
    }
    this.cache.replaceAll(states);
    return ok({ unchanged: false, transaction, applySeconds, ...(observeSeconds !== undefined ? { observeSeconds } : {}) });
  }
}
