// Builds the test VM's initramfs: static busybox, lab/vm/init as PID 1, and the kernel modules (with their
// dependency closure and aliases) for the features the host kernel lacks; cached by content hash.
import { REPO_ROOT } from './repo-root.ts';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Result } from '../../src/result.ts';
import { modulesDir, vmCacheDir, type KernelBuild } from './kernel.ts';

/** Loaded first by /init: the 9p transport, and crc32c_generic because busybox modprobe ignores the softdep
 *  libcrc32c (needed by ip_vs, nf_conntrack users, sctp) has on it. */
export const BOOT_MODULES = ['virtio_pci', '9pnet_virtio', '9p', 'crc32c_generic'];

/** Shipped in the initramfs (with their dependencies); the kernel autoloads them through the aliases we ship. */
export const FEATURE_MODULES = [
  // IPVS and its schedulers
  'ip_vs', 'ip_vs_rr', 'ip_vs_wrr', 'ip_vs_lc', 'ip_vs_dh', 'ip_vs_sh', 'ip_vs_mh', 'nf_conntrack',
  // links and tunnels
  'dummy', 'ipip', 'ip6_tunnel', 'fou', 'fou6', 'veth', 'bridge', 'br_netfilter', 'sctp',
  // nftables
  'nf_tables', 'nft_compat', 'nft_chain_nat', 'nft_ct', 'nft_masq', 'nft_nat', 'nft_fib_inet', 'nft_reject_inet',
  'nft_limit', 'nf_conntrack_netlink', 'nft_log', 'nft_redir', 'nft_numgen', 'nft_hash', 'nft_quota', 'nft_connlimit',
  'nft_fib_ipv4', 'nft_fib_ipv6', 'nft_reject_ipv4', 'nft_reject_ipv6', 'nft_socket', 'nft_objref',
  // iptables
  'x_tables', 'ip_tables', 'ip6_tables', 'iptable_filter', 'iptable_nat', 'iptable_mangle', 'iptable_raw',
  'ip6table_filter', 'ip6table_nat', 'ip6table_mangle', 'nf_nat', 'ipt_REJECT', 'ip6t_REJECT',
  'xt_MASQUERADE', 'xt_comment', 'xt_conntrack', 'xt_mark', 'xt_addrtype', 'xt_set', 'xt_ipvs', 'xt_physdev',
  'xt_multiport', 'xt_NFLOG', 'nfnetlink_log', 'xt_TCPMSS', 'xt_limit', 'xt_statistic', 'xt_nat', 'xt_state',
  'xt_tcpudp', 'xt_sctp', 'xt_LOG', 'nf_log_syslog', 'xt_REDIRECT', 'xt_connmark', 'xt_CT', 'xt_owner', 'xt_iprange',
  'xt_hashlimit', 'xt_recent', 'xt_connlimit', 'xt_pkttype', 'xt_length', 'xt_dscp', 'xt_DSCP', 'xt_socket',
  // ipset
  'ip_set', 'ip_set_hash_ip', 'ip_set_hash_net', 'ip_set_hash_ipport', 'ip_set_hash_ipportip',
  'ip_set_hash_ipportnet', 'ip_set_hash_netport', 'ip_set_hash_netnet', 'ip_set_hash_netportnet',
  'ip_set_hash_netiface', 'ip_set_hash_mac', 'ip_set_bitmap_ip', 'ip_set_bitmap_port', 'ip_set_list_set',
];

/** Loaded at boot. ip_vs, nf_conntrack and br_netfilter: loading them creates sysctls that tools set before first
 *  use (net.ipv4.vs.*, net.netfilter.nf_conntrack_*, net.bridge.bridge-nf-call-*); fou/fou6 declare no alias, so
 *  neither `ip fou` nor an `encap fou` tunnel can autoload them; iptables-legacy modprobes ip_tables/ip6_tables
 *  itself, with the host's modprobe, which finds no modules in the chroot. The rest loads on first use (aliases or
 *  module names the kernel requests), so a boot does not pay for features its command never touches. */
export const EAGER_MODULES = ['ip_vs', 'nf_conntrack', 'br_netfilter', 'fou', 'fou6', 'ip_tables', 'ip6_tables'];

const BUSYBOX = '/bin/busybox';
const INIT_SCRIPT = join(REPO_ROOT, 'lab', 'vm', 'init');

interface ModuleGraph {
  depsOf: Map<string, string[]>; // relative .ko path -> relative paths it depends on
  pathOf: Map<string, string>; // module name (underscores) -> relative .ko path
}

function moduleName(path: string): string {
  return (path.split('/').pop() ?? '').replace(/\.ko(\.[a-z]+)?$/, '').replace(/-/g, '_');
}

function parseModulesDep(text: string): ModuleGraph {
  const depsOf = new Map<string, string[]>();
  const pathOf = new Map<string, string>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const path = line.slice(0, colon);
    depsOf.set(path, line.slice(colon + 1).split(' ').filter(Boolean));
    pathOf.set(moduleName(path), path);
  }
  return { depsOf, pathOf };
}

/** Module paths needed for `wanted`, dependencies before dependents (the order modprobe would load them). */
export function moduleClosure(depText: string, wanted: string[]): Result<string[]> {
  const graph = parseModulesDep(depText);
  const ordered: string[] = [];
  const seen = new Set<string>();
  const visit = (path: string): void => {
    if (seen.has(path)) return;
    seen.add(path);
    for (const dep of graph.depsOf.get(path) ?? []) visit(dep);
    ordered.push(path);
  };
  for (const name of wanted) {
    const path = graph.pathOf.get(name.replace(/-/g, '_'));
    if (!path) return { ok: false, error: `module ${name} is not in modules.dep (built in, or missing from this kernel)` };
    visit(path);
  }
  return { ok: true, value: ordered };
}

const SIGNATURE_MAGIC = Buffer.from('~Module signature appended~\n');

/** The module without its appended signature: the kernel then skips the hash and RSA check (it only taints
 *  itself), which is a large share of module load time under TCG. */
export function stripModuleSignature(ko: Buffer): Buffer {
  if (ko.length < SIGNATURE_MAGIC.length + 12 || !ko.subarray(ko.length - SIGNATURE_MAGIC.length).equals(SIGNATURE_MAGIC)) return ko;
  // struct module_signature (12 bytes) precedes the magic; its last field is the big-endian signature length
  const info = ko.length - SIGNATURE_MAGIC.length - 12;
  const sigLen = ko.readUInt32BE(info + 8);
  const end = info - sigLen;
  return end > 0 ? ko.subarray(0, end) : ko;
}

/** Minimal cpio "newc" writer: the format the kernel unpacks into its rootfs. */
class CpioWriter {
  private readonly parts: Buffer[] = [];
  private ino = 1;
  private readonly dirs = new Set<string>();

  private entry(name: string, mode: number, data: Buffer, rdev: [number, number] = [0, 0]): void {
    const hex = (n: number): string => n.toString(16).padStart(8, '0');
    const nameBytes = Buffer.from(name + '\0');
    const fields = [this.ino++, mode, 0, 0, 1, 0, data.length, 0, 0, rdev[0], rdev[1], nameBytes.length, 0];
    const header = Buffer.from('070701' + fields.map(hex).join(''), 'latin1');
    const pad = (len: number): Buffer => Buffer.alloc((4 - (len % 4)) % 4);
    this.parts.push(header, nameBytes, pad(header.length + nameBytes.length), data, pad(data.length));
  }

  dir(path: string): void {
    const parts = path.split('/').filter(Boolean);
    for (let i = 1; i <= parts.length; i++) {
      const p = parts.slice(0, i).join('/');
      if (!this.dirs.has(p)) {
        this.dirs.add(p);
        this.entry(p, 0o040755, Buffer.alloc(0));
      }
    }
  }

  file(path: string, data: Buffer, perm = 0o644): void {
    this.dir(path.split('/').slice(0, -1).join('/'));
    this.entry(path.replace(/^\//, ''), 0o100000 | perm, data);
  }

  charDevice(path: string, major: number, minor: number): void {
    this.entry(path.replace(/^\//, ''), 0o020600, Buffer.alloc(0), [major, minor]);
  }

  finish(): Buffer {
    this.entry('TRAILER!!!', 0, Buffer.alloc(0));
    return Buffer.concat(this.parts);
  }
}

/** Alias lines of modules.alias that resolve to one of the shipped modules (so kernel autoload finds them). */
function aliasesFor(aliasText: string, names: Set<string>): string {
  return aliasText.split('\n').filter((l) => l.startsWith('alias ') && names.has(l.split(' ')[2] ?? '')).join('\n') + '\n';
}

/** Path of the initramfs (uncompressed cpio) for this kernel, building it unless an identical one is cached. */
export function buildInitramfs(kernel: KernelBuild): Result<string> {
  const mods = modulesDir(kernel);
  const depText = readFileSync(join(mods, 'modules.dep'), 'utf8');
  const closure = moduleClosure(depText, [...BOOT_MODULES, ...FEATURE_MODULES]);
  if (!closure.ok) return closure;
  const init = readFileSync(INIT_SCRIPT);
  const bb = statSync(BUSYBOX);
  const key = createHash('sha256')
    .update(JSON.stringify(['unsigned', kernel.release, closure.value, BOOT_MODULES, FEATURE_MODULES, EAGER_MODULES, bb.size, bb.mtimeMs]))
    .update(init)
    .digest('hex')
    .slice(0, 16);
  const out = join(vmCacheDir(), `initramfs-${kernel.release}-${key}.cpio`);
  if (existsSync(out)) return { ok: true, value: out };

  const cpio = new CpioWriter();
  for (const d of ['dev', 'proc', 'sys', 'tmp', 'run', 'host', 'etc']) cpio.dir(d);
  cpio.charDevice('/dev/console', 5, 1);
  cpio.file('/bin/busybox', readFileSync(BUSYBOX), 0o755);
  cpio.file('/init', init, 0o755);
  const modRoot = `lib/modules/${kernel.release}`;
  for (const rel of closure.value) cpio.file(`${modRoot}/${rel}`, stripModuleSignature(readFileSync(join(mods, rel))));
  const shipped = new Set(closure.value);
  const depLines = depText.split('\n').filter((l) => shipped.has(l.slice(0, l.indexOf(':'))));
  cpio.file(`${modRoot}/modules.dep`, Buffer.from(depLines.join('\n') + '\n'));
  const names = new Set(closure.value.map(moduleName));
  cpio.file(`${modRoot}/modules.alias`, Buffer.from(aliasesFor(readFileSync(join(mods, 'modules.alias'), 'utf8'), names)));
  // /init reads the load lists from here, so the lists live in one place (this file)
  cpio.file('/etc/krt-vm-boot-modules', Buffer.from(BOOT_MODULES.join(' ') + '\n'));
  cpio.file('/etc/krt-vm-eager-modules', Buffer.from(EAGER_MODULES.join(' ') + '\n'));

  mkdirSync(vmCacheDir(), { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  writeFileSync(tmp, cpio.finish());
  renameSync(tmp, out);
  // older builds (other init script or module lists) are never used again; a VM still booting has its copy in memory
  for (const name of readdirSync(vmCacheDir())) {
    if (/^initramfs-.*\.cpio$/.test(name) && join(vmCacheDir(), name) !== out) rmSync(join(vmCacheDir(), name), { force: true });
  }
  return { ok: true, value: out };
}
