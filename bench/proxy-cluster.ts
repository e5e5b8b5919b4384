// A synthetic cluster for the proxy bench: N ClusterIP Services (one TCP port each) with one EndpointSlice of 10
// ready endpoints on other nodes, served to ProxyController as an in-memory ProxySource keyed like the daemon's
// cache (a Service's slices by index, no scans). Addresses: ClusterIPs in 198.18.0.0/16, endpoints in 198.19.0.0/16.
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import type { ProxySource } from '../src/controllers/proxy/controller.ts';
import type { ProxyNode } from '../src/controllers/proxy/plan-service.ts';
import type { ProxyConfig } from '../src/controllers/proxy/service-ips.ts';

export const ENDPOINTS_PER_SERVICE = 10;
export const NODE_IP = '198.51.100.11';
const NAMESPACE = 'bench';
const SERVICE_PORT = 80;
const TARGET_PORT = 8080;
/** 198.18.0.0/16 holds up to 65,534 ClusterIPs. */
export const MAX_SERVICES = 65_534;
/** Endpoint addresses cycle through this many /32s of 198.19.0.0/16 (a pod may back several Services). */
const ENDPOINT_POOL = 65_000;

export const NODE: ProxyNode = { name: 'bench-node', addresses: { ipv4: NODE_IP }, nodePortAddresses: { ipv4: [], ipv6: [] }, podCidrs: ['198.19.255.0/24'] };

export const CONFIG: ProxyConfig = {
  families: ['ipv4'], clusterIpRanges: ['198.18.0.0/16'], externalIpRanges: [], loadBalancerIpRanges: [],
  strictExternalIpValidation: false, hairpinAll: false, nodePortBindOnAllIp: false,
};

const clusterIp = (i: number): string => `198.18.${((i + 1) >> 8) & 255}.${(i + 1) & 255}`;
const podIp = (g: number): string => `198.19.${(g >> 8) & 255}.${g & 255}`;

function serviceObject(i: number): Service {
  return {
    apiVersion: 'v1', kind: 'Service',
    metadata: { namespace: NAMESPACE, name: `svc-${i}`, resourceVersion: '1' },
    spec: {
      type: 'ClusterIP', clusterIP: clusterIp(i), clusterIPs: [clusterIp(i)],
      ports: [{ name: 'http', protocol: 'TCP', port: SERVICE_PORT, targetPort: TARGET_PORT }],
    },
  };
}

function sliceObject(i: number, addresses: readonly string[], version: number): EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4',
    metadata: { namespace: NAMESPACE, name: `svc-${i}-abcde`, labels: { 'kubernetes.io/service-name': `svc-${i}` }, resourceVersion: String(version) },
    endpoints: addresses.map((ip, j) => ({
      addresses: [ip], nodeName: `node-${(i + j) % 100}`, conditions: { ready: true, serving: true, terminating: false },
    })),
    ports: [{ name: 'http', port: TARGET_PORT, protocol: 'TCP' }],
  };
}

export class BenchProxyCluster implements ProxySource {
  private readonly svcs = new Map<string, Service>();
  private readonly slices = new Map<string, EndpointSlice>();
  private readonly slicesByService = new Map<string, EndpointSlice[]>();
  private readonly serviceList: Service[] = [];
  /** Next unused endpoint address for endpoint changes (cycles through the pool past the initial ones). */
  private nextEndpoint: number;

  constructor(readonly count: number) {
    if (!Number.isInteger(count) || count < 1 || count > MAX_SERVICES) throw new Error(`services must be 1..${MAX_SERVICES}`);
    for (let i = 0; i < count; i++) {
      const svc = serviceObject(i);
      this.svcs.set(`${NAMESPACE}/svc-${i}`, svc);
      this.serviceList.push(svc);
      const ips = Array.from({ length: ENDPOINTS_PER_SERVICE }, (_, j) => podIp(((i * ENDPOINTS_PER_SERVICE + j) % ENDPOINT_POOL) + 1));
      this.putSlice(i, sliceObject(i, ips, 1));
    }
    this.nextEndpoint = (count * ENDPOINTS_PER_SERVICE) % ENDPOINT_POOL;
  }

  services(): Iterable<Service> {
    return this.serviceList;
  }

  service(key: string): Service | undefined {
    return this.svcs.get(key);
  }

  slicesOf(serviceKey: string): readonly EndpointSlice[] {
    return this.slicesByService.get(serviceKey) ?? [];
  }

  slice(key: string): EndpointSlice | undefined {
    return this.slices.get(key);
  }

  node(): ProxyNode {
    return NODE;
  }

  /**
   * One endpoint of Service `i` replaced by a pod with a new address (a rolling update, one pod at a time): the
   * slice is a new object, as the cache holds after a watch event. Returns the slice's key for the change.
   */
  replaceEndpoint(i: number): string {
    const key = `${NAMESPACE}/svc-${i}-abcde`;
    const old = this.slices.get(key);
    if (!old) throw new Error(`no slice ${key}`);
    const ips = (old.endpoints ?? []).map((e) => e.addresses[0] as string);
    const inUse = new Set(ips);
    let fresh: string;
    do {
      fresh = podIp((this.nextEndpoint++ % ENDPOINT_POOL) + 1);
    } while (inUse.has(fresh));
    ips[(Number(old.metadata?.resourceVersion) - 1) % ips.length] = fresh;
    this.putSlice(i, sliceObject(i, ips, Number(old.metadata?.resourceVersion) + 1));
    return key;
  }

  private putSlice(i: number, slice: EndpointSlice): void {
    this.slices.set(`${NAMESPACE}/${slice.metadata?.name}`, slice);
    this.slicesByService.set(`${NAMESPACE}/svc-${i}`, [slice]);
  }
}
