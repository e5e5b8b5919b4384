// Plans one Service for this node: the virtual services of each port on each of its frontends (ClusterIPs,
// NodePorts, externalIPs, load-balancer IPs), their destinations, the dummy-link addresses and hairpin rules.
// Pure: the caller passes the Service, its slices, this node and the proxy configuration.
import type { Service, ServicePort } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { type Frontend, type Family, type Problem, type Protocol, type ServicePlan, type VirtualService, virtualServiceKey } from './model.ts';
import { collectPortEndpoints, type PortEndpoints, selectDestinations } from './plan-endpoints.ts';
import { readServiceAnnotations, type ServiceAnnotations } from './service-annotations.ts';
import { canonicalAddress, filterServiceIps, type ProxyConfig } from './service-ips.ts';

/** This node as the planner needs it. */
export interface ProxyNode {
  name: string;
  /** The node's best address per family: where NodePorts listen by default. */
  addresses: Partial<Record<Family, string>>;
  /** With --nodeport-bindon-all-ip: every local address NodePorts listen on, per family. */
  nodePortAddresses: Record<Family, string[]>;
  /** This node's pod CIDRs (traffic from or to them is not masqueraded). */
  podCidrs: string[];
}

const PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP', 'SCTP'];
/** Session affinity timeout when the Service sets none (the API server's default, 3 hours). */
const DEFAULT_AFFINITY_SECONDS = 10_800;

/** True for Services the proxy must ignore: no cluster IP, headless, ExternalName, another proxy's. */
export function isProxied(svc: Service): boolean {
  const labels = svc.metadata?.labels ?? {};
  const proxyName = labels['service.kubernetes.io/service-proxy-name'];
  if (proxyName !== undefined && proxyName !== 'kube-router') return false;
  if (labels['service.kubernetes.io/headless'] !== undefined) return false;
  if (svc.spec?.type === 'ExternalName') return false;
  const ip = svc.spec?.clusterIP;
  return ip !== undefined && ip !== '' && ip !== 'None';
}

interface Frontends {
  clusterIps: string[];
  externalIps: string[];
  loadBalancerIps: string[];
}

function frontendsOf(svc: Service, annotations: ServiceAnnotations, config: ProxyConfig, problems: Problem[], key: string): Frontends {
  const spec = svc.spec ?? {};
  const clusterIps: string[] = [];
  for (const text of spec.clusterIPs ?? (spec.clusterIP ? [spec.clusterIP] : [])) {
    const ip = canonicalAddress(text);
    if (ip && config.families.includes(ip.family)) clusterIps.push(ip.text);
  }
  const report = (reason: string) => (message: string) => problems.push({ kind: 'Service', key, reason, message });
  const externalIps = filterServiceIps(spec.externalIPs ?? [], 'externalIP', config, report('InvalidExternalIP'));
  const ingress = annotations.skipLoadBalancerIps ? [] : (svc.status?.loadBalancer?.ingress ?? [])
    // ipMode Proxy: the load balancer delivers to the node itself, so the IP must not be captured here.
    .filter((i) => i.ip && i.ipMode !== 'Proxy').map((i) => i.ip as string);
  const loadBalancerIps = filterServiceIps(ingress, 'loadBalancerIP', config, report('InvalidLoadBalancerIP'));
  return { clusterIps, externalIps, loadBalancerIps };
}

function protocolOf(port: ServicePort): Protocol | undefined {
  const p = (port.protocol ?? 'TCP').toUpperCase();
  return (PROTOCOLS as readonly string[]).includes(p) ? (p as Protocol) : undefined;
}

export function planService(svc: Service, slices: readonly EndpointSlice[], node: ProxyNode, config: ProxyConfig): ServicePlan {
  const key = `${svc.metadata?.namespace ?? ''}/${svc.metadata?.name ?? ''}`;
  const plan: ServicePlan = { key, virtualServices: [], dummyAddresses: [], hairpin: [], problems: [] };
  if (!isProxied(svc)) return plan;
  const annotations = readServiceAnnotations(svc.metadata?.annotations ?? {}, (reason, message) =>
    plan.problems.push({ kind: 'Service', key, reason, message }));
  const fronts = frontendsOf(svc, annotations, config, plan.problems, key);
  const spec = svc.spec ?? {};
  const internalLocal = spec.internalTrafficPolicy === 'Local';
  const externalLocal = spec.externalTrafficPolicy === 'Local' || annotations.local;
  const persistenceSeconds = spec.sessionAffinity === 'ClientIP'
    ? spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? DEFAULT_AFFINITY_SECONDS : undefined;
  const hairpin = config.hairpinAll || annotations.hairpin;
  const clusterFamilies = new Set(fronts.clusterIps.map((ip) => canonicalAddress(ip)?.family));
  const validEndpoint = (text: string, family: Family): string | undefined => {
    const ip = canonicalAddress(text);
    return ip && ip.family === family ? ip.text : undefined;
  };

  for (const port of spec.ports ?? []) {
    const protocol = protocolOf(port);
    if (!protocol || typeof port.port !== 'number') {
      plan.problems.push({ kind: 'Service', key, reason: 'UnsupportedProtocol', message: `port ${port.name ?? port.port}: protocol ${port.protocol} is not proxied` });
      continue;
    }
    const endpoints: PortEndpoints = collectPortEndpoints(slices, port, protocol, node.name, validEndpoint, plan.problems);
    const add = (address: string, portNumber: number, frontend: Frontend, localOnly: boolean, hairpinHere: boolean): void => {
      const family = canonicalAddress(address)?.family;
      if (!family) return;
      const destinations = selectDestinations(endpoints.get(family) ?? [], localOnly);
      const vs: VirtualService = {
        key: virtualServiceKey(protocol, address, portNumber), family, protocol, address, port: portNumber, frontend,
        scheduler: annotations.scheduler, schedulerFlags: annotations.schedulerFlags, destinations,
        service: key, portName: port.name ?? '',
      };
      if (persistenceSeconds !== undefined) vs.persistenceSeconds = persistenceSeconds;
      plan.virtualServices.push(vs);
      if (hairpinHere) {
        for (const d of destinations) {
          if (d.local) plan.hairpin.push({ family, endpoint: d.address, address, port: portNumber, protocol });
        }
      }
    };
    for (const ip of fronts.clusterIps) add(ip, port.port, 'ClusterIP', internalLocal, hairpin);
    if (typeof port.nodePort === 'number' && port.nodePort > 0 && (spec.type === 'NodePort' || spec.type === 'LoadBalancer')) {
      for (const family of config.families) {
        if (!clusterFamilies.has(family)) continue;
        const addresses = config.nodePortBindOnAllIp ? node.nodePortAddresses[family] : [node.addresses[family]];
        for (const address of addresses) if (address) add(address, port.nodePort, 'NodePort', externalLocal, hairpin);
      }
    }
    for (const ip of fronts.externalIps) add(ip, port.port, 'ExternalIP', externalLocal, hairpin && annotations.hairpinExternalIps);
    for (const ip of fronts.loadBalancerIps) add(ip, port.port, 'LoadBalancer', externalLocal, hairpin && annotations.hairpinExternalIps);
  }
  plan.dummyAddresses = [...new Set([...fronts.clusterIps, ...fronts.externalIps, ...fronts.loadBalancerIps])].sort();
  plan.virtualServices.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return plan;
}

