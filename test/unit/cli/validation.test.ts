// Validation rules: every invalid input gives one line naming the flag; valid edge values pass.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCommandLine } from '../../../src/cli/command-line.ts';
import type { Options } from '../../../src/config/options.ts';

function noFile(path: string): string {
  throw new Error(`unexpected read of ${path}`);
}

function run(argv: string[], readFile = noFile): Options {
  const outcome = parseCommandLine(argv, {}, readFile);
  assert.equal(outcome.kind, 'run', `${argv.join(' ')}: ${outcome.kind === 'error' ? outcome.message : outcome.kind}`);
  return (outcome as { options: Options }).options;
}

function error(argv: string[], readFile = noFile): string {
  const outcome = parseCommandLine(argv, {}, readFile);
  assert.equal(outcome.kind, 'error', `${argv.join(' ')} should be rejected`);
  const message = (outcome as { message: string }).message;
  assert.ok(!message.includes('\n'), 'one line');
  return message;
}

// [argv, the flag the message must name]
function rejects(cases: ReadonlyArray<readonly [string[], string]>): void {
  for (const [argv, flag] of cases) {
    assert.ok(error(argv).includes(flag), `${argv.join(' ')} should name ${flag}: ${error(argv)}`);
  }
}

function accepts(cases: ReadonlyArray<string[]>): void {
  for (const argv of cases) run(argv);
}

describe('cluster ASN', () => {
  it('must be private and not reserved; 0 means 64512', () => {
    assert.equal(error(['--cluster-asn', '1']), 'invalid value "1" for --cluster-asn: must be a private ASN (64512-65534 or 4200000000-4294967294)');
    rejects([['--cluster-asn=64511'], ['--cluster-asn=65535'], ['--cluster-asn=4199999999'], ['--cluster-asn=4294967295'], ['--cluster-asn=18446744073709551615']].map((a) => [a, '--cluster-asn'] as const));
    for (const asn of [64512, 65534, 4200000000, 4294967294]) assert.equal(run([`--cluster-asn=${asn}`]).clusterAsn, asn);
    assert.equal(run(['--cluster-asn=0']).clusterAsn, 64512);
  });
});

describe('peer ASNs', () => {
  const peer = (asn: number) => ['--peer-router-ips=192.0.2.1', `--peer-router-asns=${asn}`];
  it('reject reserved and documentation ASNs', () => {
    for (const asn of [0, 23456, 64496, 64511, 65535, 65536, 65551, 65552, 131071, 4294967295]) {
      assert.match(error(peer(asn)), new RegExp(`^invalid value "${asn}" for --peer-router-asns: ASN ${asn} is (reserved|out of range)`));
    }
  });
  it('accept public and private ASNs, including 64000-64495 that upstream wrongly rejects', () => {
    for (const asn of [1, 23455, 23457, 63999, 64000, 64495, 64512, 65534, 131072, 4199999999, 4200000000, 4294967294]) run(peer(asn));
  });
});

describe('BGP timers', () => {
  it('hold time must be 3s to 65535s', () => {
    assert.equal(error(['--bgp-holdtime', '1s']), 'invalid value "1s" for --bgp-holdtime: must be between 3s and 18h12m16s');
    rejects([[['--bgp-holdtime=2.999s'], '--bgp-holdtime'], [['--bgp-holdtime=18h12m17s'], '--bgp-holdtime'], [['--bgp-holdtime=0s'], '--bgp-holdtime']]);
    assert.equal(run(['--bgp-holdtime=3s']).bgpHoldTimeMs, 3000);
    assert.equal(run(['--bgp-holdtime=18h12m16s']).bgpHoldTimeMs, 65_536_000);
  });
  it('graceful restart time must be above 0 and at most 4095s', () => {
    rejects([[['--bgp-graceful-restart-time=0s'], '--bgp-graceful-restart-time'], [['--bgp-graceful-restart-time=-1s'], '--bgp-graceful-restart-time'], [['--bgp-graceful-restart-time=4096s'], '--bgp-graceful-restart-time']]);
    assert.equal(run(['--bgp-graceful-restart-time=4095s']).bgpGracefulRestartTimeMs, 4_095_000);
    assert.equal(run(['--bgp-graceful-restart-time=1ms']).bgpGracefulRestartTimeMs, 1);
  });
  it('graceful restart deferral must be above 0 and at most 18h', () => {
    rejects([[['--bgp-graceful-restart-deferral-time=0s'], '--bgp-graceful-restart-deferral-time'], [['--bgp-graceful-restart-deferral-time=18h0m1s'], '--bgp-graceful-restart-deferral-time']]);
    assert.equal(run(['--bgp-graceful-restart-deferral-time=18h']).bgpGracefulRestartDeferralTimeMs, 64_800_000);
  });
});

describe('periods and timeouts', () => {
  it('sync periods, the cache timeout and the graceful period must be above 0', () => {
    for (const flag of ['cache-sync-timeout', 'routes-sync-period', 'injected-routes-sync-period', 'ipvs-sync-period', 'iptables-sync-period', 'loadbalancer-sync-period', 'ipvs-graceful-period']) {
      assert.equal(error([`--${flag}=0s`]), `invalid value "0s" for --${flag}: must be greater than 0`);
      assert.equal(error([`--${flag}=-5m`]), `invalid value "-5m" for --${flag}: must be greater than 0`);
    }
  });
  it('IPVS timeouts may be 0 but not negative', () => {
    for (const flag of ['service-tcp-timeout', 'service-tcpfin-timeout', 'service-udp-timeout']) {
      assert.equal(error([`--${flag}=-1s`]), `invalid value "-1s" for --${flag}: must not be negative`);
    }
    assert.equal(run(['--service-tcp-timeout=15m']).serviceTcpTimeoutMs, 900_000);
  });
});

describe('external peer lists', () => {
  it('need one ASN per IP, and no ports/passwords or one per IP', () => {
    assert.equal(error(['--peer-router-ips=192.0.2.1,192.0.2.2', '--peer-router-asns=65001']), '--peer-router-asns has 1 value but --peer-router-ips has 2 values: give one ASN per peer IP');
    assert.equal(error(['--peer-router-asns=65001']), '--peer-router-asns has 1 value but --peer-router-ips has 0 values: give one ASN per peer IP');
    assert.match(error(['--peer-router-ips=192.0.2.1,192.0.2.2', '--peer-router-asns=65001,65002', '--peer-router-ports=179']), /^--peer-router-ports has 1 value but --peer-router-ips has 2 values/);
    assert.match(error(['--peer-router-ips=192.0.2.1,192.0.2.2', '--peer-router-asns=65001,65002', '--peer-router-passwords=cGFzcw==']), /^--peer-router-passwords has 1 entry but --peer-router-ips has 2 values/);
  });
  it('assemble peers, with port 179 when no ports are given', () => {
    const o = run(['--peer-router-ips=192.0.2.1', '--peer-router-ips=2001:db8::2', '--peer-router-asns=65001,4200000001']);
    assert.deepEqual(o.externalPeers, [
      { ip: '192.0.2.1', asn: 65001, port: 179, password: '' },
      { ip: '2001:db8::2', asn: 4200000001, port: 179, password: '' },
    ]);
  });
  it('ports must be 1-65535', () => {
    assert.equal(error(['--peer-router-ips=192.0.2.1', '--peer-router-asns=65001', '--peer-router-ports=0']), 'invalid value "0" for --peer-router-ports: port 0 is not between 1 and 65535');
    assert.match(error(['--peer-router-ips=192.0.2.1', '--peer-router-asns=65001', '--peer-router-ports=65536']), /--peer-router-ports: port 65536/);
  });
  it('passwords must be base64 and the message never shows them', () => {
    const message = error(['--peer-router-ips=192.0.2.1', '--peer-router-asns=65001', '--peer-router-passwords=s3cret!']);
    assert.equal(message, 'invalid value for --peer-router-passwords: entry 1 is not valid base64');
  });
});

describe('peer password file', () => {
  const peers = ['--peer-router-ips=192.0.2.1,192.0.2.2', '--peer-router-asns=65001,65002', '--peer-router-passwords-file=/pw'];
  it('is read in the flag\'s form when --peer-router-passwords is not given', () => {
    const o = run(peers, (path) => (path === '/pw' ? 'cGFzcw==,\n' : noFile(path)));
    assert.deepEqual(o.externalPeers.map((p) => p.password), ['pass', '']);
  });
  it('loses to --peer-router-passwords, which is used without reading the file', () => {
    const o = run([...peers, '--peer-router-passwords=,YWJj']);
    assert.deepEqual(o.externalPeers.map((p) => p.password), ['', 'abc']);
  });
  it('gives one-line errors naming the flag', () => {
    assert.match(error(peers, () => { throw new Error('ENOENT: no such file'); }), /^invalid value "\/pw" for --peer-router-passwords-file: cannot read it \(ENOENT: no such file\)$/);
    assert.equal(error(peers, () => 'cGFzcw==,nope!'), 'invalid value for --peer-router-passwords-file: entry 2 is not valid base64');
    assert.match(error(peers, () => 'cGFzcw=='), /^--peer-router-passwords-file has 1 entry but --peer-router-ips has 2 values/);
  });
});

describe('address ranges', () => {
  it('service-cluster-ip-range takes one CIDR or one per family, in network form', () => {
    assert.deepEqual(run(['--service-cluster-ip-range=10.96.0.1/12,FD00::/108']).serviceClusterIpRanges, ['10.96.0.0/12', 'fd00::/108']);
    assert.match(error(['--service-cluster-ip-range=10.96.0.0/12,10.100.0.0/16']), /--service-cluster-ip-range: two CIDRs must be of different IP families/);
    assert.match(error(['--service-cluster-ip-range=10.0.0.0/8,fd00::/108,fd01::/108']), /--service-cluster-ip-range: must be one CIDR, or two/);
    assert.match(error(['--service-cluster-ip-range=']), /--service-cluster-ip-range: must be one CIDR/);
    assert.match(error(['--service-cluster-ip-range=10.96.0.0']), /--service-cluster-ip-range: "10.96.0.0" is not a CIDR/);
  });
  it('external-IP, load-balancer and excluded ranges must be CIDRs', () => {
    for (const flag of ['service-external-ip-range', 'loadbalancer-ip-range', 'excluded-cidrs']) {
      assert.match(error([`--${flag}=198.51.100.0/24,bogus`]), new RegExp(`^invalid value "198.51.100.0/24,bogus" for --${flag}: "bogus" is not a CIDR`));
    }
    assert.deepEqual(run(['--loadbalancer-ip-range=198.51.100.0/24', '--loadbalancer-ip-range=2001:db8::/64']).loadBalancerIpRanges, ['198.51.100.0/24', '2001:db8::/64']);
  });
  it('service-node-port-range is first-last or first:last within 1-65535, first below last', () => {
    assert.deepEqual(run(['--service-node-port-range=30000:32767']).serviceNodePortRange, { first: 30000, last: 32767 });
    assert.deepEqual(run(['--service-node-port-range=1-65535']).serviceNodePortRange, { first: 1, last: 65535 });
    rejects(['0-100', '100-65536', '200-100', '100-100', 'abc', '100', '100-200-300', ' 100-200'].map((r) => [[`--service-node-port-range=${r}`], '--service-node-port-range'] as const));
  });
});

describe('overlay, BFD, router ID and ports', () => {
  it('checks choices and ranges', () => {
    rejects([
      [['--overlay-type=mesh'], '--overlay-type'], [['--overlay-encap=vxlan'], '--overlay-encap'], [['--overlay-encap-port=1023'], '--overlay-encap-port'],
      [['--bfd-port=0'], '--bfd-port'], [['--bfd-port=65536'], '--bfd-port'], [['--bfd-detection-multiplier=0'], '--bfd-detection-multiplier'],
      [['--bfd-detection-multiplier=256'], '--bfd-detection-multiplier'], [['--bfd-desired-min-tx-interval=0'], '--bfd-desired-min-tx-interval'],
      [['--bfd-required-min-rx-interval=4294968'], '--bfd-required-min-rx-interval'], [['--bgp-port=0'], '--bgp-port'], [['--bgp-port=65536'], '--bgp-port'],
      [['--router-id=2001:db8::1'], '--router-id'], [['--router-id=node1'], '--router-id'], [['--gobgp-admin-address=localhost'], '--gobgp-admin-address'],
      [['--health-addr=0.0.0.256'], '--health-addr'], [['--metrics-addr=x'], '--metrics-addr'], [['--metrics-path=metrics'], '--metrics-path'],
      [['--log-format=yaml'], '--log-format'], [['--health-port=65536'], '--health-port'],
    ]);
    assert.equal(error(['--overlay-type=mesh']), 'invalid value "mesh" for --overlay-type: must be one of: subnet, full');
    accepts([
      ['--overlay-type=full', '--overlay-encap=fou', '--overlay-encap-port=1024'], ['--overlay-encap-port=65535'],
      ['--bfd-detection-multiplier=255', '--bfd-desired-min-tx-interval=4294967', '--bfd-required-min-rx-interval=1', '--bfd-port=65535'],
      ['--router-id=generate'], ['--router-id=192.0.2.7'], ['--gobgp-admin-address=::1'], ['--health-addr=::', '--metrics-addr=127.0.0.1'],
      ['--metrics-port=65535'], ['--health-port=0'], ['--bgp-port=65535'],
    ]);
  });
  it('rejects the same port for health and metrics on a shared address', () => {
    assert.equal(error(['--metrics-port=20244']), 'invalid value "20244" for --metrics-port: --health-port uses the same port');
    run(['--metrics-port=20244', '--health-port=0']);
    run(['--metrics-port=20244', '--health-addr=127.0.0.1', '--metrics-addr=127.0.0.2']);
  });
});

describe('what to run', () => {
  it('needs at least one of router, firewall and service proxy', () => {
    const off = ['--run-router=false', '--run-firewall=false', '--run-service-proxy=false'];
    assert.equal(error(off), 'nothing to do: --run-router, --run-firewall and --run-service-proxy are all false (--run-loadbalancer alone is not enough)');
    assert.match(error([...off, '--run-loadbalancer']), /^nothing to do/);
    assert.equal(run([...off, '--cleanup-config']).cleanupConfig, true, '--cleanup-config has work of its own');
    assert.equal(run(['--run-router=false', '--run-service-proxy=false']).runFirewall, true);
  });
  it('needs at least one IP family', () => {
    assert.match(error(['--enable-ipv4=false', '--enable-ipv6=false']), /^invalid value "false" for --enable-ipv4: --enable-ipv6 is false too/);
    const v6only = run(['--enable-ipv4=false', '--enable-ipv6']);
    assert.deepEqual([v6only.enableIpv4, v6only.enableIpv6], [false, true]);
  });
});
