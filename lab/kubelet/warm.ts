// Keeps a few pod agents started ahead (lab/pods pool) for all the lab's kubelets: one refill at a time, and only
// after pod starts have been quiet for a moment, so refilling never competes with a burst of pod creations.
import { logger } from '../../src/observe/log.ts';
import { keepAgentsWarm, type LabRef } from '../pods/runtime.ts';

const log = logger('lab-kubelet');

export class AgentWarmer {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly lab: LabRef, private readonly count: number, private readonly quietMs = 300) {}

  /** A pod start just happened (or the lab just came up): refill once things are quiet. */
  poke(): void {
    if (this.stopped || this.count <= 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.running.then(() => this.refill());
    }, this.quietMs);
  }

  /** Refills now and resolves when the pool is full (used once at start-up). */
  fill(): Promise<void> {
    this.running = this.running.then(() => this.refill());
    return this.running;
  }

  private async refill(): Promise<void> {
    if (this.stopped) return;
    try {
      await keepAgentsWarm(this.lab, this.count);
    } catch (e) {
      log.warn({ error: (e as Error).message }, 'could not start warm agents');
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
