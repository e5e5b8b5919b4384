// Turns planned virtual services into IPVS changes. Incremental changes are diffed against what this applier
// last applied (no kernel dump on the event path) and sent as one batch; a refused change (the kernel drifted)
// re-reads just that service and converges it. The full sync lists the kernel, converges every planned service
// and deletes the stale services it owns: never a service the ownership rule does not claim.
import {
  IPVS_SVC_F_PERSISTENT, IPVS_SVC_F_SCHED1, IPVS_SVC_F_SCHED2, IPVS_SVC_F_SCHED3, ipvsDestination, serviceKeyOf, serviceKeyString,
  type Ipvs, type IpvsDestination, type IpvsDestinationSpec, type IpvsError, type IpvsOp, type IpvsService,
  type IpvsAddressKey, type IpvsServiceSettings,
} from '../../kernel/ipvs.ts';
import type { Destination, SchedulerFlag, VirtualService } from './model.ts';

const FLAG_BITS: Record<SchedulerFlag, number> = { 'flag-1': IPVS_SVC_F_SCHED1, 'flag-2': IPVS_SVC_F_SCHED2, 'flag-3': IPVS_SVC_F_SCHED3 };
const ESRCH = 3;
const ENOENT = 2;

export function ipvsKeyOf(vs: VirtualService): IpvsAddressKey {
  return { family: vs.family === 'ipv6' ? 6 : 4, protocol: vs.protocol.toLowerCase() as IpvsAddressKey['protocol'], address: vs.address, port: vs.port };
}

export function ipvsSpecOf(vs: VirtualService): IpvsAddressKey & IpvsServiceSettings {
  let flags = 0;
  for (const f of vs.schedulerFlags) flags |= FLAG_BITS[f];
  if (vs.persistenceSeconds !== undefined) flags |= IPVS_SVC_F_PERSISTENT;
  return {
    ...ipvsKeyOf(vs), scheduler: vs.scheduler, flags, timeout: vs.persistenceSeconds ?? 0,
    netmask: vs.family === 'ipv6' ? 128 : 32,
  };
}

const destinationSpec = (d: Destination): IpvsDestinationSpec => ipvsDestination({ address: d.address, port: d.port, weight: d.weight });
const destinationId = (d: { address: string; port: number }) => `${d.address}|${d.port}`;

function sameSettings(a: IpvsServiceSettings, b: IpvsServiceSettings): boolean {
  return a.scheduler === b.scheduler && a.flags === b.flags && a.timeout === b.timeout && a.netmask === b.netmask;
}

/** Changes that take the destinations `have` to `want` for one service. */
function destinationOps(key: IpvsAddressKey, have: readonly (Destination | IpvsDestination)[], want: readonly Destination[]): IpvsOp[] {
  const ops: IpvsOp[] = [];
  const wanted = new Map(want.map((d) => [destinationId(d), d]));
  const present = new Map(have.map((d) => [destinationId(d), d]));
  // Add before delete: a Service whose endpoints are replaced is never briefly without any.
  for (const [id, d] of wanted) {
    const old = present.get(id);
    if (!old) ops.push({ op: 'add-destination', service: key, destination: destinationSpec(d) });
    else if (old.weight !== d.weight || ('forward' in old && old.forward !== 'masq')) {
      ops.push({ op: 'update-destination', service: key, destination: destinationSpec(d) });
    }
  }
  for (const [id, d] of present) if (!wanted.has(id)) ops.push({ op: 'delete-destination', service: key, destination: { address: d.address, port: d.port } });
  return ops;
}

export interface ApplyReport {
  /** Virtual service key -> why it could not be converged. */
  failed: Map<string, IpvsError>;
  ops: number;
}

export interface FullSyncReport extends ApplyReport {
  deletedStale: number;
}

export class IpvsApplier {
  /** What this applier last brought the kernel to, by virtual service key. */
  private readonly applied = new Map<string, VirtualService>();

  constructor(private readonly ipvs: Ipvs) {}

  appliedServices(): ReadonlyMap<string, VirtualService> {
    return this.applied;
  }

  /** Applies one delta of the desired state: creates/updates `upsert`, deletes `remove` (virtual service keys). */
  async apply(upsert: readonly VirtualService[], remove: readonly string[]): Promise<ApplyReport> {
    const ops: IpvsOp[] = [];
    const opOwner: string[] = [];
    const push = (owner: string, list: IpvsOp[]) => { for (const op of list) { ops.push(op); opOwner.push(owner); } };
    for (const vs of upsert) {
      const prev = this.applied.get(vs.key);
      const spec = ipvsSpecOf(vs);
      if (!prev) push(vs.key, [{ op: 'add-service', service: spec }, ...destinationOps(spec, [], vs.destinations)]);
      else {
        const changed = sameSettings(ipvsSpecOf(prev), spec) ? [] : [{ op: 'update-service', service: spec } as IpvsOp];
        push(vs.key, [...changed, ...destinationOps(spec, prev.destinations, vs.destinations)]);
      }
    }
    const removed = new Map<string, VirtualService>();
    for (const key of remove) {
      const prev = this.applied.get(key);
      if (!prev) continue;
      removed.set(key, prev);
      push(key, [{ op: 'delete-service', service: ipvsKeyOf(prev) }]);
    }
    const report: ApplyReport = { failed: new Map(), ops: ops.length };
    if (ops.length === 0) return report;
    const result = await this.ipvs.apply(ops);
    const troubled = new Set<string>();
    if (!result.ok) for (const owner of opOwner) troubled.add(owner); // the socket failed: re-read them all
    else for (const f of result.value.failures) troubled.add(opOwner[f.index]!);
    for (const vs of upsert) if (!troubled.has(vs.key)) this.applied.set(vs.key, vs);
    for (const key of removed.keys()) if (!troubled.has(key)) this.applied.delete(key);
    const wanted = new Map(upsert.map((v) => [v.key, v]));
    for (const key of troubled) {
      const want = wanted.get(key);
      const error = want ? await this.converge(want) : await this.deleteOne(removed.get(key)!);
      if (error) report.failed.set(key, error);
    }
    return report;
  }

  /**
   * Full reconcile: every planned service converged from a fresh listing; services the kernel has that are not
   * planned are deleted when `owned` claims them or this applier programmed them, left alone otherwise.
   */
  async fullSync(desired: Iterable<VirtualService>, owned: (s: IpvsService) => boolean): Promise<FullSyncReport> {
    const listed = await this.ipvs.listServices();
    if (!listed.ok) throw new Error(`IPVS: listing services failed: ${listed.error.code}`);
    const inKernel = new Map<string, IpvsService>();
    for (const s of listed.value) if (!('fwmark' in s)) inKernel.set(serviceKeyString(s), s);
    const report: FullSyncReport = { failed: new Map(), ops: 0, deletedStale: 0 };
    const ops: IpvsOp[] = [];
    const opOwner: VirtualService[] = [];
    const planned = new Set<string>();
    // What this applier programmed is its own even where the ownership rule no longer says so: a NodePort on a node
    // address that has since gone away (no longer local) would otherwise stay in the kernel for good.
    const appliedBefore = new Set([...this.applied.values()].map((vs) => serviceKeyString(ipvsKeyOf(vs))));
    this.applied.clear();
    for (const vs of desired) {
      const spec = ipvsSpecOf(vs);
      const id = serviceKeyString(spec);
      planned.add(id);
      const have = inKernel.get(id);
      let list: IpvsOp[];
      if (!have) list = [{ op: 'add-service', service: spec }, ...destinationOps(spec, [], vs.destinations)];
      else {
        const dests = await this.ipvs.listDestinations(spec);
        if (!dests.ok) { report.failed.set(vs.key, dests.error); continue; }
        list = [...(sameSettings(have, spec) ? [] : [{ op: 'update-service', service: spec } as IpvsOp]), ...destinationOps(spec, dests.value, vs.destinations)];
      }
      for (const op of list) { ops.push(op); opOwner.push(vs); }
      this.applied.set(vs.key, vs); // corrected below for the services whose changes were refused
    }
    for (const [id, s] of inKernel) {
      if (planned.has(id) || !(owned(s) || appliedBefore.has(id))) continue;
      ops.push({ op: 'delete-service', service: serviceKeyOf(s) });
      report.deletedStale++;
    }
    report.ops = ops.length;
    if (ops.length === 0) return report;
    const result = await this.ipvs.apply(ops);
    if (!result.ok) throw new Error(`IPVS: applying the full sync failed: ${result.error.code}`);
    const troubled = new Set<VirtualService>();
    for (const f of result.value.failures) {
      const owner = opOwner[f.index];
      if (owner) troubled.add(owner);
      else if (f.error.errno !== ESRCH) report.failed.set(serviceKeyString((f.op as { service: IpvsAddressKey }).service), f.error);
    }
    for (const vs of troubled) {
      this.applied.delete(vs.key);
      const error = await this.converge(vs);
      if (error) report.failed.set(vs.key, error);
    }
    return report;
  }

  /** Reads one service back from the kernel and makes it match; returns the error if it still does not. */
  private async converge(vs: VirtualService): Promise<IpvsError | undefined> {
    const spec = ipvsSpecOf(vs);
    const have = await this.ipvs.getService(spec);
    let ops: IpvsOp[];
    if (!have.ok) {
      if (have.error.errno !== ESRCH) return have.error;
      ops = [{ op: 'add-service', service: spec }, ...destinationOps(spec, [], vs.destinations)];
    } else {
      const dests = await this.ipvs.listDestinations(spec);
      if (!dests.ok) return dests.error;
      ops = [...(sameSettings(have.value, spec) ? [] : [{ op: 'update-service', service: spec } as IpvsOp]), ...destinationOps(spec, dests.value, vs.destinations)];
    }
    const result = await this.ipvs.apply(ops);
    if (!result.ok) return result.error;
    const failure = result.value.failures[0];
    if (failure) return failure.error;
    this.applied.set(vs.key, vs);
    return undefined;
  }

  private async deleteOne(vs: VirtualService): Promise<IpvsError | undefined> {
    const r = await this.ipvs.deleteService(ipvsKeyOf(vs));
    if (!r.ok && r.error.errno !== ESRCH && r.error.errno !== ENOENT) return r.error;
    this.applied.delete(vs.key);
    return undefined;
  }
}
