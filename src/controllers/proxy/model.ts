// The desired state of the service proxy as plain data: what each Service needs on this node (virtual services
// with their destinations, addresses on the dummy link, hairpin rules, firewall entries), independent of the
// dataplane that realises it (IPVS today; nftables can consume the same plan).
import type { FamilyName } from '../../net/ip.ts';

export type Protocol = 'TCP' | 'UDP' | 'SCTP';
export type Family = FamilyName;
export type Scheduler = 'rr' | 'lc' | 'dh' | 'sh' | 'mh';
/** IPVS scheduler flags kube-router exposes (upstream: only for mh). flag-1 = fallback, flag-2 = port. */
export type SchedulerFlag = 'flag-1' | 'flag-2' | 'flag-3';
/** Which Service address a virtual service answers on; decides the traffic policy that applies. */
export type Frontend = 'ClusterIP' | 'NodePort' | 'ExternalIP' | 'LoadBalancer';

export const SCHEDULERS: readonly Scheduler[] = ['rr', 'lc', 'dh', 'sh', 'mh'];
export const SCHEDULER_FLAGS: readonly SchedulerFlag[] = ['flag-1', 'flag-2', 'flag-3'];

export interface Destination {
  address: string;
  port: number;
  weight: number;
  /** The endpoint runs on this node (its traffic keeps the client source address). */
  local: boolean;
}

export interface VirtualService {
  /** Identity of the virtual service in the dataplane: protocol, address and port (see virtualServiceKey). */
  key: string;
  family: Family;
  protocol: Protocol;
  address: string;
  port: number;
  frontend: Frontend;
  scheduler: Scheduler;
  schedulerFlags: SchedulerFlag[];
  /** Session affinity ClientIP: IPVS persistence with this timeout. */
  persistenceSeconds?: number;
  /** Sorted by address, then port. */
  destinations: Destination[];
  /** The Service (`namespace/name`) and its port name this virtual service belongs to. */
  service: string;
  portName: string;
}

/** SNAT for a pod that reaches itself through a Service: the reply must come back through IPVS. */
export interface HairpinRule {
  family: Family;
  endpoint: string;
  address: string;
  port: number;
  protocol: Protocol;
}

/** Something wrong with the Service or one of its slices; the rest of the Service is still programmed. */
export interface Problem {
  kind: 'Service' | 'EndpointSlice';
  /** `namespace/name` of the object at fault. */
  key: string;
  reason: string;
  message: string;
}

export interface ServicePlan {
  /** `namespace/name` of the Service. */
  key: string;
  virtualServices: VirtualService[];
  /** Addresses that must be on the dummy link: ClusterIPs, externalIPs, load-balancer IPs (not node IPs). */
  dummyAddresses: string[];
  hairpin: HairpinRule[];
  problems: Problem[];
}

export function virtualServiceKey(protocol: Protocol, address: string, port: number): string {
  return address.includes(':') ? `${protocol}/[${address}]:${port}` : `${protocol}/${address}:${port}`;
}

/** Orders destinations so that plans compare equal whatever order the slices listed them in. */
export function compareDestinations(a: Destination, b: Destination): number {
  return a.address < b.address ? -1 : a.address > b.address ? 1 : a.port - b.port;
}
