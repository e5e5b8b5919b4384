// Pure planning of the paths this node originates: its pod CIDR(s) and the service VIPs it advertises (upstream's
// VIP selection, per service, so a broken or endpoint-less service only ever affects itself).
import type { Node, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import type { Path } from '../../bgp/speaker.ts';
import { parseGoBool } from '../../config/go-values.ts';
import { cidrTextContainsIp, familyOf } from '../../net/cidr.ts';
import { familyName, isIp } from '../../net/ip.ts';
import type { RoutingConfig } from './config.ts';
import type { LocalBgp, Problem } from './model.ts';

export const SERVICE_ANNOTATION = {
  advertiseClusterIp: 'kube-router.io/service.advertise.clusterip',
  advertiseExternalIp: 'kube-router.io/service.advertise.externalip',
  advertiseLoadBalancerIp: 'kube-router.io/service.advertise.loadbalancerip',
  local: 'kube-router.io/service.local',
  skipLbIps: 'kube-router.io/service.skiplbips',
} as const;

/** Labels and annotations that take a Service or EndpointSlice out of VIP advertisement (as upstream). */
export const HEADLESS_LABEL = 'service.kubernetes.io/headless';
export const LEADER_ELECTION_ANNOTATION = 'control-plane.alpha.kubernetes.io/leader';

/** Slices of headless services, and old Endpoints-based leader-election records (rewritten every few seconds). */
export function isIgnoredSlice(slice: EndpointSlice): boolean {
  return slice.metadata?.labels?.[HEADLESS_LABEL] !== undefined || slice.metadata?.annotations?.[LEADER_ELECTION_ANNOTATION] !== undefined;
}

export type VipOptions = Pick<RoutingConfig,
  'advertiseClusterIp' | 'advertiseExternalIp' | 'advertiseLoadBalancerIp' | 'serviceClusterIpRanges' | 'serviceExternalIpRanges' |
  'loadBalancerIpRanges' | 'strictExternalIpValidation'>;

function nextHopFor(prefix: string, local: LocalBgp): string | undefined {
  const family = familyOf(prefix);
  return family === 4 ? local.ipv4 : family === 6 ? local.ipv6 : undefined;
}

/** Pod CIDR paths with the best node IP of each family as next hop; families without a node IP are left out. */
export function planPodCidrPaths(podCidrs: string[], local: LocalBgp): Path[] {
  const paths: Path[] = [];
  for (const prefix of podCidrs) {
    const nextHop = nextHopFor(prefix, local);
    const family = familyOf(prefix);
    if (nextHop && family) paths.push({ prefix, nextHop, family: familyName(family), origin: 'igp' });
  }
  return paths;
}

/** Host paths (/32 or /128) for VIPs. */
export function planVipPaths(vips: Iterable<string>, local: LocalBgp): Path[] {
  const paths: Path[] = [];
  for (const vip of vips) {
    const family = familyOf(vip);
    const nextHop = nextHopFor(vip, local);
    if (family && nextHop) paths.push({ prefix: `${vip}/${family === 4 ? 32 : 128}`, nextHop, family: familyName(family), origin: 'igp' });
  }
  return paths;
}

/** svcip validation: strict mode wants the IP inside an allowed range and outside every cluster-IP range. */
function allowedVip(ip: string, ranges: string[], options: VipOptions): boolean {
  if (!isIp(ip)) return false;
  if (!options.strictExternalIpValidation) return true;
  if (options.serviceClusterIpRanges.some((r) => cidrTextContainsIp(r, ip))) return false;
  return ranges.some((r) => cidrTextContainsIp(r, ip));
}

export interface ServiceVipPlan {
  /** The VIPs this service wants advertised from this node. */
  vips: string[];
  problems: Problem[];
}

/** True if one of the service's endpoints runs on this node (by nodeName, or by an address that is a node IP). */
export function hasLocalEndpoint(slices: EndpointSlice[], nodeName: string, nodeIps: ReadonlySet<string>): boolean {
  for (const slice of slices) {
    for (const ep of slice.endpoints ?? []) {
      if (ep.conditions?.ready === false && ep.conditions?.serving !== true) continue;
      if (ep.nodeName === nodeName || ep.addresses.some((a) => nodeIps.has(a))) return true;
    }
  }
  return false;
}

function flag(svc: Service, key: string, fallback: boolean, problems: Problem[]): boolean {
  const text = svc.metadata?.annotations?.[key];
  if (text === undefined) return fallback;
  const parsed = parseGoBool(text);
  if (parsed.ok) return parsed.value;
  problems.push({ subject: svc, reason: 'BadAdvertiseAnnotation', message: `annotation ${key}: "${text}" is not a boolean; using the flag's value` });
  return fallback;
}

/** Upstream's getAllVIPsForService + the traffic-policy gates, for one service. */
export function planServiceVips(svc: Service, slices: EndpointSlice[], nodeName: string, nodeIps: ReadonlySet<string>, options: VipOptions): ServiceVipPlan {
  const problems: Problem[] = [];
  const type = svc.spec?.type ?? 'ClusterIP';
  if (type === 'ExternalName' || svc.metadata?.labels?.[HEADLESS_LABEL] !== undefined) return { vips: [], problems };
  slices = slices.filter((s) => !isIgnoredSlice(s));
  const annotations = svc.metadata?.annotations ?? {};
  const advertiseCluster = flag(svc, SERVICE_ANNOTATION.advertiseClusterIp, options.advertiseClusterIp, problems);
  const advertiseExternal = flag(svc, SERVICE_ANNOTATION.advertiseExternalIp, options.advertiseExternalIp, problems);
  const advertiseLb = flag(svc, SERVICE_ANNOTATION.advertiseLoadBalancerIp, options.advertiseLoadBalancerIp, problems);
  const local = hasLocalEndpoint(slices, nodeName, nodeIps);
  const internalLocal = svc.spec?.internalTrafficPolicy === 'Local';
  const externalLocal = svc.spec?.externalTrafficPolicy === 'Local' || annotations[SERVICE_ANNOTATION.local] === 'true';
  const vips = new Set<string>();
  if (advertiseCluster && !(internalLocal && !local)) {
    const clusterIps = svc.spec?.clusterIPs?.length ? svc.spec.clusterIPs : svc.spec?.clusterIP ? [svc.spec.clusterIP] : [];
    for (const ip of clusterIps) if (ip !== 'None' && isIp(ip)) vips.add(ip);
  }
  const externalGate = !(externalLocal && !local);
  if (advertiseExternal && externalGate) {
    for (const ip of svc.spec?.externalIPs ?? []) {
      if (allowedVip(ip, options.serviceExternalIpRanges, options)) vips.add(ip);
      else problems.push({ subject: svc, reason: 'ExternalIpNotAllowed', message: `external IP ${ip} is outside --service-external-ip-range or inside a cluster-IP range; not advertised` });
    }
  }
  if (advertiseLb && externalGate && type === 'LoadBalancer' && annotations[SERVICE_ANNOTATION.skipLbIps] === undefined) {
    for (const ingress of svc.status?.loadBalancer?.ingress ?? []) {
      if (!ingress.ip || ingress.ipMode === 'Proxy') continue;
      if (allowedVip(ingress.ip, options.loadBalancerIpRanges, options)) vips.add(ingress.ip);
      else problems.push({ subject: svc, reason: 'LoadBalancerIpNotAllowed', message: `load-balancer IP ${ingress.ip} is outside --loadbalancer-ip-range or inside a cluster-IP range; not advertised` });
    }
  }
  return { vips: [...vips].sort(), problems };
}

/** Union of every service's VIPs: a VIP shared by several services stays while any of them still wants it. */
export function unionVips(perService: ReadonlyMap<string, readonly string[]>): Set<string> {
  const all = new Set<string>();
  for (const vips of perService.values()) for (const vip of vips) all.add(vip);
  return all;
}
