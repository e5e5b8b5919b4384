// The container image (build/image/kube-router.oci.tar, `make image`): unpacked with umoci, its root filesystem
// run with chroot inside throwaway network namespaces: kube-router and its tools start from the image alone, the
// entrypoint follows the namespace's iptables variant, gobgp's protos and the netlink addon load, and
// cni-install puts the CNI plugins into a host directory. `make test-image` builds the image and runs this.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, mkdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestNetns, haveCommand, isRoot, sh } from '../../helpers/netns.ts';

const repo = new URL('../../../', import.meta.url).pathname;
const archive = join(repo, 'build/image/kube-router.oci.tar');
const version = (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string }).version;
const skip = (!isRoot && 'needs root') || (!existsSync(archive) && 'no image: run `make image` (or `make test-image`)')
  || (!haveCommand('umoci') && 'needs umoci') || false;

let work = '';
let rootfs = '';
let imageEnv: string[] = [];
let entrypoint: string[] = [];
const namespaces: TestNetns[] = [];

before(() => {
  if (skip) return;
  work = mkdtempSync(join(tmpdir(), 'krt-image-'));
  mkdirSync(join(work, 'layout'));
  sh('tar', ['-xf', archive, '-C', join(work, 'layout')]);
  sh('umoci', ['unpack', '--image', `${join(work, 'layout')}:kube-router:${version}`, join(work, 'bundle')]);
  rootfs = join(work, 'bundle', 'rootfs');
  const runtime = JSON.parse(readFileSync(join(work, 'bundle', 'config.json'), 'utf8')) as { process: { args: string[]; env: string[] } };
  entrypoint = runtime.process.args;
  imageEnv = runtime.process.env;
});

after(() => {
  for (const ns of namespaces) ns.delete();
  if (work) rmSync(work, { recursive: true, force: true });
});

function netns(): TestNetns {
  const ns = new TestNetns('krt-img');
  namespaces.push(ns);
  return ns;
}

/**
 * Runs `args` chrooted into the image inside `ns` with the image's environment, as a container runtime would:
 * proc, sys and dev mounted in the private mount namespace `ip netns exec` makes (gone when the command ends),
 * plus optional bind mounts (host path -> path in the image).
 */
function inImage(ns: TestNetns, args: string[], opts: { env?: Record<string, string>; binds?: [string, string][] } = {}) {
  const mounts = [
    `mount -t proc proc "$R/proc"`, `mount -t sysfs sysfs "$R/sys"`, `mount --rbind /dev "$R/dev"`,
    ...(opts.binds ?? []).map(([from, to]) => `mkdir -p "$R${to}" && mount --bind "${from}" "$R${to}"`),
  ];
  const env = [...imageEnv, ...Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`)];
  const script = `set -e; ${mounts.join('; ')}; exec chroot "$R" env -i "$@"`;
  const r = spawnSync('ip', ['netns', 'exec', ns.name, 'sh', '-c', script, 'sh', ...env, ...args],
    { encoding: 'utf8', env: { ...process.env, R: rootfs } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, output: r.stdout + r.stderr };
}

function ok(ns: TestNetns, args: string[], opts?: Parameters<typeof inImage>[2]): string {
  const r = inImage(ns, args, opts);
  assert.equal(r.status, 0, `${args.join(' ')}: ${r.output}`);
  return r.output;
}

test('the image is tagged with the package version, and its entrypoint is kube-router', { skip }, () => {
  const tags = sh('umoci', ['ls', '--layout', join(work, 'layout')]).trim().split('\n').sort();
  assert.deepEqual(tags, [`kube-router:${version}`]);
  assert.deepEqual(entrypoint, ['/usr/local/bin/kube-router']);
});

test('kube-router --version and --help run from the image with its own node', { skip }, () => {
  const ns = netns();
  assert.match(ok(ns, ['/usr/local/bin/kube-router', '--version']), new RegExp(`\\b${version.replace(/\./g, '\\.')}\\b`));
  assert.match(ok(ns, ['/usr/local/bin/kube-router', '--help']), /--run-router/);
  const node = ok(ns, ['/usr/local/bin/node', '-p', 'process.versions.node']).trim().split('.').map(Number);
  assert.ok((node[0] ?? 0) > 20 || (node[0] === 20 && (node[1] ?? 0) >= 18), `node ${node.join('.')}`);
});

test('the entrypoint makes iptables follow the variant holding the namespace rules', { skip }, () => {
  const legacyHost = netns();
  legacyHost.exec('iptables-legacy', ['-A', 'INPUT', '-s', '198.51.100.7/32', '-j', 'ACCEPT']);
  ok(legacyHost, ['/usr/local/bin/kube-router', '--version']);
  assert.match(ok(legacyHost, ['iptables', '--version']), /\(legacy\)/);
  assert.match(ok(legacyHost, ['ip6tables-save', '--version']), /\(legacy\)/);

  const nftHost = netns();
  nftHost.exec('iptables-nft', ['-N', 'KUBE-FORWARD']);
  nftHost.exec('iptables-nft', ['-A', 'FORWARD', '-j', 'KUBE-FORWARD']);
  ok(nftHost, ['/usr/local/bin/kube-router', '--version']);
  assert.match(ok(nftHost, ['iptables', '--version']), /\(nf_tables\)/);
  assert.match(ok(nftHost, ['iptables-restore', '--version']), /\(nf_tables\)/);
});

test('the image has gobgpd, gobgp and the netfilter, IPVS and conntrack tools', { skip }, () => {
  const ns = netns();
  assert.match(ok(ns, ['gobgpd', '--version']), /gobgpd version/);
  assert.match(ok(ns, ['gobgp', '--version']), /gobgp version/);
  assert.match(ok(ns, ['ipset', 'version']), /ipset v/);
  assert.match(ok(ns, ['nft', '--version']), /nftables v/);
  // ipvsadm opens IPVS before anything else; on a kernel without it, its own complaint proves the binary runs.
  const ipvsadm = inImage(ns, ['ipvsadm', '--version']);
  assert.match(ipvsadm.output, ipvsadm.status === 0 ? /ipvsadm v/ : /Can't initialize ipvs/);
  assert.match(ok(ns, ['conntrack', '--version']), /conntrack v/);
  assert.match(ok(ns, ['ip', '-V']), /iproute2/);
  assert.match(ok(ns, ['iptables-legacy', '--version']), /\(legacy\)/);
  assert.match(ok(ns, ['iptables-nft', '--version']), /\(nf_tables\)/);
  // The protos are copied in; the Go sources they come from are not installed.
  assert.equal(inImage(ns, ['dpkg-query', '-W', 'golang-*']).status, 1);
});

test("the image's kube-router supervises gobgpd over gRPC with the copied protos, and lists links through its addon", { skip }, () => {
  const ns = netns();
  const lib = '/usr/local/lib/kube-router/dist/src';
  // The daemon's own code paths: GobgpdSupervisor starts gobgpd and resolves once its API answers a call made
  // with the protos from KUBE_ROUTER_GOBGP_PROTO_DIR; listLinks dumps links over the nlsock addon.
  const probe = `const { GobgpdSupervisor } = await import('${lib}/bgp/gobgpd-supervisor.js');` +
    ` const { NetlinkSocket, NETLINK_ROUTE } = await import('${lib}/kernel/netlink/socket.js');` +
    ` const { listLinks } = await import('${lib}/kernel/netlink/rtnl-link.js');` +
    ` const gobgpd = new GobgpdSupervisor({ socketPath: '/run/krt-image-gobgpd.sock', adminPort: 0 });` +
    ` const started = await gobgpd.start(); await gobgpd.stop(); if (!started.ok) throw new Error(started.error);` +
    ` const sock = NetlinkSocket.open(NETLINK_ROUTE); const links = await listLinks(sock); await sock.close();` +
    ` console.log('gobgpd answered; links: ' + links.map((k) => k.name).join(','));`;
  const out = ok(ns, ['/usr/local/bin/node', '--input-type=module', '-e', probe], { env: { KUBE_ROUTER_LOG_LEVEL: 'silent' } });
  assert.match(out, /^gobgpd answered; links: lo$/m);
});

test('cni-install copies the CNI plugins into the mounted host directory, once', { skip }, () => {
  const ns = netns();
  const hostBin = join(work, 'host-cni-bin');
  mkdirSync(hostBin);
  ok(ns, ['/usr/local/bin/cni-install', '/host/opt/cni/bin'], { binds: [[hostBin, '/host/opt/cni/bin']] });
  const plugins = ['bridge', 'host-local', 'loopback', 'portmap'];
  assert.deepEqual(readdirSync(hostBin).sort(), plugins);
  for (const p of plugins) {
    assert.ok(readFileSync(join(hostBin, p)).equals(readFileSync(join(rootfs, 'usr/lib/cni', p))), `${p} differs from the image's`);
    assert.equal(statSync(join(hostBin, p)).mode & 0o777, 0o755);
  }
  const inodes = plugins.map((p) => statSync(join(hostBin, p)).ino);
  assert.match(ok(ns, ['/usr/local/bin/cni-install'], { binds: [[hostBin, '/opt/cni/bin']] }), /up to date/);
  assert.deepEqual(plugins.map((p) => statSync(join(hostBin, p)).ino), inodes);
});
