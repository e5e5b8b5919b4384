// An in-memory `Ipvs` with the 6.1 kernel's answers (net/netfilter/ipvs/ip_vs_ctl.c, checked against the VM kernel
// by test/vm/ipvs-codec.test.ts), for unit tests of code that programs IPVS: EEXIST/ESRCH/ENOENT, scheduler and
// persistence-engine names, range and family checks, newest-first destinations, and batches that carry on after a
// refused change. Not modelled: which addresses are local (the kernel lets a local link-local address be a
// destination) and the sync daemon (which forbids mixed-family destinations).
import { err, ok } from '../../src/result.ts';
import {
  EEXIST, EINVAL, ENOENT, ERANGE, ESRCH, IPVS_SCHEDNAME_MAXLEN, IPVS_SVC_F_HASHED, ipvsError, isFwmarkKey, serviceKeyOf, serviceKeyString,
  type Ipvs, type IpvsApplyResult, type IpvsDestination, type IpvsDestinationKey, type IpvsDestinationSpec, type IpvsInfo,
  type IpvsOp, type IpvsResult, type IpvsService, type IpvsServiceKey, type IpvsServiceSpec, type IpvsStats, type IpvsTimeouts,
} from '../../src/kernel/ipvs.ts';
import { familyOf } from '../../src/net/cidr.ts';
import { bytesToIp, ipToBytes, type IpFamily } from '../../src/net/ip.ts';

function ipFamily(address: string): IpFamily {
  const family = familyOf(address);
  if (!family) throw new TypeError(`not an IP address: ${address}`);
  return family;
}

/** The scheduler modules of Debian's 6.1 kernel, and its one persistence engine. */
export const KERNEL_6_1_SCHEDULERS = ['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq', 'fo', 'ovf', 'mh'];
export const KERNEL_6_1_PERSISTENCE_ENGINES = ['sip'];

const INT_MAX = 0x7fffffff;
const ZERO_STATS: IpvsStats = {
  connections: 0, inPackets: 0, outPackets: 0, inBytes: 0, outBytes: 0, connectionsPerSecond: 0,
  inPacketsPerSecond: 0, outPacketsPerSecond: 0, inBytesPerSecond: 0, outBytesPerSecond: 0,
};

interface Entry {
  service: IpvsServiceSpec;
  /** Newest first, as the kernel lists them. */
  destinations: IpvsDestination[];
}

export interface FakeIpvsOptions {
  schedulers?: readonly string[];
  persistenceEngines?: readonly string[];
}

const clone = <T>(v: T): T => structuredClone(v);

/** Whether the kernel accepts the address for a new destination (unicast; not link-local), else EINVAL. */
function usableDestinationAddress(address: string): boolean {
  const b = ipToBytes(address);
  if (b.length === 4) return b[0] !== 0 && !((b[0] ?? 0) >= 224 && (b[0] ?? 0) <= 239) && !b.equals(Buffer.from([255, 255, 255, 255]));
  const unspecified = b.every((x) => x === 0);
  const multicast = b[0] === 0xff;
  const linkLocal = b[0] === 0xfe && ((b[1] ?? 0) & 0xc0) === 0x80;
  return !unspecified && !multicast && !linkLocal;
}

export class FakeIpvs implements Ipvs {
  /** Every batch apply() received (single-change methods are batches of one), for asserting on what was sent. */
  readonly batches: IpvsOp[][] = [];
  private readonly table = new Map<string, Entry>();
  private timeouts: IpvsTimeouts = { tcp: 900, tcpFin: 120, udp: 300 };
  private readonly schedulers: ReadonlySet<string>;
  private readonly engines: ReadonlySet<string>;
  private failures: Array<{ match: (op: IpvsOp) => boolean; errno: number }> = [];
  closed = false;

  constructor(opts: FakeIpvsOptions = {}) {
    this.schedulers = new Set(opts.schedulers ?? KERNEL_6_1_SCHEDULERS);
    this.engines = new Set(opts.persistenceEngines ?? KERNEL_6_1_PERSISTENCE_ENGINES);
  }

  /** Makes every later change that `match` selects fail with `errno` (e.g. ENOMEM), until cleared. */
  failWith(match: (op: IpvsOp) => boolean, errno: number): void {
    this.failures.push({ match, errno });
  }

  clearFailures(): void {
    this.failures = [];
  }

  /** Sets a destination's connection counters, as traffic would (for draining logic). */
  setConnections(service: IpvsServiceKey, dest: IpvsDestinationKey, active: number, inactive: number): void {
    const d = this.findDestination(this.table.get(keyId(service)), dest);
    if (!d) throw new Error(`no destination ${dest.address}:${dest.port} in ${serviceKeyString(service)}`);
    d.activeConnections = active;
    d.inactiveConnections = inactive;
  }

  async info(): Promise<IpvsResult<IpvsInfo>> {
    return ok({ version: 0x010201, connectionTableSize: 4096 });
  }

  async listServices(): Promise<IpvsResult<IpvsService[]>> {
    return ok([...this.table.values()].map((e) => ({ ...clone(e.service), stats: { ...ZERO_STATS } })));
  }

  async getService(key: IpvsServiceKey): Promise<IpvsResult<IpvsService>> {
    const e = this.table.get(keyId(key));
    return e ? ok({ ...clone(e.service), stats: { ...ZERO_STATS } }) : err(ipvsError(ESRCH));
  }

  async listDestinations(service: IpvsServiceKey): Promise<IpvsResult<IpvsDestination[]>> {
    return ok(clone(this.table.get(keyId(service))?.destinations ?? []));
  }

  async getTimeouts(): Promise<IpvsResult<IpvsTimeouts>> {
    return ok({ ...this.timeouts });
  }

  async setTimeouts(t: Partial<IpvsTimeouts>): Promise<IpvsResult<void>> {
    // the kernel keeps them as ints: a u32 above INT_MAX arrives negative and is refused
    if ([t.tcp, t.tcpFin, t.udp].some((v) => v !== undefined && (v < 0 || v > INT_MAX))) return err(ipvsError(EINVAL));
    this.timeouts = { tcp: t.tcp || this.timeouts.tcp, tcpFin: t.tcpFin || this.timeouts.tcpFin, udp: t.udp || this.timeouts.udp };
    return ok(undefined);
  }

  addService(service: IpvsServiceSpec): Promise<IpvsResult<void>> { return this.one({ op: 'add-service', service }); }
  updateService(service: IpvsServiceSpec): Promise<IpvsResult<void>> { return this.one({ op: 'update-service', service }); }
  deleteService(service: IpvsServiceKey): Promise<IpvsResult<void>> { return this.one({ op: 'delete-service', service }); }
  addDestination(service: IpvsServiceKey, destination: IpvsDestinationSpec): Promise<IpvsResult<void>> {
    return this.one({ op: 'add-destination', service, destination });
  }
  updateDestination(service: IpvsServiceKey, destination: IpvsDestinationSpec): Promise<IpvsResult<void>> {
    return this.one({ op: 'update-destination', service, destination });
  }
  deleteDestination(service: IpvsServiceKey, destination: IpvsDestinationKey): Promise<IpvsResult<void>> {
    return this.one({ op: 'delete-destination', service, destination });
  }

  async apply(ops: readonly IpvsOp[]): Promise<IpvsResult<IpvsApplyResult>> {
    this.batches.push(clone([...ops]));
    const result: IpvsApplyResult = { applied: 0, failures: [] };
    ops.forEach((op, index) => {
      const errno = this.failures.find((f) => f.match(op))?.errno ?? this.change(op);
      if (errno === 0) result.applied++;
      else result.failures.push({ index, op, error: ipvsError(errno) });
    });
    return ok(result);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private async one(op: IpvsOp): Promise<IpvsResult<void>> {
    const r = await this.apply([op]);
    if (!r.ok) return r;
    const failure = r.value.failures[0];
    return failure ? err(failure.error) : ok(undefined);
  }

  /** One change, checked in the order ip_vs_genl_set_cmd checks it; returns 0 or the errno. */
  private change(op: IpvsOp): number {
    if ('scheduler' in op.service && (op.service.scheduler.length > IPVS_SCHEDNAME_MAXLEN || (op.service.persistenceEngine?.length ?? 0) > 16)) return EINVAL;
    const id = keyId(op.service);
    const entry = this.table.get(id);
    if (op.op !== 'add-service' && !entry) return ESRCH;
    switch (op.op) {
      case 'add-service': {
        if (entry) return EEXIST;
        const bad = this.settingsError(op.service);
        if (bad) return bad;
        this.table.set(id, { service: storedService(op.service), destinations: [] });
        return 0;
      }
      case 'update-service': {
        const bad = this.settingsError(op.service);
        if (bad) return bad;
        (entry as Entry).service = { ...storedService(op.service), ...serviceKeyOf((entry as Entry).service) };
        return 0;
      }
      case 'delete-service':
        this.table.delete(id);
        return 0;
      default:
        return this.destinationChange(op, entry as Entry);
    }
  }

  private settingsError(s: IpvsServiceSpec): number {
    if (s.scheduler !== 'none' && !this.schedulers.has(s.scheduler)) return ENOENT;
    if (s.persistenceEngine && !this.engines.has(s.persistenceEngine)) return ENOENT;
    if (s.family === 6 && (s.netmask < 1 || s.netmask > 128)) return EINVAL;
    return 0;
  }

  private destinationChange(op: Extract<IpvsOp, { destination: unknown }>, entry: Entry): number {
    const family = ipFamily(op.destination.address);
    if (op.op === 'delete-destination') {
      const i = entry.destinations.findIndex((d) => d.family === family && sameDestination(d, op.destination));
      if (i < 0) return ENOENT;
      entry.destinations.splice(i, 1);
      return 0;
    }
    const spec = op.destination;
    // only a tunnel can carry packets of one family to a real server of the other
    if (family !== entry.service.family && spec.forward !== 'tunnel') return EINVAL;
    if (spec.weight > INT_MAX || spec.lowerThreshold > spec.upperThreshold) return ERANGE;
    if (spec.upperThreshold > INT_MAX) return EINVAL;
    if (spec.tunnel?.type === 'gue' && spec.tunnel.port === 0) return EINVAL;
    const existing = this.findDestination(entry, spec);
    if (op.op === 'update-destination') {
      if (!existing) return ENOENT;
      Object.assign(existing, destinationSettings(spec));
      if (existing.forward !== 'tunnel') delete existing.tunnel;
      return 0;
    }
    if (existing) return EEXIST;
    if (!usableDestinationAddress(spec.address)) return EINVAL;
    entry.destinations.unshift({
      family, address: bytesToIp(ipToBytes(spec.address)), port: spec.port, ...destinationSettings(spec),
      activeConnections: 0, inactiveConnections: 0, persistentConnections: 0, stats: { ...ZERO_STATS },
    });
    return 0;
  }

  private findDestination(entry: Entry | undefined, key: IpvsDestinationKey): IpvsDestination | undefined {
    return entry?.destinations.find((d) => d.family === ipFamily(key.address) && sameDestination(d, key));
  }
}

/** The table key of a service: IPv6 addresses compared as addresses, not as text; a family mismatch is a caller bug. */
function keyId(key: IpvsServiceKey): string {
  if (isFwmarkKey(key)) return serviceKeyString(key);
  if (ipFamily(key.address) !== key.family) throw new TypeError(`service address ${key.address} is not IPv${key.family}`);
  return serviceKeyString({ ...key, address: bytesToIp(ipToBytes(key.address)) });
}

/** Only what the kernel keeps of a service spec (a decoded service passed back in brings its stats along). */
function storedService(s: IpvsServiceSpec): IpvsServiceSpec {
  const key = isFwmarkKey(s) ? serviceKeyOf(s) : { ...serviceKeyOf(s), address: bytesToIp(ipToBytes(s.address)) } as IpvsServiceKey;
  const out: IpvsServiceSpec = { ...key, scheduler: s.scheduler, flags: (s.flags & ~IPVS_SVC_F_HASHED) >>> 0, timeout: s.timeout, netmask: s.netmask };
  if (s.persistenceEngine) out.persistenceEngine = s.persistenceEngine;
  return out;
}

function sameDestination(a: IpvsDestinationKey, b: IpvsDestinationKey): boolean {
  return a.port === b.port && ipToBytes(a.address).equals(ipToBytes(b.address));
}

/** What a destination change writes; the kernel reports tunnel settings only for tunnel mode. */
function destinationSettings(d: IpvsDestinationSpec): Omit<IpvsDestinationSpec, 'address' | 'port'> {
  const out: Omit<IpvsDestinationSpec, 'address' | 'port'> = {
    forward: d.forward, weight: d.weight, upperThreshold: d.upperThreshold, lowerThreshold: d.lowerThreshold,
  };
  if (d.forward === 'tunnel') out.tunnel = d.tunnel ? { ...d.tunnel } : { type: 'ipip', port: 0, flags: 0 };
  return out;
}
