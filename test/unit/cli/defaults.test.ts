// Every upstream flag exists with upstream's default, the defaults land in Options, and --help shows them all.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCommandLine, type ParseOutcome } from '../../../src/cli/command-line.ts';
import { FLAG_SPECS } from '../../../src/cli/flag-specs.ts';
import type { Options } from '../../../src/config/options.ts';

// Upstream's 79 flags with their defaults, as listed in the reference (pkg/options/options.go, v2.11);
// durations written as Go prints them.
const UPSTREAM_DEFAULTS: ReadonlyArray<readonly [string, string]> = [
  ['run-router', 'true'], ['run-service-proxy', 'true'], ['run-firewall', 'true'], ['run-loadbalancer', 'false'],
  ['kubeconfig', ''], ['master', ''], ['hostname-override', ''], ['cache-sync-timeout', '1m0s'],
  ['cleanup-config', 'false'], ['enable-ipv4', 'true'], ['enable-ipv6', 'false'], ['enable-pprof', 'false'],
  ['help', 'false'], ['version', 'false'], ['v', '0'], ['service-cluster-ip-range', '10.96.0.0/12'],
  ['service-external-ip-range', ''], ['loadbalancer-ip-range', ''], ['strict-external-ip-validation', 'true'],
  ['service-node-port-range', '30000-32767'],
  ['health-addr', ''], ['health-port', '20244'], ['metrics-addr', ''], ['metrics-port', '0'], ['metrics-path', '/metrics'],
  ['advertise-cluster-ip', 'false'], ['advertise-external-ip', 'false'], ['advertise-loadbalancer-ip', 'false'],
  ['advertise-pod-cidr', 'true'], ['auto-mtu', 'true'], ['enable-bfd', 'false'], ['bfd-port', '3784'],
  ['bfd-detection-multiplier', '3'], ['bfd-desired-min-tx-interval', '1000'], ['bfd-required-min-rx-interval', '1000'],
  ['bgp-graceful-restart', 'false'], ['bgp-graceful-restart-time', '1m30s'], ['bgp-graceful-restart-deferral-time', '6m0s'],
  ['bgp-holdtime', '1m30s'], ['bgp-port', '179'], ['cluster-asn', '0'], ['nodes-full-mesh', 'true'], ['enable-ibgp', 'true'],
  ['peer-router-ips', ''], ['peer-router-asns', ''], ['peer-router-ports', ''], ['peer-router-passwords', ''],
  ['peer-router-passwords-file', ''], ['peer-router-multihop-ttl', '0'], ['override-nexthop', 'false'], ['router-id', ''],
  ['gobgp-admin-address', '127.0.0.1'], ['gobgp-admin-port', '50051'], ['routes-sync-period', '5m0s'],
  ['injected-routes-sync-period', '1m0s'], ['enable-cni', 'true'], ['enable-overlay', 'true'], ['overlay-type', 'subnet'],
  ['overlay-encap', 'ipip'], ['overlay-encap-port', '5555'], ['enable-pod-egress', 'true'], ['disable-source-dest-check', 'true'],
  ['ipvs-sync-period', '5m0s'], ['ipvs-permit-all', 'true'], ['ipvs-graceful-termination', 'false'], ['ipvs-graceful-period', '30s'],
  ['masquerade-all', 'false'], ['hairpin-mode', 'false'], ['nodeport-bindon-all-ip', 'false'], ['excluded-cidrs', ''],
  ['runtime-endpoint', ''], ['service-tcp-timeout', '0s'], ['service-tcpfin-timeout', '0s'], ['service-udp-timeout', '0s'],
  ['iptables-sync-period', '5m0s'], ['netpol-default-deny', 'false'], ['use-nftables-for-netpol', 'false'],
  ['loadbalancer-default-class', 'true'], ['loadbalancer-sync-period', '1m0s'],
];

function run(argv: string[], env: NodeJS.ProcessEnv = {}): Options {
  const outcome: ParseOutcome = parseCommandLine(argv, env);
  assert.equal(outcome.kind, 'run', outcome.kind === 'error' ? outcome.message : '');
  return (outcome as { options: Options }).options;
}

describe('flag table', () => {
  it('has exactly upstream\'s 79 flags plus --log-format and --pprof-address, with upstream\'s defaults', () => {
    assert.equal(UPSTREAM_DEFAULTS.length, 79);
    const upstream = FLAG_SPECS.filter((spec) => spec.upstream);
    assert.deepEqual(
      upstream.map((spec) => [spec.name, spec.defaultText]).sort(),
      [...UPSTREAM_DEFAULTS].map(([name, value]) => [name, value]).sort(),
    );
    assert.deepEqual(FLAG_SPECS.filter((spec) => !spec.upstream).map((spec) => spec.name), ['log-format', 'pprof-address']);
  });

  it('gives -h, -V and -v as the only one-letter forms', () => {
    const shorts = FLAG_SPECS.filter((spec) => spec.short !== undefined).map((spec) => `${spec.short}=${spec.name}`);
    assert.deepEqual(shorts.sort(), ['V=version', 'h=help', 'v=v']);
  });
});

describe('defaults in Options', () => {
  it('turns an empty command line into upstream\'s defaults', () => {
    const o = run([]);
    assert.deepEqual(
      [o.runRouter, o.runServiceProxy, o.runFirewall, o.runLoadBalancer, o.cleanupConfig, o.enableIpv4, o.enableIpv6, o.enablePprof],
      [true, true, true, false, false, true, false, false],
    );
    assert.deepEqual([o.kubeconfig, o.master, o.hostnameOverride, o.routerId, o.runtimeEndpoint], ['', '', '', '', '']);
    assert.equal(o.cacheSyncTimeoutMs, 60_000);
    assert.equal(o.verbosity, 0);
    assert.equal(o.logFormat, 'json');
    assert.deepEqual(o.serviceClusterIpRanges, ['10.96.0.0/12']);
    assert.deepEqual([o.serviceExternalIpRanges, o.loadBalancerIpRanges, o.excludedCidrs], [[], [], []]);
    assert.equal(o.strictExternalIpValidation, true);
    assert.deepEqual(o.serviceNodePortRange, { first: 30000, last: 32767 });
    assert.deepEqual([o.healthAddr, o.healthPort, o.metricsAddr, o.metricsPort, o.metricsPath], ['', 20244, '', 0, '/metrics']);
    assert.deepEqual(
      [o.advertiseClusterIp, o.advertiseExternalIp, o.advertiseLoadBalancerIp, o.advertisePodCidr, o.autoMtu, o.enableBfd],
      [false, false, false, true, true, false],
    );
    assert.deepEqual(
      [o.bfdPort, o.bfdDetectionMultiplier, o.bfdDesiredMinTxIntervalMs, o.bfdRequiredMinRxIntervalMs],
      [3784, 3, 1000, 1000],
    );
    assert.deepEqual(
      [o.bgpGracefulRestart, o.bgpGracefulRestartTimeMs, o.bgpGracefulRestartDeferralTimeMs, o.bgpHoldTimeMs, o.bgpPort],
      [false, 90_000, 360_000, 90_000, 179],
    );
    assert.equal(o.clusterAsn, 64512, 'cluster ASN 0 means 64512');
    assert.deepEqual([o.nodesFullMesh, o.enableIbgp, o.overrideNextHop], [true, true, false]);
    assert.deepEqual([o.peerRouterIps, o.peerRouterAsns, o.peerRouterPorts, o.externalPeers], [[], [], [], []]);
    assert.deepEqual([o.peerRouterPasswordsFile, o.peerRouterMultihopTtl], ['', 0]);
    assert.deepEqual([o.gobgpAdminAddress, o.gobgpAdminPort], ['127.0.0.1', 50051]);
    assert.deepEqual([o.routesSyncPeriodMs, o.injectedRoutesSyncPeriodMs], [300_000, 60_000]);
    assert.deepEqual([o.enableCni, o.enableOverlay, o.overlayType, o.overlayEncap, o.overlayEncapPort], [true, true, 'subnet', 'ipip', 5555]);
    assert.deepEqual([o.enablePodEgress, o.disableSourceDestCheck], [true, true]);
    assert.deepEqual(
      [o.ipvsSyncPeriodMs, o.ipvsPermitAll, o.ipvsGracefulTermination, o.ipvsGracefulPeriodMs],
      [300_000, true, false, 30_000],
    );
    assert.deepEqual([o.masqueradeAll, o.hairpinMode, o.nodePortBindOnAllIp], [false, false, false]);
    assert.deepEqual([o.serviceTcpTimeoutMs, o.serviceTcpFinTimeoutMs, o.serviceUdpTimeoutMs], [0, 0, 0]);
    assert.deepEqual([o.iptablesSyncPeriodMs, o.netpolDefaultDeny, o.useNftablesForNetpol], [300_000, false, false]);
    assert.deepEqual([o.loadBalancerDefaultClass, o.loadBalancerSyncPeriodMs], [true, 60_000]);
    assert.deepEqual(o.environment, { cniConfFile: '/etc/cni/net.d/10-kuberouter.conf' });
  });

  it('takes node, pod and CNI settings from the environment', () => {
    const o = run([], { NODE_NAME: 'n1', POD_NAME: 'kr-abc', POD_NAMESPACE: 'kube-system', KUBE_ROUTER_CNI_CONF_FILE: '/tmp/c.conf' });
    assert.deepEqual(o.environment, { nodeName: 'n1', podName: 'kr-abc', podNamespace: 'kube-system', cniConfFile: '/tmp/c.conf' });
  });

  it('lets $KUBE_ROUTER_LOG_FORMAT set the log format unless --log-format is given', () => {
    assert.equal(run([], { KUBE_ROUTER_LOG_FORMAT: 'text' }).logFormat, 'text');
    assert.equal(run(['--log-format=json'], { KUBE_ROUTER_LOG_FORMAT: 'text' }).logFormat, 'json');
    assert.equal(run(['--log-format', 'text']).logFormat, 'text');
  });

  it('keeps the profiling server on loopback unless --pprof-address widens it', () => {
    assert.equal(run(['--enable-pprof']).pprofAddress, '127.0.0.1');
    assert.equal(run(['--enable-pprof', '--pprof-address=0.0.0.0']).pprofAddress, '0.0.0.0');
    const bad = parseCommandLine(['--pprof-address=localhost'], {});
    assert.equal(bad.kind, 'error');
  });
});

describe('--help', () => {
  const outcome = parseCommandLine(['--help'], {});
  const text = outcome.kind === 'help' ? outcome.text : '';

  it('is returned for --help and -h, before any validation', () => {
    assert.equal(outcome.kind, 'help');
    assert.equal(parseCommandLine(['-h'], {}).kind, 'help');
    assert.equal(parseCommandLine(['--cluster-asn=1', '-h', 'stray'], {}).kind, 'help');
  });

  it('lists every flag once with its type word and default', () => {
    for (const spec of FLAG_SPECS) {
      const flagColumn = new RegExp(`^ {2}(-., | {4})--${spec.name}( [a-zA-Z0-9]+)? {3,}\\S`);
      const lines = text.split('\n').filter((line) => flagColumn.test(line));
      assert.equal(lines.length, 1, `--${spec.name} should have one line`);
      const line = lines[0] as string;
      assert.match(line, /\(default [^)]*\)$/, `--${spec.name} shows a default`);
    }
    assert.match(text, /--bgp-holdtime duration +.*\(default 1m30s\)/);
    assert.match(text, /--service-cluster-ip-range strings +.*\(default \[10\.96\.0\.0\/12\]\)/);
    assert.match(text, /--metrics-path string +.*\(default "\/metrics"\)/);
    assert.match(text, /-h, --help +.*\(default false\)/);
    assert.match(text, /-v, --v string/);
    assert.match(text, /--peer-router-asns uints/);
    assert.match(text, /--peer-router-ips ipSlice/);
  });

  it('has the six sections in order and marks --log-format and --pprof-address as not upstream', () => {
    const sections = text.split('\n').filter((line) => /^[A-Z][A-Za-z/ ]+:$/.test(line));
    assert.deepEqual(sections, ['General:', 'Health and metrics:', 'Routing/BGP:', 'Service proxy:', 'Network policy:', 'Load balancer:']);
    assert.match(text, /--log-format string .*not in upstream/);
    assert.match(text, /--pprof-address string .*not in upstream/);
  });
});

describe('--version', () => {
  it('prints the package version and the Node.js version', () => {
    for (const flag of ['--version', '-V']) {
      const outcome = parseCommandLine([flag], {});
      assert.equal(outcome.kind, 'version');
      const text = outcome.kind === 'version' ? outcome.text : '';
      assert.match(text, /^kube-router \d+\.\d+\.\d+\S*\n/);
      assert.ok(text.includes(`Node.js ${process.version}`));
    }
  });
});
