// A full sync's rule transaction begun while the plan is still being made. iptables-restore --noflush starts
// once a policy chain that differs from the kernel has its sets in, and is handed each such chain as soon as
// the sets its rules match on are in the kernel (prewrite-sets.ts says so synchronously): the tool looks every
// set up as it parses a rule — at 50k pods most of its time — and that now overlaps planning, on the other
// core. Nothing takes effect before COMMIT, which follows the rest of the change once the plan is done and the
// remaining sets are written; an abandoned stream is closed without COMMIT, and the tool then exits leaving the
// kernel as it was.
import { StreamedInput, inChunks, withMessage } from '../../kernel/exec.ts';
import { iptablesRestore } from '../../kernel/iptables.ts';
import type { Exec } from '../../kernel/exec.ts';
import type { IptablesTarget } from '../../kernel/iptables.ts';
import type { Result } from '../../result.ts';
import { chainRefill } from './diff.ts';
import type { ChainSpec, Family } from './model.ts';
import type { ObservedIptables } from './parse-iptables-save.ts';
import type { SetsReady } from './prewrite-sets.ts';
import { chainRefillLines, iptablesRestoreLines, type IptablesChanges } from './render-iptables.ts';

/** Lines are handed over in pieces of about this size (a write each): the tool never waits long for the next. */
const PUSH_BYTES = 16 * 1024;

interface Waiting {
  refills: IptablesChanges['refill'];
  ready: SetsReady;
}

export class RuleStream {
  private input: StreamedInput | null = null;
  private result: Promise<Result<void>> | null = null;
  private waiting: Waiting[] = [];
  /** Chains already handed to the tool: the rest of the change leaves them out. */
  readonly streamed = new Set<string>();

  private progressSeen = 0;
  private pending: string[] = [];
  private pendingBytes = 0;

  /**
   * `progress`: a count that grows whenever sets may have become ready (the prewriter's settled windows):
   * waiting chains are looked at again only then.
   */
  constructor(private readonly exec: Exec, private readonly target: IptablesTarget, private readonly family: Family,
    private readonly observed: ObservedIptables, private readonly progress: () => number) {}

  /** Whether the tool was started (some chain differed from the kernel and its sets were in). */
  get started(): boolean {
    return this.input !== null;
  }

  /** A policy's chains just planned, with the readiness of the sets they match on. */
  offer(chains: readonly ChainSpec[], ready: SetsReady): void {
    const refills: IptablesChanges['refill'] = [];
    for (const chain of chains) {
      const refill = chainRefill(chain, this.observed);
      if (refill) refills.push(refill);
    }
    if (refills.length > 0) {
      const now = ready();
      if (now === true) this.write(refills);
      else if (now === undefined) this.waiting.push({ refills, ready });
    }
    this.releaseOnProgress();
  }

  /** release(), when sets may have become ready since the last look. */
  releaseOnProgress(): void {
    const progress = this.progress();
    if (progress !== this.progressSeen) {
      this.progressSeen = progress;
      this.release();
      this.flush();
    }
  }

  /**
   * Hands over every waiting chain whose sets are now in. One whose sets will not be written early stays out:
   * it goes with the rest of the change, after the apply wrote its sets.
   */
  private release(): void {
    const still: Waiting[] = [];
    for (const w of this.waiting) {
      const ready = w.ready();
      if (ready === true) this.write(w.refills);
      else if (ready === undefined) still.push(w);
    }
    this.waiting = still;
  }

  private write(refills: IptablesChanges['refill']): void {
    if (!this.input) {
      this.input = new StreamedInput();
      this.input.push('*filter\n');
      this.result = iptablesRestore(this.exec, this.target, this.input).then(withMessage);
    }
    for (const refill of refills) {
      for (const line of chainRefillLines(refill, this.family)) {
        this.pending.push(line);
        this.pendingBytes += line.length + 1;
      }
      this.streamed.add(refill.name);
    }
    if (this.pendingBytes >= PUSH_BYTES) this.flush();
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    this.input?.push(`${this.pending.join('\n')}\n`);
    this.pending = [];
    this.pendingBytes = 0;
  }

  /**
   * The plan is made and every early set write settled: hands over what became ready since the last offer; the
   * chains still waiting go with the rest of the change (the apply writes their sets before commit()).
   */
  settle(): void {
    this.release();
    this.flush();
    this.waiting = [];
  }

  /** Sends the rest of the change (without the chains streamed) and COMMIT; the tool's outcome. */
  async commit(rest: IptablesChanges): Promise<Result<void>> {
    if (!this.input || !this.result) throw new Error('commit of a rule stream that never started');
    this.flush();
    const remaining = { ...rest, refill: rest.refill.filter((r) => !this.streamed.has(r.name)) };
    await this.input.pushAll(inChunks(iptablesRestoreLines(remaining, true)));
    this.input.end();
    return this.result;
  }

  /** Ends the input without COMMIT (the sync gave up): the tool exits non-zero and nothing it parsed applies. */
  async abandon(): Promise<void> {
    if (!this.input || !this.result) return;
    this.input.end();
    await this.result;
  }
}
