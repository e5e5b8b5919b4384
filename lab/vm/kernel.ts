// Fetches and prepares the Debian 6.1 generic kernel for the test VM: package download, module tree with
// modules.dep, and an uncompressed vmlinux (PVH boot), all cached so later runs reuse them untouched.
import { REPO_ROOT } from './repo-root.ts';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { logger } from '../../src/observe/log.ts';
import type { Result } from '../../src/result.ts';
import { runChecked, runCommand } from './exec.ts';

const log = logger('lab-vm');

/** A prepared kernel: its release string, unpacked package root and bootable uncompressed image. */
export interface KernelBuild {
  release: string; // e.g. 6.1.0-56-amd64
  root: string; // dpkg -x tree; modules under <root>/lib/modules/<release>
  vmlinux: string;
}

/** Where VM artefacts live (gitignored); KUBE_ROUTER_VM_CACHE overrides. */
export function vmCacheDir(): string {
  return process.env['KUBE_ROUTER_VM_CACHE'] ?? join(REPO_ROOT, '.cache', 'vm');
}

export function modulesDir(k: KernelBuild): string {
  return join(k.root, 'lib', 'modules', k.release);
}

// Only the generic flavour: the cloud flavour lacks 9p, rt/dbg/unsigned are other packages entirely.
const GENERIC_IMAGE = /^linux-image-(6\.1\.0-(\d+)-amd64)$/;

/** Newest generic 6.1 ABI known to apt, e.g. "6.1.0-56-amd64"; refreshes an empty apt cache once. */
export async function newestGenericRelease(): Promise<Result<string>> {
  for (let attempt = 0; attempt < 2; attempt++) {
    const r = await runCommand('apt-cache', ['search', '--names-only', '^linux-image-6\\.1\\.0-[0-9]+-amd64$']);
    let best: { release: string; abi: number } | undefined;
    for (const line of r.stdout.toString().split('\n')) {
      const m = GENERIC_IMAGE.exec(line.split(' ')[0] ?? '');
      if (m && (!best || Number(m[2]) > best.abi)) best = { release: m[1] ?? '', abi: Number(m[2]) };
    }
    if (best) return { ok: true, value: best.release };
    if (attempt === 0) {
      log.info('apt cache has no linux-image-6.1.0-*-amd64; running apt-get update');
      const upd = await runChecked('apt-get', ['update']);
      if (!upd.ok) return upd;
    }
  }
  return { ok: false, error: 'apt knows no linux-image-6.1.0-<N>-amd64 package (is bookworm in sources.list?)' };
}

function readCached(dir: string): KernelBuild | undefined {
  try {
    const k = JSON.parse(readFileSync(join(dir, 'kernel.json'), 'utf8')) as KernelBuild;
    return existsSync(k.vmlinux) && existsSync(join(modulesDir(k), 'modules.dep')) ? k : undefined;
  } catch {
    return undefined;
  }
}

/** The newest kernel already prepared in the cache, without asking apt anything. */
function newestCached(cache: string): KernelBuild | undefined {
  if (!existsSync(cache)) return undefined;
  const abi = (name: string): number => Number(/^kernel-6\.1\.0-(\d+)-amd64$/.exec(name)?.[1] ?? -1);
  const names = readdirSync(cache).filter((n) => abi(n) >= 0).sort((a, b) => abi(b) - abi(a));
  for (const name of names) {
    const k = readCached(join(cache, name));
    if (k) return k;
  }
  return undefined;
}

/** Writes the XZ-compressed kernel inside a Debian bzImage out as an uncompressed ELF vmlinux. */
async function extractVmlinux(bzImage: string, out: string): Promise<Result<void>> {
  const image = readFileSync(bzImage);
  const xzMagic = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
  const at = image.indexOf(xzMagic);
  if (at < 0) return { ok: false, error: `${bzImage}: no XZ stream (kernel not built with CONFIG_KERNEL_XZ?)` };
  // --single-stream: the bzImage carries trailing data after the XZ stream; python3's lzma if xz is missing
  let r = await runChecked('xz', ['-dc', '--single-stream'], { input: image.subarray(at) });
  if (!r.ok && r.error.startsWith('xz: cannot run')) {
    const script = 'import lzma,sys; sys.stdout.buffer.write(lzma.LZMADecompressor().decompress(sys.stdin.buffer.read()))';
    r = await runChecked('python3', ['-c', script], { input: image.subarray(at) });
  }
  if (!r.ok) return r;
  if (r.value.subarray(0, 4).toString('latin1') !== '\x7fELF') return { ok: false, error: `${bzImage}: XZ payload is not ELF` };
  writeFileSync(out, r.value);
  return { ok: true, value: undefined };
}

async function buildKernel(cache: string, release: string): Promise<Result<KernelBuild>> {
  const work = join(cache, `kernel-${release}.tmp-${process.pid}`);
  const final = join(cache, `kernel-${release}`);
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const t0 = Date.now();
  const pkg = `linux-image-${release}`;
  const dl = await runChecked('apt-get', ['download', pkg], { cwd: work });
  if (!dl.ok) return dl;
  const deb = readdirSync(work).find((n) => n.startsWith(`${pkg}_`) && n.endsWith('.deb'));
  if (!deb) return { ok: false, error: `apt-get download ${pkg} left no .deb in ${work}` };
  const root = join(work, 'root');
  const x = await runChecked('dpkg', ['-x', join(work, deb), root]);
  if (!x.ok) return x;
  rmSync(join(work, deb));
  // the package ships no modules.dep (the postinst would make it)
  let dep = await runChecked('depmod', ['-b', root, release]);
  if (!dep.ok && dep.error.startsWith('depmod: cannot run')) dep = await runChecked('busybox', ['depmod', '-b', root, release]);
  if (!dep.ok) return dep;
  const vm = await extractVmlinux(join(root, 'boot', `vmlinuz-${release}`), join(work, 'vmlinux'));
  if (!vm.ok) return vm;
  const build: KernelBuild = { release, root: join(final, 'root'), vmlinux: join(final, 'vmlinux') };
  writeFileSync(join(work, 'kernel.json'), JSON.stringify(build, null, 2) + '\n');
  try {
    renameSync(work, final);
  } catch {
    // another process finished the same kernel first: use theirs
    rmSync(work, { recursive: true, force: true });
  }
  const ready = readCached(final);
  if (!ready) return { ok: false, error: `kernel cache ${final} is incomplete` };
  log.info({ release, ms: Date.now() - t0 }, 'VM kernel prepared');
  return { ok: true, value: ready };
}

/** The kernel to boot: the cached one if any, else the newest generic 6.1 kernel fetched and prepared now. */
export async function prepareKernel(): Promise<Result<KernelBuild>> {
  const cache = vmCacheDir();
  const cached = newestCached(cache);
  if (cached) return { ok: true, value: cached };
  const release = await newestGenericRelease();
  if (!release.ok) return release;
  log.info({ release: release.value, cache }, 'fetching VM kernel');
  return buildKernel(cache, release.value);
}
