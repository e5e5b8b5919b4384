// Pure planning of a Service's EndpointSlices from its selected Pods: one slice per address family and
// resolved port set (named targetPorts are looked up in each pod's container ports), with ready/serving/
// terminating conditions from the pod's Ready condition and deletionTimestamp.
import type { Pod, Service } from 'kubernetes-types/core/v1.d.ts';
import type { Endpoint, EndpointPort } from 'kubernetes-types/discovery/v1.d.ts';
import { parseIp } from '../../src/net/ip.ts';
import { mapSelectorMatches } from '../apiserver/selectors.ts';

export type AddressType = 'IPv4' | 'IPv6';

export interface DesiredSlice { addressType: AddressType; ports: EndpointPort[]; endpoints: Endpoint[] }

/** Whether the endpointslice controller manages slices for this service at all. */
export function servicePlansSlices(service: Service): boolean {
  const spec = service.spec ?? {};
  return spec.type !== 'ExternalName' && Object.keys(spec.selector ?? {}).length > 0;
}

export function serviceSelects(service: Service, pod: Pod): boolean {
  return servicePlansSlices(service) && pod.metadata?.namespace === service.metadata?.namespace
    && mapSelectorMatches(service.spec?.selector ?? {}, pod.metadata?.labels);
}

/** The port of `pod` a service port reaches, or undefined when a named targetPort has no matching container port. */
export function resolveTargetPort(pod: Pod, targetPort: number | string | undefined, fallback: number, protocol: string): number | undefined {
  if (targetPort === undefined) return fallback;
  if (typeof targetPort === 'number') return targetPort;
  if (/^\d+$/.test(targetPort)) return Number(targetPort);
  for (const container of pod.spec?.containers ?? []) {
    const match = (container.ports ?? []).find((p) => p.name === targetPort && (p.protocol ?? 'TCP') === protocol);
    if (match) return match.containerPort;
  }
  return undefined;
}

function podAddress(pod: Pod, family: AddressType): string | undefined {
  const ips = pod.status?.podIPs?.map((p) => p.ip ?? '') ?? (pod.status?.podIP ? [pod.status.podIP] : []);
  return ips.find((ip) => { const p = parseIp(ip); return p.ok && p.value.family === (family === 'IPv4' ? 4 : 6); });
}

function podReady(pod: Pod): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

function endpointFor(service: Service, pod: Pod, address: string): Endpoint {
  const terminating = Boolean(pod.metadata?.deletionTimestamp);
  const publishNotReady = service.spec?.publishNotReadyAddresses === true;
  const ready = publishNotReady || (podReady(pod) && !terminating);
  const serving = publishNotReady || podReady(pod);
  return {
    addresses: [address],
    conditions: { ready, serving, terminating },
    ...(pod.spec?.nodeName ? { nodeName: pod.spec.nodeName } : {}),
    targetRef: { kind: 'Pod', namespace: pod.metadata?.namespace ?? '', name: pod.metadata?.name ?? '', uid: pod.metadata?.uid ?? '' },
  };
}

function portsFor(service: Service, pod: Pod): EndpointPort[] {
  const ports: EndpointPort[] = [];
  for (const servicePort of service.spec?.ports ?? []) {
    const protocol = servicePort.protocol ?? 'TCP';
    const port = resolveTargetPort(pod, servicePort.targetPort, servicePort.port, protocol);
    if (port === undefined) continue;
    ports.push({ name: servicePort.name ?? '', port, protocol, ...(servicePort.appProtocol ? { appProtocol: servicePort.appProtocol } : {}) });
  }
  return ports;
}

export function portSetKey(addressType: string, ports: readonly EndpointPort[]): string {
  return `${addressType}|${ports.map((p) => `${p.name ?? ''}/${p.protocol ?? 'TCP'}/${p.port ?? ''}`).sort().join(',')}`;
}

/** Upstream's default --max-endpoints-per-slice. */
export const MAX_ENDPOINTS_PER_SLICE = 100;

/** The slices the service should have (at most `maxPerSlice` endpoints each); a family without endpoints gets one empty slice. */
export function planEndpointSlices(service: Service, pods: readonly Pod[], maxPerSlice = MAX_ENDPOINTS_PER_SLICE): DesiredSlice[] {
  if (!servicePlansSlices(service)) return [];
  const families = (service.spec?.ipFamilies?.length ? service.spec.ipFamilies : ['IPv4']) as AddressType[];
  const groups = new Map<string, DesiredSlice>();
  const selected = pods.filter((pod) => serviceSelects(service, pod)
    && pod.status?.phase !== 'Succeeded' && pod.status?.phase !== 'Failed')
    .sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  for (const family of families) {
    for (const pod of selected) {
      const address = podAddress(pod, family);
      if (!address) continue;
      const ports = portsFor(service, pod);
      const key = portSetKey(family, ports);
      const group = groups.get(key) ?? { addressType: family, ports, endpoints: [] };
      group.endpoints.push(endpointFor(service, pod, address));
      groups.set(key, group);
    }
    if (![...groups.values()].some((g) => g.addressType === family)) groups.set(portSetKey(family, []), { addressType: family, ports: [], endpoints: [] });
  }
  return [...groups.values()].flatMap((group) => {
    if (group.endpoints.length <= maxPerSlice) return [group];
    const chunks: DesiredSlice[] = [];
    for (let i = 0; i < group.endpoints.length; i += maxPerSlice) {
      chunks.push({ ...group, endpoints: group.endpoints.slice(i, i + maxPerSlice) });
    }
    return chunks;
  });
}
