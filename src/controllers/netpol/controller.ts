// The network-policy controller: turns batches of cache changes into the planning work they imply, re-plans
// only that part, applies the difference with one batch per tool, repairs drift on the periodic full sync,
// reports rejected policies once per change of the policy, and quarantines (fails closed for) any pod or
// policy whose part of the ruleset the kernel refuses, so one such object never stalls the node.
import type { NetworkPolicy } from 'kubernetes-types/networking/v1.js';
import type { Namespace, Pod } from 'kubernetes-types/core/v1.js';
import type { Result } from '../../result.ts';
import { logger } from '../../observe/log.ts';
import { metrics } from '../../observe/metrics.ts';
import { podIPsOf } from '../../kube/slim.ts';
import type { ChangeRef, Controller, SyncOutcome } from '../runtime.ts';
import { secondsSince } from './apply-exec.ts';
import { findCulprits, type Suspect } from './isolate.ts';
import { FAMILIES, type PolicyRejection } from './model.ts';
import type { ClusterView } from './plan-view.ts';
import { toPolicyPod, type PolicyPod } from './policy-pod.ts';
import { PlanState, type Delta, type Quarantine } from './plan-state.ts';
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
  /** Reports a pod whose rules the kernel refused; it is isolated and allowed nothing (log + Event + metric). */
  rejectPod?(pod: Pod, message: string): void;
  /** Reports ipBlock CIDRs of an accepted policy that had host bits set and were normalised (a warning log line). */
  normalized?(policy: NetworkPolicy, cidrs: string[]): void;
}

/** A quarantined object, kept until it changes (`version`) or goes. */
interface QuarantineEntry {
  version: string;
  message: string;
  /** Pods: as planned when quarantined. */
  pod?: PolicyPod;
  reported: boolean;
}

const podVersion = (p: Pod | undefined): string => JSON.stringify([p?.metadata?.uid, p?.spec?.nodeName, p?.status?.hostIP, p ? podIPsOf(p) : []]);
const policyVersion = (p: NetworkPolicy | undefined): string => `${p?.metadata?.uid ?? ''}/${p?.metadata?.generation ?? JSON.stringify(p?.spec ?? {})}`;

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
  /** Objects the kernel refused, by `Kind/key`; they fail closed until they change. */
  private readonly quarantined = new Map<string, QuarantineEntry>();
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
    this.liftChangedQuarantine();
    // The kernel is read first, so a backend can write the plan's new sets while the rest is being planned.
    const begun = await this.deps.backend.beginFull?.(FAMILIES.filter((f) => view.value.config.families.includes(f)));
    const early = begun?.ok ? begun.value : undefined;
    const planStart = process.hrtime.bigint();
    let state: PlanState;
    try {
      state = PlanState.full(view.value, this.quarantine(), early?.onPlanned);
    } catch (e) {
      await early?.abandon?.(); // the early writes' sockets and a begun rule transaction are closed first
      throw e;
    }
    const planSeconds = secondsSince(planStart);
    this.state = state;
    let r = await this.deps.backend.full(state, early);
    if (!r.ok && (await this.isolate(view.value, state, r.error))) {
      state = PlanState.full(view.value, this.quarantine());
      this.state = state;
      r = await this.deps.backend.full(state);
    }
    if (!r.ok) throw new Error(r.error);
    this.finish('full', r.value, start, planSeconds);
    this.reportRejections(null);
    this.reportQuarantinedPods();
    this.reportNormalized(null);
    await this.removeDisabledFamilies(state);
    if (!this.otherRemoved && this.deps.removeOtherBackend) {
      const removed = await this.deps.removeOtherBackend();
      if (removed.ok) this.otherRemoved = true;
      else log.warn({ err: removed.error }, 'removing the other netpol backend\'s rules failed; retrying next full sync');
    }
  }

  /** The quarantine as the planner takes it. */
  private quarantine(extra: readonly Suspect[] = [], view?: ClusterView): Quarantine {
    const pods = new Map<string, PolicyPod>();
    const policies = new Map<string, string>();
    for (const [id, e] of this.quarantined) {
      if (e.pod) pods.set(e.pod.key, e.pod);
      else if (id.startsWith('NetworkPolicy/')) policies.set(id.slice('NetworkPolicy/'.length), e.message);
    }
    for (const s of extra) {
      const obj = s.kind === 'Pod' ? this.deps.source.pod(s.key) : undefined;
      const pod = obj && view ? toPolicyPod(obj, view.nodeName, view.nodeIPs) : null;
      if (pod) pods.set(s.key, pod);
      else if (s.kind === 'NetworkPolicy') policies.set(s.key, 'quarantined');
    }
    return { pods, policies };
  }

  /** Objects that changed or went since they were quarantined are planned normally again. */
  private liftChangedQuarantine(): void {
    for (const [id, e] of this.quarantined) {
      const [kind, key] = [id.slice(0, id.indexOf('/')), id.slice(id.indexOf('/') + 1)];
      const now = kind === 'Pod' ? podVersion(this.deps.source.pod(key)) : policyVersion(this.deps.source.policy(key));
      const gone = kind === 'Pod' ? !this.deps.source.pod(key) : !this.deps.source.policy(key);
      if (gone || now !== e.version) this.quarantined.delete(id);
    }
  }

  /**
   * The kernel refused the state: asks it (without committing) which pods' and policies' parts are at fault
   * and quarantines them. False when the refusal is not about any object (the caller reports the error).
   */
  private async isolate(view: ClusterView, state: PlanState, error: string): Promise<boolean> {
    const suspects: Suspect[] = [
      ...[...state.policies.keys()].map((key) => ({ kind: 'NetworkPolicy' as const, key })),
      ...[...state.pods.keys()].map((key) => ({ kind: 'Pod' as const, key })),
    ];
    const backend = this.deps.backend;
    const result = await findCulprits(suspects, (q) => backend.check(PlanState.full(view, this.quarantine(q, view))));
    if (result.kind !== 'found') {
      log.warn({ err: error, isolation: result.kind }, 'netpol transaction refused and no object could be singled out');
      return false;
    }
    const message = `the ${backend.kind} backend refused this object's rules (${error.slice(0, 300)}); it is isolated and allowed nothing until it changes`;
    for (const s of result.culprits) {
      const pod = s.kind === 'Pod' ? this.deps.source.pod(s.key) : undefined;
      const planned = pod ? toPolicyPod(pod, view.nodeName, view.nodeIPs) : null;
      // A pod gone from the cache since the check has nothing left to quarantine.
      if (s.kind === 'Pod' && !planned) continue;
      const version = s.kind === 'Pod' ? podVersion(pod) : policyVersion(this.deps.source.policy(s.key));
      this.quarantined.set(`${s.kind}/${s.key}`, { version, message, reported: false, ...(planned ? { pod: planned } : {}) });
    }
    return true;
  }

  /** Each quarantined pod is reported once (policies go through reportRejections). */
  private reportQuarantinedPods(): void {
    for (const [id, e] of this.quarantined) {
      if (!e.pod || e.reported) continue;
      e.reported = true;
      const pod = this.deps.source.pod(e.pod.key);
      if (pod) this.deps.rejectPod?.(pod, e.message);
      else log.warn({ pod: id }, e.message);
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
      // A quarantined object that changed gets another chance: only a full plan lifts a quarantine.
      const touchesQuarantine = changes.some((c) => {
        const e = this.quarantined.get(`${c.kind}/${c.key}`);
        const now = c.kind === 'Pod' ? podVersion(this.deps.source.pod(c.key)) : policyVersion(this.deps.source.policy(c.key));
        return e !== undefined && e.version !== now;
      });
      if (work.full || touchesQuarantine) {
        await this.fullSync();
        return {};
      }
      const delta = this.state.update(view.value, work);
      const planSeconds = secondsSince(start);
      const r = await this.deps.backend.incremental(this.state, delta);
      if (!r.ok) {
        // Refused: a full sync finds out which object's part is at fault and applies everyone else's.
        log.warn({ err: r.error }, 'netpol incremental apply failed; running a full sync');
        await this.fullSync();
        return {};
      }
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
