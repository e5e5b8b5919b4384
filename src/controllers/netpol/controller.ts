// The network-policy controller: turns batches of cache changes into the planning work they imply, re-plans
// only that part, applies the difference with one batch per tool, repairs drift on the periodic full sync,
// and reports rejected policies once per change of the policy.
import type { NetworkPolicy } from 'kubernetes-types/networking/v1.js';
import type { Namespace, Pod } from 'kubernetes-types/core/v1.js';
import type { Result } from '../../result.ts';
import { logger } from '../../observe/log.ts';
import { metrics } from '../../observe/metrics.ts';
import type { ChangeRef, Controller, SyncOutcome } from '../runtime.ts';
import { secondsSince } from './apply-exec.ts';
import { FAMILIES, type PolicyRejection } from './model.ts';
import type { ClusterView } from './plan-view.ts';
import { PlanState, type Delta } from './plan-state.ts';
import { workFor } from './plan-work.ts';
import type { SyncBackend, SyncReport } from './sync-backends.ts';

const log = logger('netpol');

/** What the controller reads from the caches. */
export interface NetpolSource {
  /** The cluster as the caches hold it now, or an error when this node's facts are not known yet. */
  view(): Result<ClusterView>;
  pod(key: string): Pod | undefined;
  namespace(name: string): Namespace | undefined;
  policy(key: string): NetworkPolicy | undefined;
}

export interface NetpolControllerDeps {
  source: NetpolSource;
  backend: SyncBackend;
  syncPeriodMs: number;
  /** Removes the other backend's leftovers; run after our rules are in place, until it succeeds once. */
  removeOtherBackend?: () => Promise<Result<unknown>>;
  /** Reports a policy the planner rejected (log + Event + metric). */
  reject(policy: NetworkPolicy, rejection: PolicyRejection): void;
  /** Reports ipBlock CIDRs of an accepted policy that had host bits set and were normalised (a warning log line). */
  normalized?(policy: NetworkPolicy, cidrs: string[]): void;
}

/** What the last sync did (tests and the bench look at it). */
export interface LastSync {
  kind: 'full' | 'incremental';
  report: SyncReport;
  delta?: Delta;
  planSeconds: number;
  totalSeconds: number;
}

export class NetpolController implements Controller {
  readonly name = 'netpol';
  readonly syncPeriodMs: number;
  private state: PlanState | null = null;
  private otherRemoved = false;
  private disabledFamiliesChecked = false;
  /** Rejection reported per policy key, with the policy version it was reported for. */
  private readonly reported = new Map<string, string>();
  /** Host-bit normalisations reported per policy key, with the policy version they were reported for. */
  private readonly reportedNormalized = new Map<string, string>();
  lastSync: LastSync | null = null;

  readonly housekeeping?: { periodMs: number; run(): Promise<'ok' | 'resync'> };

  constructor(private readonly deps: NetpolControllerDeps) {
    this.syncPeriodMs = deps.syncPeriodMs;
    const backend = deps.backend;
    if (backend.rulesInFront) {
      const check = backend.rulesInFront.bind(backend);
      // Between full syncs, make sure nothing was inserted above our jumps (it would decide before policy).
      this.housekeeping = {
        periodMs: Math.min(10_000, deps.syncPeriodMs),
        run: async () => {
          if (!this.state) return 'ok';
          const r = await check(this.state);
          if (!r.ok) throw new Error(r.error);
          return r.value ? 'resync' : 'ok';
        },
      };
    }
  }

  async fullSync(): Promise<void> {
    const start = process.hrtime.bigint();
    const view = this.deps.source.view();
    if (!view.ok) throw new Error(view.error);
    const state = PlanState.full(view.value);
    const planSeconds = secondsSince(start);
    this.state = state;
    const r = await this.deps.backend.full(state);
    if (!r.ok) throw new Error(r.error);
    this.finish('full', r.value, start, planSeconds);
    this.reportRejections(null);
    this.reportNormalized(null);
    await this.removeDisabledFamilies(state);
    if (!this.otherRemoved && this.deps.removeOtherBackend) {
      const removed = await this.deps.removeOtherBackend();
      if (removed.ok) this.otherRemoved = true;
      else log.warn({ err: removed.error }, 'removing the other netpol backend\'s rules failed; retrying next full sync');
    }
  }

  /** Once per run: rules of a family an earlier run enforced and this one does not (--enable-ipv6 turned off). */
  private async removeDisabledFamilies(state: PlanState): Promise<void> {
    if (this.disabledFamiliesChecked) return;
    this.disabledFamiliesChecked = true;
    const off = FAMILIES.filter((f) => !state.families.includes(f));
    if (off.length === 0) return;
    const r = await this.deps.backend.removeFamilies(off);
    // A family the kernel lacks cannot hold leftovers: report and do not retry every sync.
    if (!r.ok) log.warn({ err: r.error, families: off }, 'removing netpol rules of disabled families failed');
  }

  async handleChanges(changes: ChangeRef[]): Promise<SyncOutcome> {
    const failAll = (error: unknown): SyncOutcome => ({ failed: new Map(changes.map((c) => [c.key, error])) });
    try {
      if (!this.state) {
        await this.fullSync();
        return {};
      }
      const start = process.hrtime.bigint();
      const view = this.deps.source.view();
      if (!view.ok) return failAll(view.error);
      const work = workFor(changes, view.value, this.state, this.deps.source);
      if (work.full) {
        await this.fullSync();
        return {};
      }
      const delta = this.state.update(view.value, work);
      const planSeconds = secondsSince(start);
      const r = await this.deps.backend.incremental(this.state, delta);
      if (!r.ok) return failAll(r.error);
      this.finish('incremental', r.value, start, planSeconds, delta);
      this.reportRejections(delta.policies);
      this.reportNormalized(delta.policies);
      return {};
    } catch (error) {
      // Planning is pure and total; anything thrown is a bug. Keep the loop alive and retry these keys.
      log.error({ err: error }, 'netpol sync failed');
      return failAll(error);
    }
  }

  private finish(kind: LastSync['kind'], report: SyncReport, start: bigint, planSeconds: number, delta?: Delta): void {
    const totalSeconds = secondsSince(start);
    metrics.policyChainsSyncTime.observe(planSeconds);
    metrics.iptablesSyncTime.observe(totalSeconds);
    this.lastSync = { kind, report, planSeconds, totalSeconds, ...(delta ? { delta } : {}) };
    if (this.state) {
      let chains = 0;
      let sets = 0;
      for (const entry of this.state.policies.values()) {
        for (const part of Object.values(entry.families)) {
          chains += part.chains.length;
          sets += part.sets.length;
        }
      }
      metrics.policyChains.set(chains);
      metrics.policyIpsets.set(sets);
    }
  }

  /** Reports each rejected policy once per version; `only` limits the check to re-planned policies. */
  private reportRejections(only: ReadonlySet<string> | null): void {
    if (!this.state) return;
    const rejections = this.state.rejections();
    const keys = only ?? new Set([...rejections.keys(), ...this.reported.keys()]);
    for (const key of keys) {
      const rejection = rejections.get(key);
      const policy = this.deps.source.policy(key);
      if (!rejection || !policy) {
        this.reported.delete(key);
        continue;
      }
      const version = `${policy.metadata?.uid ?? ''}/${policy.metadata?.generation ?? JSON.stringify(policy.spec ?? {})}/${rejection.field}/${rejection.message}`;
      if (this.reported.get(key) === version) continue;
      this.reported.set(key, version);
      this.deps.reject(policy, rejection);
    }
  }

  /** Reports each policy's host-bit normalisations once per version, like reportRejections. */
  private reportNormalized(only: ReadonlySet<string> | null): void {
    if (!this.state || !this.deps.normalized) return;
    const normalized = this.state.normalizedCidrs();
    const keys = only ?? new Set([...normalized.keys(), ...this.reportedNormalized.keys()]);
    for (const key of keys) {
      const cidrs = normalized.get(key);
      const policy = this.deps.source.policy(key);
      if (!cidrs || !policy) {
        this.reportedNormalized.delete(key);
        continue;
      }
      const version = `${policy.metadata?.uid ?? ''}/${policy.metadata?.generation ?? JSON.stringify(policy.spec ?? {})}/${cidrs.join(';')}`;
      if (this.reportedNormalized.get(key) === version) continue;
      this.reportedNormalized.set(key, version);
      this.deps.normalized(policy, cidrs);
    }
  }
}
