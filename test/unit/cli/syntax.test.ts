// The command-line syntax follows spf13/pflag, so any command line upstream accepts means the same here.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCommandLine } from '../../../src/cli/command-line.ts';
import type { Options } from '../../../src/config/options.ts';

function run(...argv: string[]): Options {
  const outcome = parseCommandLine(argv, {});
  assert.equal(outcome.kind, 'run', outcome.kind === 'error' ? outcome.message : outcome.kind);
  return (outcome as { options: Options }).options;
}

function error(...argv: string[]): string {
  const outcome = parseCommandLine(argv, {});
  assert.equal(outcome.kind, 'error', `expected an error for ${JSON.stringify(argv)}`);
  const message = (outcome as { message: string }).message;
  assert.ok(!message.includes('\n'), 'error is one line');
  return message;
}

describe('value flags', () => {
  it('take the value as the next argument or after "="', () => {
    assert.equal(run('--kubeconfig', '/k').kubeconfig, '/k');
    assert.equal(run('--kubeconfig=/k').kubeconfig, '/k');
    assert.equal(run('--kubeconfig=').kubeconfig, '');
    assert.equal(run('--master=https://a:6443/x=y').master, 'https://a:6443/x=y', 'only the first "=" splits');
  });

  it('take the next argument even when it starts with a dash', () => {
    assert.equal(run('--hostname-override', '-odd-').hostnameOverride, '-odd-');
  });

  it('use the last value when given twice', () => {
    assert.equal(run('--metrics-port', '1', '--metrics-port', '2').metricsPort, 2);
  });

  it('fail when the value is missing at the end', () => {
    assert.equal(error('--kubeconfig'), 'flag needs an argument: --kubeconfig');
  });
});

describe('boolean flags', () => {
  it('are set by --flag and by --flag=<bool> in every strconv.ParseBool spelling', () => {
    assert.equal(run('--masquerade-all').masqueradeAll, true);
    for (const word of ['true', 'TRUE', 'True', 't', 'T', '1']) assert.equal(run(`--masquerade-all=${word}`).masqueradeAll, true);
    for (const word of ['false', 'FALSE', 'False', 'f', 'F', '0']) assert.equal(run(`--run-firewall=${word}`).runFirewall, false);
  });

  it('do not consume a following "false"', () => {
    assert.equal(
      error('--run-router', 'false'),
      'unexpected argument "false" after --run-router: boolean flags take a value only as --run-router=false',
    );
  });

  it('reject other words', () => {
    assert.equal(error('--run-router=yes'), 'invalid value "yes" for --run-router: not a boolean (use true or false)');
  });
});

describe('one-letter forms', () => {
  it('accept -v N, -v=N, -vN, --v N and --v=N', () => {
    assert.equal(run('-v', '3').verbosity, 3);
    assert.equal(run('-v=4').verbosity, 4);
    assert.equal(run('-v5').verbosity, 5);
    assert.equal(run('--v', '6').verbosity, 6);
    assert.equal(run('--v=7').verbosity, 7);
  });

  it('combine booleans with a trailing value flag', () => {
    assert.equal(parseCommandLine(['-Vh'], {}).kind, 'help');
    assert.equal(parseCommandLine(['-Vv2'], {}).kind, 'version');
  });

  it('reject unknown letters and a missing value', () => {
    assert.equal(error('-x'), "unknown shorthand flag: 'x' in -x");
    assert.equal(error('-v'), "flag needs an argument: 'v' in -v");
  });

  it('reject a non-numeric verbosity', () => {
    assert.equal(error('-v', 'high'), 'invalid value "high" for --v: must be a non-negative integer');
  });
});

describe('list flags', () => {
  it('split on commas and append across repeats, replacing the default', () => {
    const o = run('--service-cluster-ip-range', '10.0.0.0/16', '--excluded-cidrs=10.1.0.0/16,10.2.0.0/16', '--excluded-cidrs', '10.3.0.0/16');
    assert.deepEqual(o.serviceClusterIpRanges, ['10.0.0.0/16']);
    assert.deepEqual(o.excludedCidrs, ['10.1.0.0/16', '10.2.0.0/16', '10.3.0.0/16']);
  });

  it('read string lists as CSV (quotes keep commas, blank entries stay)', () => {
    const o = run('--peer-router-ips=192.0.2.1,192.0.2.2,192.0.2.3', '--peer-router-asns=65001,65002,65003', '--peer-router-passwords=cGFzcw==,,"YWJj"');
    assert.deepEqual(o.externalPeers.map((peer) => peer.password), ['pass', '', 'abc']);
    assert.match(error('--excluded-cidrs=a"b'), /^invalid value "a"b" for --excluded-cidrs: bare " in unquoted field/);
  });

  it('parse uint lists in base 10 only and IP lists with surrounding spaces trimmed', () => {
    const o = run('--peer-router-ips', ' 192.0.2.1 ,2001:DB8::1', '--peer-router-asns', '65001,65002', '--peer-router-ports=1179,2179');
    assert.deepEqual(o.peerRouterIps, ['192.0.2.1', '2001:db8::1']);
    assert.deepEqual(o.peerRouterAsns, [65001, 65002]);
    assert.deepEqual(o.peerRouterPorts, [1179, 2179]);
    assert.match(error('--peer-router-asns=0x10'), /^invalid value "0x10" for --peer-router-asns: element "0x10" is not an unsigned integer$/);
    assert.match(error('--peer-router-ips=192.0.2.300'), /^invalid value "192.0.2.300" for --peer-router-ips: element/);
  });

  it('treat an empty value as an empty list', () => {
    assert.deepEqual(run('--service-external-ip-range=').serviceExternalIpRanges, []);
  });
});

describe('integer flags', () => {
  it('accept Go base-0 syntax (hex, octal, binary, underscores)', () => {
    assert.equal(run('--metrics-port=0x1F90').metricsPort, 8080);
    assert.equal(run('--metrics-port=0o17620').metricsPort, 8080);
    assert.equal(run('--metrics-port=017620').metricsPort, 8080);
    assert.equal(run('--metrics-port=0b1111110010000').metricsPort, 8080);
    assert.equal(run('--metrics-port=8_080').metricsPort, 8080);
  });

  it('reject signs, junk and values beyond the type', () => {
    assert.match(error('--metrics-port=-1'), /^invalid value "-1" for --metrics-port: not an unsigned integer$/);
    assert.match(error('--metrics-port=+1'), /for --metrics-port: not an unsigned integer$/);
    assert.match(error('--metrics-port=80x'), /for --metrics-port: not an unsigned integer$/);
    assert.equal(error('--metrics-port=65536'), 'invalid value "65536" for --metrics-port: out of range (0-65535)');
    assert.equal(error('--peer-router-multihop-ttl=256'), 'invalid value "256" for --peer-router-multihop-ttl: out of range (0-255)');
    assert.equal(run('--peer-router-multihop-ttl=255').peerRouterMultihopTtl, 255);
  });
});

describe('durations', () => {
  it('accept Go syntax and give milliseconds', () => {
    assert.equal(run('--routes-sync-period', '90s').routesSyncPeriodMs, 90_000);
    assert.equal(run('--routes-sync-period=1h2m3.5s').routesSyncPeriodMs, 3_723_500);
    assert.equal(run('--routes-sync-period=300ms').routesSyncPeriodMs, 300);
    assert.equal(run('--service-udp-timeout=0').serviceUdpTimeoutMs, 0);
  });

  it('reject a bare number other than 0', () => {
    assert.equal(error('--routes-sync-period=30'), 'invalid value "30" for --routes-sync-period: missing unit (use ns, us, ms, s, m or h, e.g. 90s)');
  });
});

describe('arguments that are not flags', () => {
  it('are rejected, including after --', () => {
    assert.equal(error('run'), 'unexpected argument "run": kube-router takes flags only');
    assert.equal(error('--', '--run-router'), 'unexpected argument "--run-router": kube-router takes flags only');
    assert.equal(error('-'), 'unexpected argument "-": kube-router takes flags only');
  });

  it('allow "--" with nothing after it', () => {
    assert.equal(run('--masquerade-all', '--').masqueradeAll, true);
  });
});

describe('unknown and malformed flags', () => {
  it('are rejected by name', () => {
    assert.equal(error('--cluster-cidr=10.0.0.0/8'), 'unknown flag: --cluster-cidr');
    assert.equal(error('--run-network-policy-controller'), 'unknown flag: --run-network-policy-controller');
    assert.equal(error('--no-run-router'), 'unknown flag: --no-run-router');
    assert.equal(error('---x'), 'bad flag syntax: ---x');
    assert.equal(error('--=x'), 'bad flag syntax: --=x');
  });

  it('stop parsing at the first error', () => {
    assert.equal(error('--nope', '--cluster-asn=1'), 'unknown flag: --nope');
  });
});

describe('upstream manifests', () => {
  it('accept the argument style of upstream\'s daemonsets', () => {
    const o = run(
      '--run-router=true', '--run-firewall=true', '--run-service-proxy=true', '--bgp-graceful-restart=true',
      '--kubeconfig=/var/lib/kube-router/kubeconfig', '--runtime-endpoint=unix:///run/containerd/containerd.sock',
      '--advertise-cluster-ip', '--advertise-external-ip', '--cluster-asn=64512',
      '--peer-router-ips=198.51.100.1', '--peer-router-asns=64513', '--service-external-ip-range=198.51.100.0/24', '-v=2',
    );
    assert.deepEqual([o.bgpGracefulRestart, o.advertiseClusterIp, o.advertiseExternalIp, o.verbosity], [true, true, true, 2]);
    assert.equal(o.runtimeEndpoint, 'unix:///run/containerd/containerd.sock');
    assert.deepEqual(o.externalPeers, [{ ip: '198.51.100.1', asn: 64513, port: 179, password: '' }]);
  });
});
