// ClusterIP and NodePort allocation for Services, done at admission time as the real API server does:
// requested addresses/ports are honoured when free and in range, duplicates are rejected with 422.
import type { AdmissionHook, LabApi } from '../apiserver/api.ts';
import type { KubeObject } from '../apiserver/resources.ts';
import { invalid, type ApiError } from '../apiserver/status-errors.ts';
import { cidrContains, cidrSize, formatCidr, parseCidr, type Cidr } from '../../src/net/cidr.ts';
import { formatIp, ipFromBigInt, ipToBigInt, parseIp } from '../../src/net/ip.ts';

export interface ServiceAllocatorOptions {
  /** One service CIDR per family, primary family first (e.g. ["198.18.128.0/20", "fd00:96::/112"]). */
  serviceCidrs: string[];
  nodePortRange?: [number, number];
}

interface ServicePort { name?: string; port?: number; protocol?: string; nodePort?: number }
interface ServiceSpec {
  type?: string; clusterIP?: string; clusterIPs?: string[]; ipFamilies?: string[]; ipFamilyPolicy?: string;
  ports?: ServicePort[]; externalTrafficPolicy?: string; healthCheckNodePort?: number; allocateLoadBalancerNodePorts?: boolean;
}

const familyName = (c: Cidr): string => (c.family === 4 ? 'IPv4' : 'IPv6');
const specOf = (o: KubeObject | undefined): ServiceSpec => ((o?.['spec'] ?? {}) as ServiceSpec);

class AllocationError { constructor(readonly field: string, readonly value: unknown, readonly message: string) {} }

function needsNodePorts(spec: ServiceSpec): boolean {
  return spec.type === 'NodePort' || (spec.type === 'LoadBalancer' && spec.allocateLoadBalancerNodePorts !== false);
}

/** Copies allocations the client left out on update (as the real server's PrepareForUpdate does). */
function keepAllocated(spec: ServiceSpec, old: ServiceSpec): void {
  if (spec.type === 'ExternalName' || old.type === 'ExternalName') return;
  if (!spec.clusterIP && !spec.clusterIPs?.length && old.clusterIP) {
    spec.clusterIP = old.clusterIP;
    if (old.clusterIPs) spec.clusterIPs = [...old.clusterIPs];
    if (!spec.ipFamilies && old.ipFamilies) spec.ipFamilies = [...old.ipFamilies];
    if (!spec.ipFamilyPolicy && old.ipFamilyPolicy) spec.ipFamilyPolicy = old.ipFamilyPolicy;
  }
  if (needsNodePorts(spec) && needsNodePorts(old)) {
    for (const port of spec.ports ?? []) {
      if (port.nodePort) continue;
      const previous = old.ports?.find((p) => p.port === port.port && (p.protocol ?? 'TCP') === (port.protocol ?? 'TCP'));
      if (previous?.nodePort) port.nodePort = previous.nodePort;
    }
  }
  if (!spec.healthCheckNodePort && old.healthCheckNodePort && spec.externalTrafficPolicy === 'Local') spec.healthCheckNodePort = old.healthCheckNodePort;
}

/** The allocator's admission hook and the store subscription that keeps its index current. */
export interface ServiceAllocator { hook: AdmissionHook; stop(): void }

const serviceKey = (o: KubeObject): string => `${o.metadata.namespace ?? ''}/${o.metadata.name ?? ''}`;
const ipsOf = (spec: ServiceSpec): string[] => (spec.clusterIPs ?? (spec.clusterIP ? [spec.clusterIP] : [])).filter((ip) => ip !== 'None');
const portsOf = (spec: ServiceSpec): number[] => [...(spec.ports ?? []).map((p) => p.nodePort ?? 0), spec.healthCheckNodePort ?? 0].filter((p) => p > 0);

/**
 * Which Service holds each ClusterIP and NodePort, kept from the store's events (a create checks the index, never
 * lists every Service). Admission and the store write run in one synchronous step, so concurrent creates see each
 * other's allocations; a rejected or dry-run write never reaches the store and so allocates nothing.
 */
export class AllocationIndex {
  readonly ipOwner = new Map<string, string>();
  readonly portOwner = new Map<number, string>();
  private readonly held = new Map<string, { ips: string[]; ports: number[] }>();

  /** Records what a stored Service holds now (replacing what it held before); undefined: it was deleted. */
  record(key: string, spec: ServiceSpec | undefined): void {
    const before = this.held.get(key);
    for (const ip of before?.ips ?? []) if (this.ipOwner.get(ip) === key) this.ipOwner.delete(ip);
    for (const port of before?.ports ?? []) if (this.portOwner.get(port) === key) this.portOwner.delete(port);
    if (!spec || spec.type === 'ExternalName') { this.held.delete(key); return; }
    const now = { ips: ipsOf(spec), ports: portsOf(spec) };
    this.held.set(key, now);
    for (const ip of now.ips) this.ipOwner.set(ip, key);
    for (const port of now.ports) this.portOwner.set(port, key);
  }
}

/** The addresses/ports held by Services other than `key`, as a set view over the index. */
class TakenBy<T> {
  private readonly claimed = new Set<T>();
  constructor(private readonly owners: Map<T, string>, private readonly key: string) {}
  has(value: T): boolean {
    if (this.claimed.has(value)) return true;
    const owner = this.owners.get(value);
    return owner !== undefined && owner !== this.key;
  }
  add(value: T): void { this.claimed.add(value); }
}

export function makeServiceAllocator(api: LabApi, options: ServiceAllocatorOptions): ServiceAllocator {
  const cidrs = options.serviceCidrs.map((text) => {
    const parsed = parseCidr(text);
    if (!parsed.ok) throw new Error(`invalid service CIDR ${text}`);
    return parsed.value;
  });
  const [low, high] = options.nodePortRange ?? [30000, 32767];
  const index = new AllocationIndex();
  for (const service of api.listShared(api.type('', 'services'))) index.record(serviceKey(service), specOf(service));
  const stop = api.subscribe((event) => {
    if (event.resource !== '/services') return;
    index.record(serviceKey(event.object), event.type === 'DELETED' ? undefined : specOf(event.object));
  });
  // dynamic allocation resumes after the last address/port handed out in each range (amortised O(1) per create)
  const nextOffset = new Map<Cidr, bigint>();
  let nextPort = low;

  function assignIps(spec: ServiceSpec, taken: TakenBy<string>): void {
    if (spec.type === 'ExternalName') {
      delete spec.clusterIP; delete spec.clusterIPs; delete spec.ipFamilies; delete spec.ipFamilyPolicy;
      return;
    }
    const requested = spec.clusterIPs?.length ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : [];
    const policy = spec.ipFamilyPolicy ?? (requested.length > 1 || (spec.ipFamilies?.length ?? 0) > 1 ? 'RequireDualStack' : 'SingleStack');
    if (policy === 'RequireDualStack' && cidrs.length < 2) throw new AllocationError('spec.ipFamilyPolicy', policy, 'this cluster is not configured for dual-stack services');
    let families = spec.ipFamilies?.length ? [...spec.ipFamilies]
      : requested.length && requested[0] !== 'None' ? requested.map((ip) => { const p = parseIp(ip); return p.ok && p.value.family === 6 ? 'IPv6' : 'IPv4'; })
        : cidrs.map(familyName);
    if (policy === 'SingleStack') families = families.slice(0, 1);
    else if (families.length === 1) families = [families[0] ?? 'IPv4', ...cidrs.map(familyName).filter((f) => f !== families[0])].slice(0, 2);
    const ranges = families.map((f) => cidrs.find((c) => familyName(c) === f));
    if (requested[0] === 'None') {
      Object.assign(spec, { clusterIP: 'None', clusterIPs: ['None'], ipFamilies: families.filter((_, i) => ranges[i]), ipFamilyPolicy: policy });
      return;
    }
    const ips = families.map((family, i) => {
      const range = ranges[i];
      if (!range) throw new AllocationError('spec.ipFamilies', family, 'not configured on this cluster');
      const wanted = requested[i];
      if (wanted) {
        const parsed = parseIp(wanted);
        const ip = parsed.ok ? parsed.value : undefined;
        if (!ip || !cidrContains(range, ip)) throw new AllocationError('spec.clusterIPs', requested, `failed to allocate IP ${wanted}: provided IP is not in the valid range. The range of valid IPs is ${formatCidr(range)}`);
        if (taken.has(formatIp(ip))) throw new AllocationError('spec.clusterIPs', requested, `failed to allocate IP ${wanted}: provided IP is already allocated`);
        return formatIp(ip);
      }
      const last = cidrSize(range) - (range.family === 4 ? 1n : 0n);
      const base = ipToBigInt({ family: range.family, bytes: range.network });
      const start = nextOffset.get(range) ?? 1n;
      for (let step = 0n; step < last - 1n; step++) {
        const offset = ((start - 1n + step) % (last - 1n)) + 1n;
        const candidate = formatIp(ipFromBigInt(range.family, base + offset));
        if (!taken.has(candidate)) { taken.add(candidate); nextOffset.set(range, offset + 1n >= last ? 1n : offset + 1n); return candidate; }
      }
      throw new AllocationError('spec.clusterIPs', requested, `range is full`);
    });
    Object.assign(spec, { clusterIP: ips[0], clusterIPs: ips, ipFamilies: families, ipFamilyPolicy: policy });
  }

  function assignNodePorts(spec: ServiceSpec, taken: TakenBy<number>): void {
    const free = (): number => {
      for (let step = 0; step <= high - low; step++) {
        const port = low + ((nextPort - low + step) % (high - low + 1));
        if (!taken.has(port)) { taken.add(port); nextPort = port + 1 > high ? low : port + 1; return port; }
      }
      throw new AllocationError('spec.ports', spec.ports, 'range is full');
    };
    const check = (field: string, port: number): void => {
      if (port < low || port > high) throw new AllocationError(field, port, `provided port is not in the valid range. The range of valid ports is ${low}-${high}`);
      if (taken.has(port)) throw new AllocationError(field, port, 'provided port is already allocated');
      taken.add(port);
    };
    if (!needsNodePorts(spec)) {
      for (const port of spec.ports ?? []) if (spec.type !== 'LoadBalancer') delete port.nodePort;
    } else {
      // requested ports are claimed before any dynamic allocation so a later request is never taken
      (spec.ports ?? []).forEach((port, i) => { if (port.nodePort) check(`spec.ports[${i}].nodePort`, port.nodePort); });
    }
    const wantsHealthPort = spec.type === 'LoadBalancer' && spec.externalTrafficPolicy === 'Local';
    if (wantsHealthPort && spec.healthCheckNodePort) check('spec.healthCheckNodePort', spec.healthCheckNodePort);
    if (needsNodePorts(spec)) for (const port of spec.ports ?? []) if (!port.nodePort) port.nodePort = free();
    if (!wantsHealthPort) delete spec.healthCheckNodePort;
    else if (!spec.healthCheckNodePort) spec.healthCheckNodePort = free();
  }

  const hook: AdmissionHook = (request): ApiError | undefined => {
    if (request.type.plural !== 'services' || request.operation === 'DELETE') return undefined;
    const spec = specOf(request.object);
    const old = specOf(request.oldObject);
    if (request.oldObject) {
      keepAllocated(spec, old);
      if (old.clusterIP && spec.clusterIP && old.clusterIP !== spec.clusterIP && spec.type !== 'ExternalName' && old.type !== 'ExternalName') {
        return invalid('Service', '', request.object.metadata.name ?? '', [{ reason: 'FieldValueInvalid', field: 'spec.clusterIPs[0]', message: `Invalid value: ${JSON.stringify(spec.clusterIP)}: may not change once set` }]);
      }
    }
    const takenIps = new TakenBy(index.ipOwner, serviceKey(request.object));
    const takenPorts = new TakenBy(index.portOwner, serviceKey(request.object));
    try {
      assignIps(spec, takenIps);
      assignNodePorts(spec, takenPorts);
    } catch (error) {
      if (!(error instanceof AllocationError)) throw error;
      return invalid('Service', '', request.object.metadata.name ?? '', [{ reason: 'FieldValueInvalid', field: error.field, message: `Invalid value: ${JSON.stringify(error.value)}: ${error.message}` }]);
    }
    return undefined;
  };
  return { hook, stop };
}
