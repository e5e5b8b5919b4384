// The one table of command-line flags: upstream kube-router's 79 flags (same names, kinds and defaults) plus our
// --log-format and --pprof-address. Parsing, validation of single values and the --help screen are driven from it.
import type { FlagKind, ValueOf } from './flag-kinds.ts';
import * as check from './value-checks.ts';

export const FLAG_GROUPS = [
  'General',
  'Health and metrics',
  'Routing/BGP',
  'Service proxy',
  'Network policy',
  'Load balancer',
] as const;
export type FlagGroup = (typeof FLAG_GROUPS)[number];

export interface FlagSpec<K extends FlagKind = FlagKind> {
  name: string;
  /** One-letter form (`-h`), if any. */
  short?: string;
  kind: K;
  /** The default as flag text, parsed by the same code as user input (pflag's DefValue). */
  defaultText: string;
  group: FlagGroup;
  help: string;
  /** False only for flags upstream kube-router does not have. */
  upstream: boolean;
  /** Never echo the value in messages (passwords). */
  secret?: boolean;
  /** Why the flag is accepted (upstream has it) but changes nothing in this build; --help says so. */
  noEffect?: string;
  check?: check.Check<ValueOf<K>>;
}

export type AnyFlagSpec = { [K in FlagKind]: FlagSpec<K> }[FlagKind];

interface Extra<K extends FlagKind> {
  short?: string;
  upstream?: boolean;
  secret?: boolean;
  noEffect?: string;
  check?: check.Check<ValueOf<K>>;
}

function def<K extends FlagKind>(kind: K, name: string, defaultText: string, group: FlagGroup, help: string, extra: Extra<K> = {}): AnyFlagSpec {
  const spec: FlagSpec<K> = { name, kind, defaultText, group, help, upstream: extra.upstream ?? true };
  if (extra.short !== undefined) spec.short = extra.short;
  if (extra.secret !== undefined) spec.secret = extra.secret;
  if (extra.noEffect !== undefined) spec.noEffect = extra.noEffect;
  if (extra.check !== undefined) spec.check = extra.check;
  return spec as unknown as AnyFlagSpec;
}

const G: FlagGroup = 'General';
const HM: FlagGroup = 'Health and metrics';
const R: FlagGroup = 'Routing/BGP';
const SP: FlagGroup = 'Service proxy';
const NP: FlagGroup = 'Network policy';
const LB: FlagGroup = 'Load balancer';
const positive = { check: check.positiveDuration };
// Why some upstream flags are accepted (so upstream manifests keep working) but do nothing here yet.
const NO_BFD = "Debian's gobgpd 3.10 has no BFD";
const NO_ALLOCATOR = 'the load-balancer allocator is not implemented';
const NO_GRACEFUL_TERMINATION = 'graceful termination is not implemented; removed endpoints are deleted at once';
const port = { check: check.intBetween(1, 65535) };

export const FLAG_SPECS: readonly AnyFlagSpec[] = [
  // General: what runs, how to reach the API server, shared address ranges.
  def('bool', 'run-router', 'true', G, 'Run the routing controller: BGP pod routing, CNI config, overlay tunnels, pod egress SNAT.'),
  def('bool', 'run-service-proxy', 'true', G, 'Run the service proxy: IPVS virtual servers for Kubernetes Services.'),
  def('bool', 'run-firewall', 'true', G, 'Run the network policy controller: NetworkPolicy enforcement for local pods.'),
  def('bool', 'run-loadbalancer', 'false', G, 'Run the LoadBalancer IP allocator (does not count as something to do on its own).', {
    noEffect: NO_ALLOCATOR,
  }),
  def('string', 'kubeconfig', '', G, 'Path to a kubeconfig file; empty means the in-cluster service account.'),
  def('string', 'master', '', G, 'Kubernetes API server address; overrides the one in the kubeconfig.'),
  def('string', 'hostname-override', '', G, 'Node name to use instead of $NODE_NAME or the host name.'),
  def('duration', 'cache-sync-timeout', '1m0s', G, 'How long startup waits for the API caches to fill before giving up.', positive),
  def('bool', 'cleanup-config', 'false', G, 'Remove the iptables rules, IPVS services, ipsets and links kube-router made, then exit.'),
  def('bool', 'enable-ipv4', 'true', G, 'Handle IPv4 (the node needs an IPv4 address).'),
  def('bool', 'enable-ipv6', 'false', G, 'Handle IPv6 (the node needs an IPv6 address).'),
  def('bool', 'enable-pprof', 'false', G, 'Serve V8 CPU and sampling heap profiles under /debug/pprof/ on --pprof-address, port 6060.'),
  def('bool', 'help', 'false', G, 'Print this help and exit.', { short: 'h' }),
  def('bool', 'version', 'false', G, 'Print the version and exit.', { short: 'V' }),
  def('string', 'v', '0', G, 'Log verbosity: 0 is normal, 2 adds debug, 4 adds trace.', { short: 'v', check: check.verbosity }),
  def('string', 'log-format', 'json', G, 'Log line format: json or text; $KUBE_ROUTER_LOG_FORMAT changes the default. [not in upstream kube-router]', {
    upstream: false,
    check: check.oneOf('json', 'text'),
  }),
  def('string', 'pprof-address', '127.0.0.1', G, 'Address the --enable-pprof server listens on; the full heap snapshot is served only on loopback. [not in upstream kube-router]', {
    upstream: false,
    check: check.ipAddress,
  }),
  def('strings', 'service-cluster-ip-range', '10.96.0.0/12', G, 'ClusterIP CIDRs: one, or one per IP family.', {
    check: check.serviceClusterIpRange,
  }),
  def('strings', 'service-external-ip-range', '', G, 'CIDRs Service externalIPs may come from (repeatable).', { check: check.cidrList }),
  def('strings', 'loadbalancer-ip-range', '', G, 'CIDRs LoadBalancer IPs may come from; also the allocator pool (repeatable).', {
    check: check.cidrList,
  }),
  def('bool', 'strict-external-ip-validation', 'true', G, 'Refuse externalIPs and LoadBalancer IPs outside the ranges above (none allowed when no range is set).'),
  def('string', 'service-node-port-range', '30000-32767', G, 'NodePort range, written first-last or first:last.', {
    check: check.nodePortRange,
  }),

  // Health and metrics.
  def('string', 'health-addr', '', HM, 'Address the /healthz server listens on; empty means all addresses.', { check: check.ipAddressOrEmpty }),
  def('uint16', 'health-port', '20244', HM, 'Port of the /healthz server; 0 turns the server off (health is still tracked).'),
  def('string', 'metrics-addr', '', HM, 'Address the Prometheus endpoint listens on; empty means all addresses.', { check: check.ipAddressOrEmpty }),
  def('uint16', 'metrics-port', '0', HM, 'Port of the Prometheus endpoint; 0 turns metrics off.'),
  def('string', 'metrics-path', '/metrics', HM, 'HTTP path of the Prometheus endpoint.', { check: check.httpPath }),

  // Routing and BGP.
  def('bool', 'advertise-cluster-ip', 'false', R, 'Announce Service ClusterIPs (as /32 and /128 routes) to BGP peers.'),
  def('bool', 'advertise-external-ip', 'false', R, 'Announce Service externalIPs to BGP peers.'),
  def('bool', 'advertise-loadbalancer-ip', 'false', R, 'Announce Service status.loadBalancer.ingress IPs to BGP peers.'),
  def('bool', 'advertise-pod-cidr', 'true', R, "Announce this node's pod CIDRs to external peers (cluster peers always get them)."),
  def('bool', 'auto-mtu', 'true', R, 'Give kube-bridge and the CNI config the MTU of the node interface.'),
  def('bool', 'enable-bfd', 'false', R, 'Run BFD with the external peers given by --peer-router-ips.', { noEffect: NO_BFD }),
  def('uint32', 'bfd-port', '3784', R, 'UDP port for BFD.', { ...port, noEffect: NO_BFD }),
  def('uint32', 'bfd-detection-multiplier', '3', R, 'Missed BFD packets before a peer is declared down.', { check: check.intBetween(1, 255), noEffect: NO_BFD }),
  def('uint32', 'bfd-desired-min-tx-interval', '1000', R, 'Desired BFD transmit interval, in milliseconds.', {
    check: check.intBetween(1, 4294967),
    noEffect: NO_BFD,
  }),
  def('uint32', 'bfd-required-min-rx-interval', '1000', R, 'Required BFD receive interval, in milliseconds.', {
    check: check.intBetween(1, 4294967),
    noEffect: NO_BFD,
  }),
  def('bool', 'bgp-graceful-restart', 'false', R, 'Offer BGP graceful restart (RFC 4724) so peers keep our routes while we restart.'),
  def('duration', 'bgp-graceful-restart-time', '1m30s', R, 'Graceful restart time announced to peers (at most 4095s).', {
    check: check.GRACEFUL_RESTART_TIME_CHECK,
  }),
  def('duration', 'bgp-graceful-restart-deferral-time', '6m0s', R, 'How long to wait for peers to finish sending routes after a restart (at most 18h).', {
    check: check.GRACEFUL_RESTART_DEFERRAL_CHECK,
  }),
  def('duration', 'bgp-holdtime', '1m30s', R, 'BGP hold time offered to external peers (3s to 18h12m16s).', { check: check.BGP_HOLDTIME_CHECK }),
  def('uint32', 'bgp-port', '179', R, 'Port the BGP server listens on and dials on cluster peers.', port),
  def('uint', 'cluster-asn', '0', R, 'Private ASN of the cluster nodes; 0 means 64512.', { check: check.clusterAsn }),
  def('bool', 'nodes-full-mesh', 'true', R, 'Peer every node with every other node; when false, nodes peer by their node.asn annotation.'),
  def('bool', 'enable-ibgp', 'true', R, 'Peer with the other cluster nodes; when false, only with external peers.'),
  def('ipSlice', 'peer-router-ips', '', R, 'External BGP peers every node peers with.'),
  def('uints', 'peer-router-asns', '', R, 'ASN of each external peer, one per --peer-router-ips entry.', { check: check.peerAsns }),
  def('uints', 'peer-router-ports', '', R, 'Port of each external peer: none (all 179) or one per peer.', { check: check.peerPorts }),
  def('strings', 'peer-router-passwords', '', R, 'Base64 TCP-MD5 password of each external peer: none or one per peer (blank entries allowed).', {
    secret: true,
    check: check.base64Passwords,
  }),
  def('string', 'peer-router-passwords-file', '', R, 'File holding the passwords in the same form; --peer-router-passwords wins.'),
  def('uint8', 'peer-router-multihop-ttl', '0', R, 'eBGP multihop TTL for external peers; used when 2 or more.'),
  def('bool', 'override-nexthop', 'false', R, 'Set ourselves as next hop on routes sent to external peers.'),
  def('string', 'router-id', '', R, 'BGP router ID: an IPv4 address, or "generate" to derive one from the node IP. Needed when the node IP is IPv6.', {
    check: check.routerId,
  }),
  def('string', 'gobgp-admin-address', '127.0.0.1', R, 'Address of the BGP admin gRPC server (loopback is always served too).', { check: check.ipAddress }),
  def('uint16', 'gobgp-admin-port', '50051', R, 'Port of the BGP admin gRPC server; 0 turns it off.'),
  def('duration', 'routes-sync-period', '5m0s', R, 'Period of the full routing sync (announcements, pod routes, peers).', positive),
  def('duration', 'injected-routes-sync-period', '1m0s', R, 'Period for re-installing routes learned from BGP into the kernel.', positive),
  def('bool', 'enable-cni', 'true', R, 'Maintain the CNI config file (pod CIDR ranges, MTU).'),
  def('bool', 'enable-overlay', 'true', R, 'Tunnel pod traffic to nodes as chosen by --overlay-type.'),
  def('string', 'overlay-type', 'subnet', R, 'subnet: tunnel only to nodes in other subnets; full: tunnel to every node.', {
    check: check.oneOf('subnet', 'full'),
  }),
  def('string', 'overlay-encap', 'ipip', R, 'Tunnel encapsulation: ipip or fou.', { check: check.oneOf('ipip', 'fou') }),
  def('uint16', 'overlay-encap-port', '5555', R, 'UDP port for fou encapsulation (1024 or above).', { check: check.intBetween(1024, 65535) }),
  def('bool', 'enable-pod-egress', 'true', R, 'Masquerade traffic from pods to destinations outside the cluster.'),
  def('bool', 'disable-source-dest-check', 'true', R, 'On AWS EC2, turn off the source/destination check of node instances.', {
    noEffect: 'the AWS EC2 API call is not implemented; turn the check off in AWS',
  }),

  // Service proxy.
  def('duration', 'ipvs-sync-period', '5m0s', SP, 'Period of the full IPVS sync.', positive),
  def('bool', 'ipvs-permit-all', 'true', SP, 'Accept all traffic to service IPs on the node (else only service ports).'),
  def('bool', 'ipvs-graceful-termination', 'false', SP, 'Drain removed endpoints (weight 0) before deleting them.', { noEffect: NO_GRACEFUL_TERMINATION }),
  def('duration', 'ipvs-graceful-period', '30s', SP, 'Drain time when the pod termination grace period is unknown.', {
    ...positive,
    noEffect: NO_GRACEFUL_TERMINATION,
  }),
  def('bool', 'masquerade-all', 'false', SP, 'Source-NAT all proxied traffic to the node IP.'),
  def('bool', 'hairpin-mode', 'false', SP, 'Allow hairpin traffic for every Service, not only annotated ones.'),
  def('bool', 'nodeport-bindon-all-ip', 'false', SP, 'Serve NodePorts on every local address, not only the node IPs.'),
  def('strings', 'excluded-cidrs', '', SP, 'IPVS services in these CIDRs are never removed as stale.', { check: check.cidrList }),
  def('string', 'runtime-endpoint', '', SP, 'Container runtime (CRI) socket, used for DSR.', { noEffect: 'DSR is not implemented' }),
  def('duration', 'service-tcp-timeout', '0s', SP, 'IPVS TCP session timeout; 0s keeps the kernel setting.', { check: check.nonNegativeDuration }),
  def('duration', 'service-tcpfin-timeout', '0s', SP, 'IPVS TCP FIN timeout; 0s keeps the kernel setting.', { check: check.nonNegativeDuration }),
  def('duration', 'service-udp-timeout', '0s', SP, 'IPVS UDP timeout; 0s keeps the kernel setting.', { check: check.nonNegativeDuration }),

  // Network policy.
  def('duration', 'iptables-sync-period', '5m0s', NP, 'Period of the full network policy sync.', positive),
  def('bool', 'netpol-default-deny', 'false', NP, 'Reject traffic of a new local pod until its policy rules are in place.'),
  def('bool', 'use-nftables-for-netpol', 'false', NP, 'Enforce network policy with nftables instead of iptables and ipset (experimental).'),

  // Load balancer allocator.
  def('bool', 'loadbalancer-default-class', 'true', LB, 'Also allocate for LoadBalancer Services with no class or class "default".', {
    noEffect: NO_ALLOCATOR,
  }),
  def('duration', 'loadbalancer-sync-period', '1m0s', LB, 'Period of the allocator walk over LoadBalancer Services.', {
    ...positive,
    noEffect: NO_ALLOCATOR,
  }),
];
