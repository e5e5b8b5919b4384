// The typed, camelCased configuration the daemon and its controllers read (built from flags by src/cli).
// Durations are milliseconds, CIDRs and addresses are canonical strings, passwords are decoded.
import type { FamilyName } from '../net/ip.ts';
import type { LogFormat } from '../observe/log.ts';

export interface PortRange {
  first: number;
  last: number;
}

export interface ExternalPeer {
  ip: string;
  asn: number;
  port: number;
  /** Decoded TCP-MD5 password; empty when the peer has none. Never log it. */
  password: string;
}

/** Settings kube-router takes from its environment rather than from flags. */
export interface EnvironmentSettings {
  /** $NODE_NAME, used when --hostname-override is empty. */
  nodeName?: string;
  /** $KUBE_ROUTER_CNI_CONF_FILE or /etc/cni/net.d/10-kuberouter.conf. */
  cniConfFile: string;
  /** $POD_NAME and $POD_NAMESPACE: the load-balancer allocator's lease identity. */
  podName?: string;
  podNamespace?: string;
}

export interface Options {
  runRouter: boolean;
  runServiceProxy: boolean;
  runFirewall: boolean;
  runLoadBalancer: boolean;
  kubeconfig: string;
  master: string;
  hostnameOverride: string;
  cacheSyncTimeoutMs: number;
  cleanupConfig: boolean;
  enableIpv4: boolean;
  enableIpv6: boolean;
  enablePprof: boolean;
  /** Extension: where --enable-pprof listens (upstream: always 0.0.0.0). */
  pprofAddress: string;
  verbosity: number;
  logFormat: LogFormat;
  serviceClusterIpRanges: string[];
  serviceExternalIpRanges: string[];
  loadBalancerIpRanges: string[];
  strictExternalIpValidation: boolean;
  serviceNodePortRange: PortRange;

  healthAddr: string;
  healthPort: number;
  metricsAddr: string;
  metricsPort: number;
  metricsPath: string;

  advertiseClusterIp: boolean;
  advertiseExternalIp: boolean;
  advertiseLoadBalancerIp: boolean;
  advertisePodCidr: boolean;
  autoMtu: boolean;
  enableBfd: boolean;
  bfdPort: number;
  bfdDetectionMultiplier: number;
  bfdDesiredMinTxIntervalMs: number;
  bfdRequiredMinRxIntervalMs: number;
  bgpGracefulRestart: boolean;
  bgpGracefulRestartTimeMs: number;
  bgpGracefulRestartDeferralTimeMs: number;
  bgpHoldTimeMs: number;
  bgpPort: number;
  /** The effective cluster ASN: --cluster-asn, or 64512 when it is 0. */
  clusterAsn: number;
  nodesFullMesh: boolean;
  enableIbgp: boolean;
  peerRouterIps: string[];
  peerRouterAsns: number[];
  peerRouterPorts: number[];
  peerRouterPasswordsFile: string;
  /** The external peers assembled from the --peer-router-* lists (ports default to 179). */
  externalPeers: ExternalPeer[];
  peerRouterMultihopTtl: number;
  overrideNextHop: boolean;
  /** '' (use the node's IPv4 address), 'generate', or an IPv4 address. */
  routerId: string;
  gobgpAdminAddress: string;
  gobgpAdminPort: number;
  routesSyncPeriodMs: number;
  injectedRoutesSyncPeriodMs: number;
  enableCni: boolean;
  enableOverlay: boolean;
  overlayType: 'subnet' | 'full';
  overlayEncap: 'ipip' | 'fou';
  overlayEncapPort: number;
  enablePodEgress: boolean;
  disableSourceDestCheck: boolean;

  ipvsSyncPeriodMs: number;
  ipvsPermitAll: boolean;
  ipvsGracefulTermination: boolean;
  ipvsGracefulPeriodMs: number;
  masqueradeAll: boolean;
  hairpinMode: boolean;
  nodePortBindOnAllIp: boolean;
  excludedCidrs: string[];
  runtimeEndpoint: string;
  serviceTcpTimeoutMs: number;
  serviceTcpFinTimeoutMs: number;
  serviceUdpTimeoutMs: number;

  iptablesSyncPeriodMs: number;
  netpolDefaultDeny: boolean;
  useNftablesForNetpol: boolean;

  loadBalancerDefaultClass: boolean;
  loadBalancerSyncPeriodMs: number;

  environment: EnvironmentSettings;
}

/** The address families kube-router works in, from --enable-ipv4 / --enable-ipv6, in that order. */
export function enabledFamilies(options: Pick<Options, 'enableIpv4' | 'enableIpv6'>): FamilyName[] {
  const out: FamilyName[] = [];
  if (options.enableIpv4) out.push('ipv4');
  if (options.enableIpv6) out.push('ipv6');
  return out;
}
