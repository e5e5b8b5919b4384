// The iptables + ipset backend's door to the kernel: reads back only what we own (our chains, our jumps in
// INPUT/FORWARD/OUTPUT, our ipsets) and applies a change list as set writes (over netlink, `ipset restore`
// where there is no socket or the kernel refused), one iptables-restore --noflush per family with the
// userspace the system uses, then member removals and stale-set destruction.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inChunks, withMessage } from '../../kernel/exec.ts';
import { firstRule, iptablesRestore, iptablesTool as toolOf, saveTable, type IptablesMode, type IptablesTarget } from '../../kernel/iptables.ts';
import { ipsetRestore, ipsetScriptLines, listSetNames, saveSets, type IpsetOp } from '../../kernel/ipset.ts';
import { err, ok, type Result } from '../../result.ts';
import { typeRevisions, writeIpsetOps } from '../../kernel/ipset-netlink.ts';
import { logger } from '../../observe/log.ts';
import { metrics } from '../../observe/metrics.ts';
import { secondsSince, type NetpolExec } from './apply-exec.ts';
import { changeCounts, diff, emptyFamily, type ChangeCounts, type FamilyChanges, type ObservedFamily } from './diff.ts';
import { FAMILIES, IPV6_SET_PREFIX, isOwnedSet, type Family, TOP_CHAIN_OF } from './model.ts';
import { parseIpsetSave, type ObservedSet } from './parse-ipset-save.ts';
import { parseIptablesSave } from './parse-iptables-save.ts';
import { SetPrewriter } from './prewrite-sets.ts';
import { RuleStream } from './stream-rules.ts';
import { iptablesRestoreLines, isEmptyChange } from './render-iptables.ts';
import { ipsetChangeOps, ipsetDestroyOps, isEmptyIpsetChange } from './render-ipset.ts';

const log = logger('netpol');

export type { IptablesMode };

/** The iptables tools of one family in one mode. */
export const iptablesTarget = (mode: IptablesMode, family: Family): IptablesTarget => ({ family: family === 'ipv4' ? 4 : 6, mode });

/** The tool of that mode and family, e.g. `ip6tables-legacy-restore` (tests and the bench run them directly). */
export const iptablesTool = (mode: IptablesMode, family: Family, verb: 'save' | 'restore'): string => toolOf(iptablesTarget(mode, family), verb);

export type ObservedKernel = Partial<Record<Family, ObservedFamily>>;

/**
 * What one apply did: counts (the texts fed to the tools are streamed and never kept: at scale they are
 * hundreds of MB).
 */
export interface ApplyReport extends ChangeCounts {
  execs: number;
  /** How the set changes were written, when not by `ipset restore`. */
  ipsetVia?: 'netlink';
}

const saveMetric = { ipv4: metrics.iptablesV4SaveTime, ipv6: metrics.iptablesV6SaveTime };
const restoreMetric = { ipv4: metrics.iptablesV4RestoreTime, ipv6: metrics.iptablesV6RestoreTime };
const ipsetMetric = { ipv4: metrics.policyIpsetV4RestoreTime, ipv6: metrics.policyIpsetV6RestoreTime };

export class IptablesApplier {
  constructor(private readonly exec: NetpolExec, readonly mode: IptablesMode) {}

  /**
   * Our sets of these families only: their names from `ipset list -n` (IPv6 ones carry the inet6: prefix),
   * their content from one batch of `save` commands.
   */
  async observeSets(families: readonly Family[] = FAMILIES): Promise<Result<Map<string, ObservedSet>>> {
    const names = await listSetNames(this.exec);
    if (!names.ok) return withMessage(names);
    const ours = names.value.filter((n) => isOwnedSet(n) && families.includes(n.startsWith(IPV6_SET_PREFIX) ? 'ipv6' : 'ipv4'));
    if (ours.length === 0) return ok(new Map());
    const saved = await saveSets(this.exec, ours);
    return saved.ok ? ok(parseIpsetSave(saved.value)) : withMessage(saved);
  }

  /**
   * True when our jump is still the first rule of INPUT, FORWARD and OUTPUT in every family: a few tiny execs
   * (`-S CHAIN 1`), cheap enough to run every few seconds between full syncs.
   */
  async jumpsFirst(families: readonly Family[]): Promise<Result<boolean>> {
    for (const family of families) {
      for (const [builtin, ours] of Object.entries(TOP_CHAIN_OF)) {
        const r = await firstRule(this.exec, iptablesTarget(this.mode, family), 'filter', builtin);
        if (!r.ok) return withMessage(r);
        if (!r.value?.includes(`-j ${ours}`)) return ok(false);
      }
    }
    return ok(true);
  }

  /**
   * A writer for the new sets of a full plan while it is being made (prewrite-sets.ts), given the sets the
   * kernel has; null when this exec has no netlink sockets or the kernel would not say its set revisions.
   */
  async setPrewriter(present: ReadonlySet<string>, families: readonly Family[]): Promise<SetPrewriter | null> {
    const open = this.exec.openNetfilter;
    if (!open || !this.exec.netfilter) return null;
    try {
      const revisions = await typeRevisions(this.exec.netfilter(), families.flatMap((f) => (['hash:ip', 'hash:net'] as const).map((type) => ({ type, family: f === 'ipv4' ? 4 as const : 6 as const }))));
      return new SetPrewriter(open, present, revisions);
    } catch (e) {
      this.exec.resetNetfilter?.();
      log.debug({ err: e }, 'no set revisions from the kernel; new sets are written with the rest');
      return null;
    }
  }

  /**
   * Rule transactions to begin during a full plan, per family of the observation (stream-rules.ts). With the
   * legacy tools only the first family streams: both would wait on the one xtables lock, the second holding it
   * while we wait for the first to commit.
   */
  ruleStreams(observed: ObservedKernel, progress: () => number): Map<Family, RuleStream> {
    const families = (Object.keys(observed) as Family[]).filter((f) => FAMILIES.includes(f));
    const streaming = this.mode === 'legacy' ? families.slice(0, 1) : families;
    return new Map(streaming.map((f) => [f, new RuleStream(this.exec, iptablesTarget(this.mode, f), f, (observed[f] as ObservedFamily).iptables, progress)]));
  }

  /** Our chains, jumps and sets per family, read from the kernel. */
  async observe(families: readonly Family[]): Promise<Result<ObservedKernel>> {
    const sets = await this.observeSets(families);
    if (!sets.ok) return sets;
    const out: ObservedKernel = {};
    for (const family of families) {
      const start = process.hrtime.bigint();
      const saved = await saveTable(this.exec, iptablesTarget(this.mode, family), 'filter');
      saveMetric[family].observe(secondsSince(start));
      if (!saved.ok) return withMessage(saved);
      out[family] = { iptables: parseIptablesSave(saved.value), sets: sets.value };
    }
    return ok(out);
  }

  /**
   * Applies the changes in the one safe order; stops at the first failing step:
   * 1. sets created or refilled and members added: the rules about to be written may match on them;
   * 2. the rules (one iptables-restore --noflush per family);
   * 3. members removed: a pod moving from policy A to policy B keeps A's verdict until its chain jumps to B
   *    (removing it from A's set first would leave it matched by neither); when no rule changes, 1 and 3 are one step;
   * 4. stale sets destroyed, now that no rule references them (one write with 3).
   * `streams`: rule transactions begun during a full plan (stream-rules.ts); a started one gets the rest of its
   * family's rule change and COMMIT in step 2, and any not committed is abandoned.
   */
  async apply(changes: readonly FamilyChanges[], streams?: ReadonlyMap<Family, RuleStream>): Promise<Result<ApplyReport>> {
    try {
      return await this.applyInOrder(changes, streams);
    } finally {
      for (const stream of streams?.values() ?? []) await stream.abandon();
    }
  }

  private async applyInOrder(changes: readonly FamilyChanges[], streams?: ReadonlyMap<Family, RuleStream>): Promise<Result<ApplyReport>> {
    const report: ApplyReport = { ...changeCounts(changes), execs: 0 };
    const rulesChange = changes.some((c) => !isEmptyChange(c.iptables));
    const withoutDels = (c: FamilyChanges): FamilyChanges => ({ ...c, ipset: { ...c.ipset, del: [] } });
    const onlyDels = (c: FamilyChanges): FamilyChanges => ({ ...c, ipset: { create: [], replace: [], add: [], del: c.ipset.del, destroy: [] } });
    const early = await this.applySets(rulesChange ? changes.map(withoutDels) : changes, report);
    if (!early.ok) return early;
    for (const c of changes) {
      const stream = streams?.get(c.family);
      if (isEmptyChange(c.iptables) && !stream?.started) continue;
      const start = process.hrtime.bigint();
      report.execs++;
      // Begun during planning: the tool has most chains already; here it gets the rest and COMMIT.
      const r = stream?.started ? await stream.commit(c.iptables)
        : withMessage(await iptablesRestore(this.exec, iptablesTarget(this.mode, c.family), inChunks(iptablesRestoreLines(c.iptables))));
      restoreMetric[c.family].observe(secondsSince(start));
      if (!r.ok) return r;
    }
    if (changes.some((c) => (rulesChange && c.ipset.del.length > 0) || c.ipset.destroy.length > 0)) {
      const r = await this.writeSets(() => (function* (): Generator<IpsetOp> {
        if (rulesChange) for (const c of changes) yield* ipsetChangeOps(onlyDels(c).ipset);
        for (const c of changes) yield* ipsetDestroyOps(c.ipset);
      })(), report);
      if (!r.ok) return r;
    }
    return ok(report);
  }

  /** Set creations, refills and member changes, before the rules that may match on them. */
  private async applySets(changes: readonly FamilyChanges[], report: ApplyReport): Promise<Result<unknown>> {
    if (changes.every((c) => c.ipset.create.length + c.ipset.replace.length + c.ipset.add.length + c.ipset.del.length === 0)) return ok(null);
    const start = process.hrtime.bigint();
    const r = await this.writeSets(() => (function* () { for (const c of changes) yield* ipsetChangeOps(c.ipset); })(), report);
    const seconds = secondsSince(start);
    for (const c of changes) if (!isEmptyIpsetChange({ ...c.ipset, destroy: [] })) ipsetMetric[c.family].observe(seconds);
    return r;
  }

  /**
   * Writes set operations over netlink when this exec has a socket (no process, no text for ipset to parse,
   * the kernel's work on the addon's thread), else, or after a refusal, as one `ipset -exist restore` of the
   * same operations, which is safe after any part of them landed. `ops` is called once per attempt: the
   * operations are rendered as they are written, never held whole.
   */
  private async writeSets(ops: () => Iterable<IpsetOp>, report: ApplyReport): Promise<Result<unknown>> {
    if (this.exec.netfilter) {
      let written: Result<number>;
      try {
        written = await writeIpsetOps(this.exec.netfilter(), ops());
      } catch (e) {
        written = err(String(e));
      }
      if (written.ok) {
        if (written.value > 0) report.ipsetVia = 'netlink';
        return ok(null);
      }
      this.exec.resetNetfilter?.();
      log.info({ err: written.error }, 'ipset over netlink failed; writing the same with ipset restore');
    }
    report.execs++;
    return withMessage(await ipsetRestore(this.exec, ops()));
  }


  /**
   * Whether the kernel would take these changes, made against nothing (the whole state), tried in a throwaway
   * network namespace so nothing of the node's is touched: ipset has no dry run, and `iptables-restore
   * --test` never reaches the kernel.
   */
  async check(changes: readonly FamilyChanges[]): Promise<boolean> {
    const dir = await mkdtemp(join(tmpdir(), 'kube-router-check-'));
    try {
      const files = [join(dir, 'ipset'), ...changes.map((c) => join(dir, c.family))];
      // Streamed to the files chunk by chunk, like the real apply.
      await writeFile(files[0] as string, inChunks(ipsetScriptLines((function* () { for (const c of changes) yield* ipsetChangeOps(c.ipset); })())));
      const steps = ['ipset -exist restore -f "$1"'];
      for (const [i, c] of changes.entries()) {
        await writeFile(files[i + 1] as string, inChunks(iptablesRestoreLines(c.iptables)));
        steps.push(`${iptablesTool(this.mode, c.family, 'restore')} -w --noflush "$${i + 2}"`);
      }
      return (await this.exec.run('unshare', ['--net', '--', 'sh', '-ec', steps.join('\n'), 'check', ...files])).ok;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Removes every chain, jump and set of ours in these families (backend switch, cleanup). */
  async removeAll(families: readonly Family[]): Promise<Result<ApplyReport | null>> {
    const observed = await this.observe(families);
    if (!observed.ok) return observed;
    const changes = diff({ families: families.map(emptyFamily), rejections: [] }, observed.value);
    if (changes.every((c) => isEmptyChange(c.iptables) && isEmptyIpsetChange(c.ipset))) return ok(null);
    return this.apply(changes);
  }
}
