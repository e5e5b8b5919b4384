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

export function makeServiceAllocator(api: LabApi, options: ServiceAllocatorOptions): AdmissionHook {
  const cidrs = options.serviceCidrs.map((text) => {
    const parsed = parseCidr(text);
    if (!parsed.ok) throw new Error(`invalid service CIDR ${text}`);
    return parsed.value;
  });
  const [low, high] = options.nodePortRange ?? [30000, 32767];

  const others = (object: KubeObject): ServiceSpec[] => api.listShared(api.type('', 'services'))
    .filter((s) => !(s.metadata.namespace === object.metadata.namespace && s.metadata.name === object.metadata.name))
    .map((s) => specOf(s));

  function assignIps(spec: ServiceSpec, taken: Set<string>): void {
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
      for (let offset = 1n; offset < last; offset++) {
        const candidate = formatIp(ipFromBigInt(range.family, base + offset));
        if (!taken.has(candidate)) { taken.add(candidate); return candidate; }
      }
      throw new AllocationError('spec.clusterIPs', requested, `range is full`);
    });
    Object.assign(spec, { clusterIP: ips[0], clusterIPs: ips, ipFamilies: families, ipFamilyPolicy: policy });
  }

  function assignNodePorts(spec: ServiceSpec, taken: Set<number>): void {
    const free = (): number => {
      for (let port = low; port <= high; port++) if (!taken.has(port)) { taken.add(port); return port; }
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

  return (request): ApiError | undefined => {
    if (request.type.plural !== 'services' || request.operation === 'DELETE') return undefined;
    const spec = specOf(request.object);
    const old = specOf(request.oldObject);
    if (request.oldObject) {
      keepAllocated(spec, old);
      if (old.clusterIP && spec.clusterIP && old.clusterIP !== spec.clusterIP && spec.type !== 'ExternalName' && old.type !== 'ExternalName') {
        return invalid('Service', '', request.object.metadata.name ?? '', [{ reason: 'FieldValueInvalid', field: 'spec.clusterIPs[0]', message: `Invalid value: ${JSON.stringify(spec.clusterIP)}: may not change once set` }]);
      }
    }
    const rest = others(request.object);
    const takenIps = new Set(rest.flatMap((s) => s.clusterIPs ?? (s.clusterIP ? [s.clusterIP] : [])).filter((ip) => ip !== 'None'));
    const takenPorts = new Set(rest.flatMap((s) => [...(s.ports ?? []).map((p) => p.nodePort ?? 0), s.healthCheckNodePort ?? 0]).filter((p) => p > 0));
    try {
      assignIps(spec, takenIps);
      assignNodePorts(spec, takenPorts);
    } catch (error) {
      if (!(error instanceof AllocationError)) throw error;
      return invalid('Service', '', request.object.metadata.name ?? '', [{ reason: 'FieldValueInvalid', field: error.field, message: `Invalid value: ${JSON.stringify(error.value)}: ${error.message}` }]);
    }
    return undefined;
  };
}
