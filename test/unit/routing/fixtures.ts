// Builders for the routes controller's planner tests: Nodes, Services, EndpointSlices and its config from flags.
import type { Node, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { parseCommandLine } from '../../../src/cli/command-line.ts';
import { routingConfig, type RoutingConfig } from '../../../src/controllers/routing/config.ts';

export function configFromFlags(...flags: string[]): RoutingConfig {
  const outcome = parseCommandLine(['--hostname-override=n1', ...flags], {});
  if (outcome.kind !== 'run') throw new Error(`bad test flags: ${JSON.stringify(outcome)}`);
  return routingConfig(outcome.options);
}

export function node(name: string, ips: string[], annotations: Record<string, string> = {}, podCIDRs: string[] = []): Node {
  return {
    apiVersion: 'v1', kind: 'Node',
    metadata: { name, annotations },
    spec: { podCIDRs, ...(podCIDRs[0] ? { podCIDR: podCIDRs[0] } : {}) },
    status: { addresses: ips.map((address) => ({ type: 'InternalIP', address })) },
  };
}

export function service(name: string, spec: Service['spec'], annotations: Record<string, string> = {}, status: Service['status'] = {}): Service {
  return { apiVersion: 'v1', kind: 'Service', metadata: { namespace: 'default', name, annotations }, spec, status };
}

export function slice(svc: string, endpoints: Array<{ ip: string; nodeName?: string; ready?: boolean }>): EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4',
    metadata: { namespace: 'default', name: `${svc}-abc`, labels: { 'kubernetes.io/service-name': svc } },
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip], ...(e.nodeName ? { nodeName: e.nodeName } : {}), conditions: { ready: e.ready ?? true },
    })),
  };
}
