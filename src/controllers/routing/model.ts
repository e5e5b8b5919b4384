// Plain data shared by the routes controller's planners and apply layers: this node's BGP identity, the problems a
// planner reports about individual objects, and the families in play.
import type { AddressFamily } from '../../bgp/speaker.ts';
import type { EventSubject } from '../../observe/events.ts';

/** Something wrong with one object: reported on that object (Event + log + metric), the rest carries on. */
export interface Problem {
  subject: EventSubject;
  reason: string;
  message: string;
}

/** This node as the BGP speaker sees it. */
export interface LocalBgp {
  asn: number;
  routerId: string;
  listenAddresses: string[];
  /** This node's primary IP (the local address of iBGP sessions). */
  primaryIp: string;
  /** Best IP of each family, the next hop of the paths we originate. */
  ipv4?: string;
  ipv6?: string;
  /** Set when this node is a route-reflector server (kube-router.io/rr.server). */
  rrServerClusterId?: string;
  /** Set when this node is a route-reflector client (kube-router.io/rr.client). */
  rrClientClusterId?: string;
}

/** The families the options enable. */
export { enabledFamilies } from '../../config/options.ts';
