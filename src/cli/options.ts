// Builds the typed Options (src/config/options.ts) from parsed, validated flags and the environment.
import type { EnvironmentSettings, Options } from '../config/options.ts';
import type { LogFormat } from '../observe/log.ts';
import { DEFAULT_CLUSTER_ASN } from './asn.ts';
import type { FlagValue } from './flag-kinds.ts';
import { canonicalCidr } from '../net/cidr.ts';
import type { ParsedFlags } from './pflag.ts';
import { parsePortRange } from './value-checks.ts';

export const DEFAULT_CNI_CONF_FILE = '/etc/cni/net.d/10-kuberouter.conf';
export const DEFAULT_BGP_PORT = 179;

// Typed access to parsed values; a wrong name or kind is a bug in this file, hence the throw.
function reader(values: Map<string, FlagValue>) {
  function get(name: string): FlagValue {
    const value = values.get(name);
    if (value === undefined) throw new Error(`no flag named --${name}`);
    return value;
  }
  function typed<T>(name: string, guard: (value: FlagValue) => boolean): T {
    const value = get(name);
    if (!guard(value)) throw new Error(`--${name} does not hold the expected kind of value`);
    return value as T;
  }
  return {
    bool: (name: string) => typed<boolean>(name, (v) => typeof v === 'boolean'),
    text: (name: string) => typed<string>(name, (v) => typeof v === 'string'),
    num: (name: string) => typed<number>(name, (v) => typeof v === 'number'),
    texts: (name: string) => typed<string[]>(name, (v) => Array.isArray(v) && v.every((e) => typeof e === 'string')),
    nums: (name: string) => typed<number[]>(name, (v) => Array.isArray(v) && v.every((e) => typeof e === 'number')),
  };
}

function canonicalCidrs(cidrs: string[]): string[] {
  return cidrs.map((cidr) => {
    const parsed = canonicalCidr(cidr);
    return parsed.ok ? parsed.value : cidr;
  });
}

export function environmentSettings(env: NodeJS.ProcessEnv): EnvironmentSettings {
  const nonEmpty = (name: string): string | undefined => (env[name] === '' ? undefined : env[name]);
  const settings: EnvironmentSettings = { cniConfFile: nonEmpty('KUBE_ROUTER_CNI_CONF_FILE') ?? DEFAULT_CNI_CONF_FILE };
  const nodeName = nonEmpty('NODE_NAME');
  const podName = nonEmpty('POD_NAME');
  const podNamespace = nonEmpty('POD_NAMESPACE');
  if (nodeName !== undefined) settings.nodeName = nodeName;
  if (podName !== undefined) settings.podName = podName;
  if (podNamespace !== undefined) settings.podNamespace = podNamespace;
  return settings;
}

// An explicit --log-format wins; otherwise $KUBE_ROUTER_LOG_FORMAT (which the logger already honours) does.
function logFormat(parsed: ParsedFlags, env: NodeJS.ProcessEnv): LogFormat {
  const fromEnv = env['KUBE_ROUTER_LOG_FORMAT'];
  if (!parsed.givenText.has('log-format') && (fromEnv === 'json' || fromEnv === 'text')) return fromEnv;
  return reader(parsed.values).text('log-format') as LogFormat;
}

/** Builds Options from flags that already passed validation; `peerPasswords` are the decoded passwords. */
export function buildOptions(parsed: ParsedFlags, env: NodeJS.ProcessEnv, peerPasswords: string[]): Options {
  const f = reader(parsed.values);
  // Already canonical: the ipSlice kind prints each address in Go's form while parsing.
  const peerIps = f.texts('peer-router-ips');
  const peerAsns = f.nums('peer-router-asns');
  const peerPorts = f.nums('peer-router-ports');
  const clusterAsn = f.num('cluster-asn');
  const nodePortRange = parsePortRange(f.text('service-node-port-range'));
  if (nodePortRange === undefined) throw new Error('--service-node-port-range was not validated');
  return {
    runRouter: f.bool('run-router'),
    runServiceProxy: f.bool('run-service-proxy'),
    runFirewall: f.bool('run-firewall'),
    runLoadBalancer: f.bool('run-loadbalancer'),
    kubeconfig: f.text('kubeconfig'),
    master: f.text('master'),
    hostnameOverride: f.text('hostname-override'),
    cacheSyncTimeoutMs: f.num('cache-sync-timeout'),
    cleanupConfig: f.bool('cleanup-config'),
    enableIpv4: f.bool('enable-ipv4'),
    enableIpv6: f.bool('enable-ipv6'),
    enablePprof: f.bool('enable-pprof'),
    pprofAddress: f.text('pprof-address'),
    verbosity: Number(f.text('v')),
    logFormat: logFormat(parsed, env),
    serviceClusterIpRanges: canonicalCidrs(f.texts('service-cluster-ip-range')),
    serviceExternalIpRanges: canonicalCidrs(f.texts('service-external-ip-range')),
    loadBalancerIpRanges: canonicalCidrs(f.texts('loadbalancer-ip-range')),
    strictExternalIpValidation: f.bool('strict-external-ip-validation'),
    serviceNodePortRange: nodePortRange,
    healthAddr: f.text('health-addr'),
    healthPort: f.num('health-port'),
    metricsAddr: f.text('metrics-addr'),
    metricsPort: f.num('metrics-port'),
    metricsPath: f.text('metrics-path'),
    advertiseClusterIp: f.bool('advertise-cluster-ip'),
    advertiseExternalIp: f.bool('advertise-external-ip'),
    advertiseLoadBalancerIp: f.bool('advertise-loadbalancer-ip'),
    advertisePodCidr: f.bool('advertise-pod-cidr'),
    autoMtu: f.bool('auto-mtu'),
    enableBfd: f.bool('enable-bfd'),
    bfdPort: f.num('bfd-port'),
    bfdDetectionMultiplier: f.num('bfd-detection-multiplier'),
    bfdDesiredMinTxIntervalMs: f.num('bfd-desired-min-tx-interval'),
    bfdRequiredMinRxIntervalMs: f.num('bfd-required-min-rx-interval'),
    bgpGracefulRestart: f.bool('bgp-graceful-restart'),
    bgpGracefulRestartTimeMs: f.num('bgp-graceful-restart-time'),
    bgpGracefulRestartDeferralTimeMs: f.num('bgp-graceful-restart-deferral-time'),
    bgpHoldTimeMs: f.num('bgp-holdtime'),
    bgpPort: f.num('bgp-port'),
    clusterAsn: clusterAsn === 0 ? DEFAULT_CLUSTER_ASN : clusterAsn,
    nodesFullMesh: f.bool('nodes-full-mesh'),
    enableIbgp: f.bool('enable-ibgp'),
    peerRouterIps: peerIps,
    peerRouterAsns: peerAsns,
    peerRouterPorts: peerPorts,
    peerRouterPasswordsFile: f.text('peer-router-passwords-file'),
    externalPeers: peerIps.map((ip, index) => ({
      ip,
      asn: peerAsns[index] ?? 0,
      port: peerPorts[index] ?? DEFAULT_BGP_PORT,
      password: peerPasswords[index] ?? '',
    })),
    peerRouterMultihopTtl: f.num('peer-router-multihop-ttl'),
    overrideNextHop: f.bool('override-nexthop'),
    routerId: f.text('router-id'),
    gobgpAdminAddress: f.text('gobgp-admin-address'),
    gobgpAdminPort: f.num('gobgp-admin-port'),
    routesSyncPeriodMs: f.num('routes-sync-period'),
    injectedRoutesSyncPeriodMs: f.num('injected-routes-sync-period'),
    enableCni: f.bool('enable-cni'),
    enableOverlay: f.bool('enable-overlay'),
    overlayType: f.text('overlay-type') as 'subnet' | 'full',
    overlayEncap: f.text('overlay-encap') as 'ipip' | 'fou',
    overlayEncapPort: f.num('overlay-encap-port'),
    enablePodEgress: f.bool('enable-pod-egress'),
    disableSourceDestCheck: f.bool('disable-source-dest-check'),
    ipvsSyncPeriodMs: f.num('ipvs-sync-period'),
    ipvsPermitAll: f.bool('ipvs-permit-all'),
    ipvsGracefulTermination: f.bool('ipvs-graceful-termination'),
    ipvsGracefulPeriodMs: f.num('ipvs-graceful-period'),
    masqueradeAll: f.bool('masquerade-all'),
    hairpinMode: f.bool('hairpin-mode'),
    nodePortBindOnAllIp: f.bool('nodeport-bindon-all-ip'),
    excludedCidrs: canonicalCidrs(f.texts('excluded-cidrs')),
    runtimeEndpoint: f.text('runtime-endpoint'),
    serviceTcpTimeoutMs: f.num('service-tcp-timeout'),
    serviceTcpFinTimeoutMs: f.num('service-tcpfin-timeout'),
    serviceUdpTimeoutMs: f.num('service-udp-timeout'),
    iptablesSyncPeriodMs: f.num('iptables-sync-period'),
    netpolDefaultDeny: f.bool('netpol-default-deny'),
    useNftablesForNetpol: f.bool('use-nftables-for-netpol'),
    loadBalancerDefaultClass: f.bool('loadbalancer-default-class'),
    loadBalancerSyncPeriodMs: f.num('loadbalancer-sync-period'),
    environment: environmentSettings(env),
  };
}
