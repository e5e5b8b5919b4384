// The loop every controller runs in: coalesced change notifications naming what changed, a periodic full
// reconcile, a heartbeat that proves the loop is alive, and per-object error containment with backoff.
import type { ClusterChange } from '../kube/cluster-cache.ts';
import { logger } from '../observe/log.ts';
import { metrics } from '../observe/metrics.ts';
import type { HealthRegistry } from '../observe/health.ts';

/** What changed, e.g. { kind: 'Pod', key: 'default/web-1' }. */
export interface ChangeRef {
  kind: string;
  key: string;
}

export interface SyncOutcome {
  /** Objects whose handling failed; they are retried with backoff, the rest are done. */
  failed?: Map<string, unknown>;
}

export interface Controller {
  readonly name: string;
  /** Full reconcile period (the controller's --*-sync-period). */
  readonly syncPeriodMs: number;
  /** Handles a coalesced batch of changes. Throwing fails the whole batch (all retried). */
  handleChanges(changes: ChangeRef[]): Promise<SyncOutcome | void>;
  /** Re-plans everything and repairs drift. */
  fullSync(): Promise<void>;
  /**
   * A cheap check run every `periodMs` while the loop is idle; returning 'resync' requests a full sync (e.g. a
   * foreign rule now sits in front of ours). Failures are logged and counted, never fatal.
   */
  readonly housekeeping?: { periodMs: number; run(): Promise<'ok' | 'resync'> };
}

/** What each controller's factory hands the daemon: the loop to run, its change filter and its shutdown. */
export interface RunningController {
  controller: Controller;
  /** True if the change concerns this controller (cheap; runs for every cache event). */
  wants(change: ClusterChange): boolean;
  /** Called once the loop has stopped; kernel state is left in place. */
  shutdown?(): Promise<void>;
}

export interface RuntimeOptions {
  health?: HealthRegistry;
  /** The loop wakes at least this often to beat even when idle. */
  heartbeatMs?: number;
  /** Quiet time to wait for more changes before handling a burst (coalescing). */
  coalesceMs?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Shared by the daemon's runners: their first full syncs take turns. */
  firstSyncTurns?: FirstSyncTurns;
}

/**
 * Turns for the controllers' first full syncs. At start-up each writes its whole state, and on a small node
 * they would compete for the same cores and kernel locks: each takes longer and none finishes sooner. So the
 * first syncs run one after another, in the order the runners start. A turn ends when its sync does (well
 * or not), or after `maxHoldMs`, so one slow controller holds the others back for that long at most.
 */
export class FirstSyncTurns {
  private tail: Promise<void> = Promise.resolve();

  constructor(private readonly maxHoldMs = 30_000) {}

  /** Waits for the turns taken before this one; resolves to the function that ends this turn. */
  take(): Promise<() => void> {
    const before = this.tail;
    let end!: () => void;
    this.tail = new Promise<void>((resolve) => (end = resolve));
    return before.then(() => {
      const timer = setTimeout(end, this.maxHoldMs);
      timer.unref();
      return () => {
        clearTimeout(timer);
        end();
      };
    });
  }
}

const refId = (c: ChangeRef): string => `${c.kind}:${c.key}`;

/** Runs one controller: call `notify` from cache events, `start` once, `stop` on shutdown. */
export class ControllerRunner {
  private readonly pending = new Map<string, ChangeRef>();
  private readonly retries = new Map<string, { ref: ChangeRef; attempt: number; due: number }>();
  private wake: (() => void) | null = null;
  private stopped = false;
  private fullSyncDue = true;
  private fullSyncFailures = 0;
  private loopDone: Promise<void> | null = null;
  private readonly log;
  private readonly heartbeatMs: number;
  private readonly coalesceMs: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;

  constructor(private readonly controller: Controller, private readonly opts: RuntimeOptions = {}) {
    this.log = logger(controller.name);
    this.heartbeatMs = opts.heartbeatMs ?? 5_000;
    this.coalesceMs = opts.coalesceMs ?? 5;
    this.retryBaseMs = opts.retryBaseMs ?? 200;
    this.retryMaxMs = opts.retryMaxMs ?? 60_000;
  }

  notify(change: ChangeRef): void {
    this.pending.set(refId(change), change);
    this.wake?.();
  }

  /** Requests a full reconcile as soon as possible (e.g. after the BGP daemon restarted). */
  requestFullSync(): void {
    this.fullSyncDue = true;
    this.wake?.();
  }

  start(): void {
    // A loop iteration may take a full sync's time; the allowance covers one period plus slack.
    this.opts.health?.register(this.controller.name, this.controller.syncPeriodMs + this.heartbeatMs * 3 + 60_000);
    this.loopDone = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loopDone;
    this.opts.health?.unregister(this.controller.name);
  }

  /** Sleeps; `interruptible` sleeps end early on a notification (coalescing sleeps do not). */
  private sleep(ms: number, interruptible = true): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      const self = this;
      function done(): void {
        clearTimeout(t);
        if (self.wake === done) self.wake = null;
        resolve();
      }
      if (interruptible) this.wake = done;
    });
  }

  private async loop(): Promise<void> {
    // Taken before the first await: the turns go in the order the runners start.
    let firstTurn = this.opts.firstSyncTurns?.take();
    let nextFull = Date.now();
    const housekeeping = this.controller.housekeeping;
    let nextHousekeeping = housekeeping ? Date.now() + housekeeping.periodMs : Infinity;
    while (!this.stopped) {
      this.opts.health?.beat(this.controller.name);
      const now = Date.now();
      if (this.fullSyncDue || now >= nextFull) {
        this.fullSyncDue = false;
        const endTurn = await firstTurn;
        firstTurn = undefined;
        let ok = false;
        try {
          if (!this.stopped) ok = await this.runFullSync();
        } finally {
          endTurn?.();
        }
        this.fullSyncFailures = ok ? 0 : this.fullSyncFailures + 1;
        // A failed full sync is retried with backoff rather than after a whole period.
        nextFull = Date.now() + (ok ? this.controller.syncPeriodMs : this.backoff(this.fullSyncFailures));
        continue;
      }
      this.promoteDueRetries(now);
      if (this.pending.size > 0) {
        if (this.coalesceMs > 0) await this.sleep(this.coalesceMs, false);
        await this.runChanges();
        continue;
      }
      if (housekeeping && now >= nextHousekeeping) {
        nextHousekeeping = now + housekeeping.periodMs;
        await this.runHousekeeping(housekeeping);
        continue;
      }
      const nextRetry = Math.min(...[...this.retries.values()].map((r) => r.due), Infinity);
      await this.sleep(Math.max(1, Math.min(this.heartbeatMs, nextFull - now, nextRetry - now, nextHousekeeping - now)));
    }
    // Stopped before its first sync: the turn, once it comes, is passed on at once.
    void firstTurn?.then((end) => end());
  }

  private async runHousekeeping(housekeeping: NonNullable<Controller['housekeeping']>): Promise<void> {
    try {
      if ((await housekeeping.run()) === 'resync') {
        this.log.warn('housekeeping found drift; running a full sync');
        this.fullSyncDue = true;
      }
    } catch (err) {
      metrics.controllerErrors.inc({ controller: this.controller.name });
      this.log.warn({ err }, 'housekeeping check failed');
    }
  }

  private promoteDueRetries(now: number): void {
    for (const [id, r] of this.retries) {
      if (r.due <= now && !this.pending.has(id)) this.pending.set(id, r.ref);
    }
  }

  private async runFullSync(): Promise<boolean> {
    const name = this.controller.name;
    // A full sync covers every pending change and retry.
    this.pending.clear();
    this.retries.clear();
    try {
      await this.controller.fullSync();
      metrics.controllerSyncs.inc({ controller: name, kind: 'full', result: 'ok' });
      this.opts.health?.recordSync(name, true);
      return true;
    } catch (err) {
      metrics.controllerSyncs.inc({ controller: name, kind: 'full', result: 'error' });
      metrics.controllerErrors.inc({ controller: name });
      this.opts.health?.recordSync(name, false, err);
      this.log.error({ err }, 'full sync failed; retrying');
      return false;
    }
  }

  private async runChanges(): Promise<void> {
    const name = this.controller.name;
    const batch = [...this.pending.values()];
    this.pending.clear();
    let failed: Map<string, unknown>;
    try {
      const outcome = await this.controller.handleChanges(batch);
      failed = outcome?.failed ?? new Map();
    } catch (err) {
      failed = new Map(batch.map((c) => [c.key, err]));
    }
    for (const ref of batch) {
      const id = refId(ref);
      const err = failed.get(ref.key);
      if (err === undefined) {
        this.retries.delete(id);
        continue;
      }
      const attempt = (this.retries.get(id)?.attempt ?? 0) + 1;
      this.retries.set(id, { ref, attempt, due: Date.now() + this.backoff(attempt) });
      metrics.controllerErrors.inc({ controller: name });
      this.log.warn({ err, kind: ref.kind, key: ref.key, attempt }, 'handling change failed; will retry');
    }
    const ok = failed.size === 0;
    metrics.controllerSyncs.inc({ controller: name, kind: 'incremental', result: ok ? 'ok' : 'error' });
    this.opts.health?.recordSync(name, ok, ok ? undefined : [...failed.values()][0]);
  }

  private backoff(attempt: number): number {
    const base = Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** (attempt - 1));
    return base / 2 + Math.random() * (base / 2);
  }
}
