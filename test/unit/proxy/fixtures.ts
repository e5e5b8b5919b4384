// Small builders for Services, EndpointSlices and the node the proxy planner tests use.
import type { Service, ServicePort, ServiceSpec } from 'kubernetes-types/core/v1.js';
import type { Endpoint, EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import type { ProxyNode } from '../../../src/controllers/proxy/plan-service.ts';
import type { ProxyConfig } from '../../../src/controllers/proxy/service-ips.ts';

export const NODE: ProxyNode = {
  name: 'n1',
  addresses: { ipv4: '198.51.100.11', ipv6: '2001:db8::11' },
  nodePortAddresses: { ipv4: ['198.51.100.11', '198.51.100.111'], ipv6: ['2001:db8::11'] },
  podCidrs: ['198.18.1.0/24'],
};

export const CONFIG: ProxyConfig = {
  families: ['ipv4', 'ipv6'],
  clusterIpRanges: ['10.96.0.0/12', 'fd00:96::/108'],
  externalIpRanges: ['198.18.10.0/24', '2001:db8:10::/64'],
  loadBalancerIpRanges: ['198.18.20.0/24'],
  strictExternalIpValidation: true,
  hairpinAll: false,
  nodePortBindOnAllIp: false,
};

export function service(name: string, spec: Partial<ServiceSpec>, extra: { annotations?: Record<string, string>; labels?: Record<string, string>; ingress?: { ip: string; ipMode?: string }[] } = {}): Service {
  const ports: ServicePort[] = spec.ports ?? [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 }];
  return {
    apiVersion: 'v1', kind: 'Service',
    metadata: { namespace: 'default', name, annotations: extra.annotations ?? {}, labels: extra.labels ?? {} },
    spec: { type: 'ClusterIP', clusterIP: '10.96.0.10', clusterIPs: [spec.clusterIP ?? '10.96.0.10'], ...spec, ports },
    ...(extra.ingress ? { status: { loadBalancer: { ingress: extra.ingress } } } : {}),
  } as Service;
}

export interface EndpointSpec {
  ip: string;
  node?: string;
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
}

export function slice(svc: string, family: 'IPv4' | 'IPv6', endpoints: EndpointSpec[], ports: { name?: string; port: number; protocol?: string }[] = [{ name: 'http', port: 8080, protocol: 'TCP' }], name = `${svc}-${family.toLowerCase()}`): EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: family,
    metadata: { namespace: 'default', name, labels: { 'kubernetes.io/service-name': svc } },
    endpoints: endpoints.map((e): Endpoint => ({
      addresses: [e.ip], nodeName: e.node ?? 'n2',
      conditions: { ready: e.ready ?? true, serving: e.serving ?? e.ready ?? true, terminating: e.terminating ?? false },
    })),
    ports: ports.map((p) => ({ name: p.name ?? '', port: p.port, protocol: p.protocol ?? 'TCP' })),
  } as EndpointSlice;
}
