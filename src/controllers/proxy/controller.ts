// The service proxy controller: a Service or EndpointSlice event re-plans that one Service, folds it into the
// node's desired state and hands the difference to the dataplane; the periodic full sync re-plans everything
// and lets the dataplane repair drift against the kernel. Problems become Events once per object version.
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { logger } from '../../observe/log.ts';
import type { ChangeRef, Controller, SyncOutcome } from '../runtime.ts';
import type { Problem, ServicePlan, VirtualService } from './model.ts';
import { planService, type ProxyNode } from './plan-service.ts';
import { ProxyState, type StateDelta } from './plan-state.ts';
import type { ProxyConfig } from './service-ips.ts';

const log = logger('proxy');
export const CONTROLLER_NAME = 'proxy';
const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** The controller's read access to cluster state. */
export interface ProxySource {
  services(): Iterable<Service>;
  service(key: string): Service | undefined;
  slicesOf(serviceKey: string): readonly EndpointSlice[];
  slice(key: string): EndpointSlice | undefined;
  /** This node as the planner needs it; undefined while the Node object is not known. */
  node(): ProxyNode | undefined;
  /** Re-reads what comes from the kernel rather than the cache (local addresses); run at each full sync. */
  refresh?(): Promise<void>;
}

/** Where the desired state goes. Failures are keyed by virtual service key (or a dataplane part) with a reason. */
export interface ProxyDataplane {
  fullSync(state: ProxyState): Promise<Map<string, string>>;
  apply(delta: StateDelta, state: ProxyState): Promise<Map<string, string>>;
}

export interface ProxyControllerDeps {
  source: ProxySource;
  dataplane: ProxyDataplane;
  config: ProxyConfig;
  syncPeriodMs: number;
  /** Reports a problem with a Service or slice (log line, Event, metric). */
  report(problem: Problem): void;
  /** Observes how long a sync took (seconds). */
  observeSync?(kind: 'full' | 'incremental', seconds: number): void;
}

const nodeFingerprint = (n: ProxyNode): string => JSON.stringify([n.name, n.addresses, n.nodePortAddresses, n.podCidrs]);

export class ProxyController implements Controller {
  readonly name = CONTROLLER_NAME;
  readonly syncPeriodMs: number;
  private state = new ProxyState();
  private readonly serviceOfSlice = new Map<string, string>();
  private nodeSeen: string | undefined;
  /** Problems already reported, by object and version, so a re-plan does not repeat the Event. */
  private readonly reported = new Set<string>();

  constructor(private readonly deps: ProxyControllerDeps) {
    this.syncPeriodMs = deps.syncPeriodMs;
  }

  desiredState(): ProxyState {
    return this.state;
  }

  async fullSync(): Promise<void> {
    const started = process.hrtime.bigint();
    await this.deps.source.refresh?.();
    const node = this.requireNode();
    const state = new ProxyState();
    this.serviceOfSlice.clear();
    for (const svc of this.deps.source.services()) {
      const key = `${svc.metadata?.namespace ?? ''}/${svc.metadata?.name ?? ''}`;
      for (const slice of this.deps.source.slicesOf(key)) this.rememberSlice(slice);
      this.reportAll(svc, state.set(key, this.plan(svc, node)).problems, state.plan(key));
    }
    this.state = state;
    this.nodeSeen = nodeFingerprint(node);
    const failures = await this.deps.dataplane.fullSync(state);
    this.deps.observeSync?.('full', Number(process.hrtime.bigint() - started) / 1e9);
    if (failures.size > 0) throw new Error(`proxy full sync: ${failures.size} part(s) not programmed: ${[...failures].slice(0, 5).map(([k, v]) => `${k}: ${v}`).join('; ')}`);
  }

  async handleChanges(changes: ChangeRef[]): Promise<SyncOutcome> {
    const started = process.hrtime.bigint();
    const node = this.requireNode();
    if (nodeFingerprint(node) !== this.nodeSeen) {
      // NodePort addresses and the "local endpoint" test depend on the node: every Service is re-planned.
      await this.fullSync();
      return {};
    }
    const byService = new Map<string, ChangeRef[]>();
    const note = (key: string | undefined, ref: ChangeRef) => { if (key) byService.set(key, [...(byService.get(key) ?? []), ref]); };
    for (const ref of changes) {
      if (ref.kind === 'Service') note(ref.key, ref);
      else if (ref.kind === 'EndpointSlice') {
        const before = this.serviceOfSlice.get(ref.key);
        const slice = this.deps.source.slice(ref.key);
        const now = slice ? this.rememberSlice(slice) : undefined;
        if (!slice) this.serviceOfSlice.delete(ref.key);
        note(before, ref);
        if (now !== before) note(now, ref);
      }
    }
    if (byService.size === 0) return {};
    const merged = new DeltaMerge();
    for (const key of byService.keys()) {
      const svc = this.deps.source.service(key);
      const d = this.state.set(key, svc ? this.plan(svc, node) : undefined);
      if (svc) this.reportAll(svc, d.problems, this.state.plan(key));
      merged.add(d);
      // A retried Service is pushed again in full: the dataplane's own diff makes that minimal.
      for (const vs of this.state.plan(key)?.virtualServices ?? []) {
        const owned = this.state.virtualService(vs.key);
        if (owned && owned.service === key) merged.upsert(owned);
      }
    }
    const delta = merged.result();
    const failures = await this.deps.dataplane.apply(delta, this.state);
    this.deps.observeSync?.('incremental', Number(process.hrtime.bigint() - started) / 1e9);
    const failed = new Map<string, unknown>();
    for (const [part, reason] of failures) {
      const owner = this.state.virtualService(part)?.service;
      const refs = owner ? byService.get(owner) ?? [] : changes; // a node-wide part failed: retry the whole batch
      for (const ref of refs) failed.set(ref.key, new Error(`${part}: ${reason}`));
    }
    return { failed };
  }

  private plan(svc: Service, node: ProxyNode): ServicePlan {
    const key = `${svc.metadata?.namespace ?? ''}/${svc.metadata?.name ?? ''}`;
    return planService(svc, this.deps.source.slicesOf(key), node, this.deps.config);
  }

  private requireNode(): ProxyNode {
    const node = this.deps.source.node();
    if (!node) throw new Error('this node is not in the cache yet');
    return node;
  }

  private rememberSlice(slice: EndpointSlice): string | undefined {
    const svc = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
    const ns = slice.metadata?.namespace;
    const sliceKey = `${ns ?? ''}/${slice.metadata?.name ?? ''}`;
    if (!svc || !ns) { this.serviceOfSlice.delete(sliceKey); return undefined; }
    this.serviceOfSlice.set(sliceKey, `${ns}/${svc}`);
    return `${ns}/${svc}`;
  }

  private reportAll(svc: Service, conflicts: Problem[], plan: ServicePlan | undefined): void {
    const version = svc.metadata?.resourceVersion ?? '';
    for (const p of [...(plan?.problems ?? []), ...conflicts]) {
      const id = `${p.kind}|${p.key}|${p.reason}|${p.message}|${version}`;
      if (this.reported.has(id)) continue;
      if (this.reported.size > 10_000) this.reported.clear();
      this.reported.add(id);
      this.deps.report(p);
    }
    if (conflicts.length > 0) log.debug({ service: plan?.key, conflicts: conflicts.length }, 'virtual service conflicts');
  }
}

/** Several Services' deltas folded into one, later changes winning (linear in the size of the batch). */
class DeltaMerge {
  private readonly virtualServices = new Map<string, VirtualService | null>();
  private readonly addresses = new Map<string, boolean>();
  private hairpinChanged = false;
  private readonly problems: Problem[] = [];

  add(d: StateDelta): void {
    for (const key of d.remove) this.virtualServices.set(key, null);
    for (const vs of d.upsert) this.upsert(vs);
    for (const a of d.removeAddresses) this.addresses.set(a, false);
    for (const a of d.addAddresses) this.addresses.set(a, true);
    this.hairpinChanged ||= d.hairpinChanged;
    this.problems.push(...d.problems);
  }

  upsert(vs: VirtualService): void {
    this.virtualServices.set(vs.key, vs);
  }

  result(): StateDelta {
    const delta: StateDelta = { upsert: [], remove: [], addAddresses: [], removeAddresses: [], hairpinChanged: this.hairpinChanged, problems: this.problems };
    for (const [key, vs] of this.virtualServices) if (vs) delta.upsert.push(vs); else delta.remove.push(key);
    for (const [a, add] of this.addresses) (add ? delta.addAddresses : delta.removeAddresses).push(a);
    return delta;
  }
}
