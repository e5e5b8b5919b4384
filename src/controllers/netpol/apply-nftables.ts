// The nftables backend's door to the kernel: reads back only our tables (kube-router-filter-ipv4/-ipv6) and
// applies a whole sync as ONE `nft -f` transaction, so the old ruleset is replaced atomically with no window
// in which base chains are empty or missing.
import { withMessage, type ExecError } from '../../kernel/exec.ts';
import { nftApply, nftCheck, nftListTable } from '../../kernel/nft.ts';
import { err, ok, type Result } from '../../result.ts';
import { batchBegin, batchEnd, setElementMessage, type SetElementChange } from '../../kernel/netlink/nftables.ts';
import { metrics } from '../../observe/metrics.ts';
import { secondsSince, type NetpolExec } from './apply-exec.ts';
import type { Family } from './model.ts';
import { nftFamily, nftTableName, renderNftDelete } from './render-nft.ts';

// One nfnetlink datagram carries a whole element batch; bigger deltas go through nft -f.
const MAX_ELEMENT_BATCH_BYTES = 128 * 1024;

export class NftApplier {
  constructor(private readonly exec: NetpolExec) {}

  /**
   * Element additions and deletions on existing plain sets, as one nfnetlink batch (all or nothing) on our
   * own socket: about a millisecond, where `nft -f` first reads the whole ruleset (tens of ms for a big one).
   * An error (e.g. a set that is gone) leaves the tables as they were.
   */
  async applyElements(changes: readonly SetElementChange[]): Promise<Result<void>> {
    const messages = changes.filter((c) => c.addresses.length > 0).map(setElementMessage);
    if (messages.length === 0) return ok(undefined);
    if (messages.reduce((n, m) => n + m.payload.length + 16, 0) > MAX_ELEMENT_BATCH_BYTES) return err('element batch too big for one datagram');
    if (!this.exec.netfilter) return err('no netlink socket for this exec');
    try {
      const socket = this.exec.netfilter();
      const start = process.hrtime.bigint();
      const r = await socket.wrappedBatch(batchBegin(), messages, batchEnd());
      metrics.iptablesV4RestoreTime.observe(secondsSince(start));
      return r.errors.length === 0 ? ok(undefined) : err(`nf_tables element batch refused: ${r.errors.map((e) => e.message).join('; ')}`);
    } catch (e) {
      // A timed-out batch may or may not have landed: the socket is dropped and the caller re-reads the kernel.
      this.exec.resetNetfilter?.();
      return err(`nf_tables element batch: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /**
   * Our tables as `nft -j` JSON text per family (absent tables are missing from the map). Listed one table at
   * a time: nft fetches the whole ruleset for `list tables`, which costs as much as listing a big table.
   */
  async observe(families: readonly Family[]): Promise<Result<Map<Family, string>>> {
    const out = new Map<Family, string>();
    for (const f of families) {
      const start = process.hrtime.bigint();
      const r = await nftListTable(this.exec, nftFamily(f), nftTableName(f), 'json');
      (f === 'ipv4' ? metrics.iptablesV4SaveTime : metrics.iptablesV6SaveTime).observe(secondsSince(start));
      if (!r.ok) return withMessage(r);
      if (r.value !== undefined) out.set(f, r.value);
    }
    return ok(out);
  }

  /** Runs one transaction (all families' text concatenated). */
  async apply(transaction: string | Iterable<string>): Promise<Result<void>> {
    const start = process.hrtime.bigint();
    const r = await nftApply(this.exec, transaction);
    metrics.iptablesV4RestoreTime.observe(secondsSince(start));
    return withMessage(r);
  }

  /** Whether the kernel would take this transaction (`nft -c`: validated in the kernel, never committed). */
  async check(transaction: string | Iterable<string>): Promise<boolean> {
    return (await nftCheck(this.exec, transaction)).ok;
  }

  /**
   * Deletes those of our tables of these families that exist, in one transaction (backend switch, disabled
   * family, cleanup); nothing is written when none exists. Each is probed by name: nft answers fast for an
   * absent table, while `list tables` would fetch the whole ruleset. The error is typed: without an nft
   * binary (tool-not-found) no table of ours can exist.
   */
  async removeAll(families: readonly Family[]): Promise<Result<boolean, ExecError>> {
    const present: Family[] = [];
    for (const f of families) {
      const r = await nftListTable(this.exec, nftFamily(f), nftTableName(f));
      if (!r.ok) return r;
      if (r.value !== undefined) present.push(f);
    }
    if (present.length === 0) return ok(false);
    const r = await nftApply(this.exec, present.map(renderNftDelete).join(''));
    return r.ok ? ok(true) : r;
  }
}
