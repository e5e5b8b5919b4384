// The nftables backend's sync: deltas as nf_tables element batches (membership changes) or one `nft -f`
// transaction of set, element and chain operations; on a full sync our tables are listed, compared with the
// state (sets by element, rules by fingerprint comment) and replaced in one transaction if they differ at all.
import type { SetElementChange } from '../../kernel/netlink/nftables.ts';
import { NFPROTO_IPV4, NFPROTO_IPV6 } from '../../kernel/netlink/nfnetlink.ts';
import { inChunks, withMessage } from '../../kernel/exec.ts';
import { err, ok, type Result } from '../../result.ts';
import { logger } from '../../observe/log.ts';
import { secondsSince } from './apply-exec.ts';
import type { NftApplier } from './apply-nftables.ts';
import { changeCounts, diffFamily, nothingObserved, type FamilyChanges } from './diff.ts';
import type { Family, FamilyState } from './model.ts';
import { nftTableDifference, parseNftListing } from './nft-compare.ts';
import { AppliedCache } from './observe-cache.ts';
import type { Delta, PlanState } from './plan-state.ts';
import { nftLines, nftSetName, nftTable, nftTableName, renderNftDelta } from './render-nft.ts';
import { deltaChanges, type SyncBackend, type SyncReport } from './sync-backends.ts';

const log = logger('netpol');

/** The delta as element operations on plain address sets, or null when it is more than that. */
function elementChanges(changes: readonly FamilyChanges[], desired: readonly FamilyState[]): SetElementChange[] | null {
  const out: SetElementChange[] = [];
  for (const [i, c] of changes.entries()) {
    const { iptables, ipset } = c;
    if (iptables.refill.length + iptables.remove.length + iptables.insertBuiltin.length + iptables.deleteBuiltin.length > 0) return null;
    if (ipset.create.length + ipset.replace.length + ipset.destroy.length > 0) return null;
    const plain = new Set((desired[i]?.sets ?? []).filter((s) => s.type === 'hash:ip').map((s) => s.name));
    const ops = [...ipset.del.map((d) => ({ ...d, op: 'delete' as const })), ...ipset.add.map((a) => ({ ...a, op: 'add' as const }))];
    if (ops.some((o) => o.member.nomatch || !plain.has(o.set))) return null;
    const family = c.family === 'ipv4' ? NFPROTO_IPV4 : NFPROTO_IPV6;
    const grouped = new Map<string, SetElementChange>();
    for (const o of ops) {
      const key = `${o.op} ${o.set}`;
      let g = grouped.get(key);
      if (!g) grouped.set(key, (g = { family, table: nftTableName(c.family), set: nftSetName(o.set), op: o.op, addresses: [] }));
      g.addresses.push(o.member.entry);
    }
    out.push(...grouped.values());
  }
  return out;
}

/** The whole-table transaction of these states, rendered chunk by chunk as nft reads it. */
const tableChunks = (states: readonly FamilyState[]): Iterable<string> =>
  inChunks((function* () { for (const st of states) yield* nftLines(st); })());

export class NftSync implements SyncBackend {
  readonly kind = 'nftables';
  /** The state our tables hold, for turning a delta into element operations. */
  private readonly cache = new AppliedCache();

  constructor(readonly applier: NftApplier) {}

  async removeFamilies(families: readonly Family[]): Promise<Result<unknown>> {
    return withMessage(await this.applier.removeAll(families));
  }

  check(state: PlanState): Promise<boolean> {
    return this.applier.check(tableChunks(state.families.map((f) => state.familyState(f))));
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
    const d = deltaChanges(state, delta, this.cache);
    if (!d) return ok({ unchanged: true });
    const { parts, changes } = d;
    const texts = changes.map((c, i) => renderNftDelta(c.family, c,
      new Map((parts[i]?.desired.sets ?? []).map((s) => [s.name, s])), this.cache.restricted(c.family, delta.names).sets));
    if (texts.some((t) => t === null)) {
      const states = state.families.map((f) => state.familyState(f));
      return this.write(states, states);
    }
    const transaction = texts.join('');
    const t1 = process.hrtime.bigint();
    const elements = elementChanges(changes, parts.map((p) => p.desired));
    // Membership only (a pod came, went or changed labels): straight to the kernel; nft -f if that fails.
    let via: SyncReport['via'] = 'nft';
    let r: Result<unknown> = err('not tried');
    if (elements) {
      r = await this.applier.applyElements(elements);
      if (r.ok) via = 'netlink';
      else log.debug({ err: r.error }, 'nf_tables element batch failed; applying the delta with nft -f');
    }
    if (!r.ok) r = await this.applier.apply(transaction);
    const applySeconds = secondsSince(t1);
    if (!r.ok) {
      this.cache.invalidate();
      return r;
    }
    for (const p of parts) this.cache.applyDelta(p.desired, delta.names);
    return ok({ unchanged: false, counts: changeCounts(changes), rewrite: false, applySeconds, via });
  }

  /** Rewrites the `stale` families' tables in one transaction; the cache then holds every family's state. */
  private async write(states: FamilyState[], stale: FamilyState[], observeSeconds?: number): Promise<Result<SyncReport>> {
    const t1 = process.hrtime.bigint();
    const r = await this.applier.apply(tableChunks(stale));
    const applySeconds = secondsSince(t1);
    if (!r.ok) {
      this.cache.invalidate();
      return r;
    }
    this.cache.replaceAll(states);
    const counts = changeCounts(stale.map((st) => diffFamily(st, nothingObserved())));
    return ok({ unchanged: false, counts, rewrite: true, applySeconds, ...(observeSeconds !== undefined ? { observeSeconds } : {}) });
  }
}
