// The routes controller's configuration: the part of the daemon's Options it reads (names as in Options),
// so its planners and appliers never see the rest.
import type { ExternalPeer, Options } from '../../config/options.ts';

export interface RoutingConfig {
  enableIpv4: boolean;
  enableIpv6: boolean;
  routesSyncPeriodMs: number;
  injectedRoutesSyncPeriodMs: number;

  // The BGP daemon and this node's BGP identity.
  gobgpAdminAddress: string;
  gobgpAdminPort: number;
  enableBfd: boolean;
  bgpPort: number;
  /** The effective cluster ASN (64512 when --cluster-asn is 0). */
  clusterAsn: number;
  /** '' (use the node's IPv4 address), 'generate', or an IPv4 address. */
  routerId: string;
  bgpGracefulRestart: boolean;
  bgpGracefulRestartTimeMs: number;
  bgpGracefulRestartDeferralTimeMs: number;

  // Peers.
  nodesFullMesh: boolean;
  enableIbgp: boolean;
  bgpHoldTimeMs: number;
  externalPeers: ExternalPeer[];
  peerRouterMultihopTtl: number;

  // What this node advertises, and how.
  advertiseClusterIp: boolean;
  advertiseExternalIp: boolean;
  advertiseLoadBalancerIp: boolean;
  advertisePodCidr: boolean;
  serviceClusterIpRanges: string[];
  serviceExternalIpRanges: string[];
  loadBalancerIpRanges: string[];
  strictExternalIpValidation: boolean;
  overrideNextHop: boolean;

  // Host setup: bridge and CNI file, pod egress masquerading, tunnels.
  enableCni: boolean;
  /** Where the CNI configuration is written ($KUBE_ROUTER_CNI_CONF_FILE or the default path). */
  cniConfFile: string;
  autoMtu: boolean;
  enablePodEgress: boolean;
  enableOverlay: boolean;
  overlayType: 'subnet' | 'full';
  overlayEncap: 'ipip' | 'fou';
  overlayEncapPort: number;
}

export function routingConfig(options: Options): RoutingConfig {
  return {
    enableIpv4: options.enableIpv4,
    enableIpv6: options.enableIpv6,
    routesSyncPeriodMs: options.routesSyncPeriodMs,
    injectedRoutesSyncPeriodMs: options.injectedRoutesSyncPeriodMs,
    gobgpAdminAddress: options.gobgpAdminAddress,
    gobgpAdminPort: options.gobgpAdminPort,
    enableBfd: options.enableBfd,
    bgpPort: options.bgpPort,
    clusterAsn: options.clusterAsn,
    routerId: options.routerId,
    bgpGracefulRestart: options.bgpGracefulRestart,
    bgpGracefulRestartTimeMs: options.bgpGracefulRestartTimeMs,
    bgpGracefulRestartDeferralTimeMs: options.bgpGracefulRestartDeferralTimeMs,
    nodesFullMesh: options.nodesFullMesh,
    enableIbgp: options.enableIbgp,
    bgpHoldTimeMs: options.bgpHoldTimeMs,
    externalPeers: options.externalPeers,
    peerRouterMultihopTtl: options.peerRouterMultihopTtl,
    advertiseClusterIp: options.advertiseClusterIp,
    advertiseExternalIp: options.advertiseExternalIp,
    advertiseLoadBalancerIp: options.advertiseLoadBalancerIp,
    advertisePodCidr: options.advertisePodCidr,
    serviceClusterIpRanges: options.serviceClusterIpRanges,
    serviceExternalIpRanges: options.serviceExternalIpRanges,
    loadBalancerIpRanges: options.loadBalancerIpRanges,
    strictExternalIpValidation: options.strictExternalIpValidation,
    overrideNextHop: options.overrideNextHop,
    enableCni: options.enableCni,
    cniConfFile: options.environment.cniConfFile,
    autoMtu: options.autoMtu,
    enablePodEgress: options.enablePodEgress,
    enableOverlay: options.enableOverlay,
    overlayType: options.overlayType,
    overlayEncap: options.overlayEncap,
    overlayEncapPort: options.overlayEncapPort,
  };
}
