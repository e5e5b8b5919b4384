// Which endpoints a virtual service sends to: the EndpointSlice ports matching the Service port, the endpoints
// of the right address family, narrowed by the traffic policy, ready ones first.
import type { ServicePort } from 'kubernetes-types/core/v1.js';
import type { Endpoint, EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { compareDestinations, type Destination, type Family, type Problem, type Protocol } from './model.ts';

export interface EndpointCandidate {
  address: string;
  port: number;
  local: boolean;
  ready: boolean;
  /** Serving while terminating: used only when no ready endpoint is left (kube-proxy's rule, not upstream's). */
  servingTerminating: boolean;
}

/** Endpoints of one Service port in one family, before the traffic policy is applied. */
export type PortEndpoints = Map<Family, EndpointCandidate[]>;

const ADDRESS_TYPES: Record<string, Family> = { IPv4: 'ipv4', IPv6: 'ipv6' };

function conditionsOf(e: Endpoint): { ready: boolean; serving: boolean; terminating: boolean } {
  // Unset conditions mean "unknown"; consumers treat unknown readiness as ready (discovery/v1 API docs).
  const ready = e.conditions?.ready ?? true;
  const terminating = e.conditions?.terminating ?? false;
  return { ready: ready && !terminating, serving: e.conditions?.serving ?? ready, terminating };
}

function slicePortFor(slice: EndpointSlice, port: ServicePort, protocol: Protocol): number | undefined {
  const name = port.name ?? '';
  for (const p of slice.ports ?? []) {
    if ((p.name ?? '') === name && (p.protocol ?? 'TCP') === protocol && typeof p.port === 'number') return p.port;
  }
  return undefined;
}

/**
 * Collects the endpoints of one Service port from its slices, per family. `validAddress` canonicalises an
 * address of the slice's family or returns undefined (reported as a problem on the slice, the rest is used).
 */
export function collectPortEndpoints(
  slices: readonly EndpointSlice[], port: ServicePort, protocol: Protocol, nodeName: string,
  validAddress: (text: string, family: Family) => string | undefined, problems: Problem[],
): PortEndpoints {
  const out: PortEndpoints = new Map();
  const seen = new Set<string>();
  for (const slice of slices) {
    const family = ADDRESS_TYPES[slice.addressType];
    if (!family) continue; // FQDN slices are not for proxies.
    const targetPort = slicePortFor(slice, port, protocol);
    if (targetPort === undefined) continue;
    const list = out.get(family) ?? [];
    for (const endpoint of slice.endpoints ?? []) {
      const { ready, serving, terminating } = conditionsOf(endpoint);
      if (!ready && !(serving && terminating)) continue;
      // One address per endpoint is what the API promises; a slice may still list more (only the first counts).
      const text = endpoint.addresses?.[0];
      if (text === undefined) continue;
      const address = validAddress(text, family);
      if (address === undefined) {
        problems.push({
          kind: 'EndpointSlice', key: `${slice.metadata?.namespace ?? ''}/${slice.metadata?.name ?? ''}`,
          reason: 'InvalidEndpointAddress', message: `endpoint address "${text}" is not a valid ${family} address; endpoint skipped`,
        });
        continue;
      }
      const id = `${address}|${targetPort}`;
      // The same endpoint in two slices (during a slice rewrite) is one destination; a ready copy wins.
      if (seen.has(id)) {
        if (ready) for (const c of list) if (c.address === address && c.port === targetPort) c.ready = true;
        continue;
      }
      seen.add(id);
      list.push({ address, port: targetPort, local: endpoint.nodeName === nodeName, ready, servingTerminating: !ready && serving && terminating });
    }
    if (list.length > 0) out.set(family, list);
  }
  return out;
}

/**
 * The destinations for one virtual service: local endpoints only when the policy is Local, and ready endpoints,
 * or the serving-terminating ones when none is ready (so a rolling restart drains instead of dropping).
 */
export function selectDestinations(candidates: readonly EndpointCandidate[], localOnly: boolean): Destination[] {
  const inScope = localOnly ? candidates.filter((c) => c.local) : candidates;
  const ready = inScope.filter((c) => c.ready);
  const chosen = ready.length > 0 ? ready : inScope.filter((c) => c.servingTerminating);
  return chosen.map((c) => ({ address: c.address, port: c.port, weight: 1, local: c.local })).sort(compareDestinations);
}
