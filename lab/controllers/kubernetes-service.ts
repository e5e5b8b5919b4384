// The default/kubernetes Service and its EndpointSlice pointing at the API server, as every cluster has them
// (the service proxy under test then serves the API on the first ClusterIP like in a real cluster).
import type { LabApi } from '../apiserver/api.ts';
import { parseCidr } from '../../src/net/cidr.ts';
import { formatIp, ipFromBigInt, ipToBigInt, parseIp } from '../../src/net/ip.ts';
import type { Result } from '../apiserver/status-errors.ts';
import type { KubeObject } from '../apiserver/resources.ts';

export interface ApiEndpoint { ip: string; port: number }

/** Creates (or refreshes) default/kubernetes with the first address of the primary service CIDR. */
export function ensureKubernetesService(api: LabApi, endpoint: ApiEndpoint, serviceCidrs: readonly string[]): Result<KubeObject> {
  const parsedCidr = parseCidr(serviceCidrs[0] ?? '');
  const parsedIp = parseIp(endpoint.ip);
  if (!parsedCidr.ok || !parsedIp.ok) throw new Error(`invalid service CIDR ${String(serviceCidrs[0])} or endpoint ${endpoint.ip}`);
  const services = api.type('', 'services');
  const slices = api.type('discovery.k8s.io', 'endpointslices');
  const primary = parsedCidr.value;
  const address = parsedIp.value;
  const clusterIP = formatIp(ipFromBigInt(primary.family, ipToBigInt({ family: primary.family, bytes: primary.network }) + 1n));
  if (!api.get(services, 'default', 'kubernetes').ok) {
    const created = api.create(services, {
      apiVersion: 'v1', kind: 'Service',
      metadata: { name: 'kubernetes', namespace: 'default', labels: { component: 'apiserver', provider: 'kubernetes' } },
      spec: { clusterIP, ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: endpoint.port }] },
    });
    if (!created.ok) return created;
  }
  const slice: KubeObject = {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
    metadata: { name: 'kubernetes', namespace: 'default', labels: { 'kubernetes.io/service-name': 'kubernetes' } },
    addressType: address.family === 4 ? 'IPv4' : 'IPv6',
    endpoints: [{ addresses: [formatIp(address)], conditions: { ready: true, serving: true, terminating: false } }],
    ports: [{ name: 'https', port: endpoint.port, protocol: 'TCP' }],
  };
  const existing = api.get(slices, 'default', 'kubernetes');
  return existing.ok ? api.update(slices, { ...slice, metadata: { ...slice.metadata, resourceVersion: existing.value.metadata.resourceVersion } })
    : api.create(slices, slice);
}
