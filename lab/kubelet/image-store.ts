// The lab's image store: OCI archives loaded with `kube-router-lab image load`, unpacked once by umoci into a
// cache directory keyed by manifest digest, and found again by image reference (a pod's `image:`). What the
// kubelet needs from the image config (entrypoint, cmd, env, working directory) is kept beside the rootfs.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../netns/exec.ts';
import { readJson, writeJson } from '../netns/state.ts';
import { err, ok, type Result } from '../../src/result.ts';

export const DEFAULT_IMAGE_DIR = '/var/cache/kube-router-lab/images';

/** The store directory: KUBE_ROUTER_LAB_IMAGE_DIR, else DEFAULT_IMAGE_DIR. */
export function imageDir(): string {
  return process.env['KUBE_ROUTER_LAB_IMAGE_DIR'] || DEFAULT_IMAGE_DIR;
}

export interface StoredImage {
  reference: string;
  digest: string;
  /** The unpacked root filesystem (read-only by convention: containers write to an overlay above it). */
  rootfs: string;
  entrypoint: string[];
  cmd: string[];
  env: string[];
  workingDir: string;
}

interface OciDescriptor { digest: string; mediaType?: string; annotations?: Record<string, string> }

/**
 * The canonical form of an image reference, so `busybox`, `busybox:latest` and `docker.io/library/busybox:latest`
 * name one image (as container runtimes treat them).
 */
export function normalizeReference(reference: string): string {
  let ref = reference.trim();
  if (!/^[^/]*[.:][^/]*\//.test(ref) && !ref.startsWith('localhost/')) ref = `docker.io/${ref.includes('/') ? '' : 'library/'}${ref}`;
  const lastSegment = ref.slice(ref.lastIndexOf('/') + 1);
  if (!lastSegment.includes(':') && !ref.includes('@')) ref += ':latest';
  return ref;
}

function refFile(dir: string, reference: string): string {
  return join(dir, 'refs', `${createHash('sha256').update(normalizeReference(reference)).digest('hex').slice(0, 24)}.json`);
}

/** The image a pod's `image:` names, if it was loaded. */
export function findImage(reference: string, dir = imageDir()): StoredImage | undefined {
  const stored = readJson<StoredImage>(refFile(dir, reference));
  return stored && existsSync(stored.rootfs) ? stored : undefined;
}

function blob(layout: string, digest: string): Record<string, unknown> {
  const [algorithm, hex] = digest.split(':');
  return JSON.parse(readFileSync(join(layout, 'blobs', algorithm ?? 'sha256', hex ?? ''), 'utf8')) as Record<string, unknown>;
}

export interface LoadOptions {
  /** Which tag of the archive (its org.opencontainers.image.ref.name); default its only one. */
  tag?: string;
  /** The reference pods use; default the archive's io.containerd.image.name, else its ref name. */
  reference?: string;
  dir?: string;
}

/** Unpacks an OCI archive (a tar of an OCI image layout) into the store; loading the same digest again is a no-op. */
export async function loadImage(archive: string, options: LoadOptions = {}): Promise<Result<StoredImage, string>> {
  const dir = options.dir ?? imageDir();
  mkdirSync(join(dir, 'refs'), { recursive: true });
  const layout = mkdtempSync(join(dir, '.load-'));
  try {
    const untar = await run(['tar', '-xf', archive, '-C', layout]);
    if (untar.code !== 0) return err(`cannot read ${archive}: ${untar.stderr.trim()}`);
    if (!existsSync(join(layout, 'index.json'))) return err(`${archive} is not an OCI archive (no index.json)`);
    const manifests = ((JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as { manifests?: OciDescriptor[] }).manifests ?? []);
    const tagOf = (m: OciDescriptor): string | undefined => m.annotations?.['org.opencontainers.image.ref.name'];
    const tagged = manifests.filter((m) => tagOf(m) !== undefined);
    const chosen = options.tag !== undefined ? tagged.find((m) => tagOf(m) === options.tag) : tagged.length === 1 ? tagged[0] : undefined;
    if (!chosen) {
      return err(`${archive}: ${options.tag !== undefined ? `no tag "${options.tag}"` : 'name one tag with --tag'} (tags: ${tagged.map(tagOf).join(', ') || 'none'})`);
    }
    const tag = tagOf(chosen) ?? '';
    const reference = options.reference ?? chosen.annotations?.['io.containerd.image.name'] ?? tag;
    const digestDir = join(dir, chosen.digest.replace(':', '-'));
    if (!existsSync(join(digestDir, 'bundle', 'rootfs'))) {
      const staging = `${digestDir}.partial`;
      rmSync(staging, { recursive: true, force: true });
      mkdirSync(staging, { recursive: true });
      const unpack = await run(['umoci', 'unpack', '--image', `${layout}:${tag}`, join(staging, 'bundle')]);
      if (unpack.code !== 0) { rmSync(staging, { recursive: true, force: true }); return err(`umoci unpack failed: ${unpack.stderr.trim()}`); }
      rmSync(digestDir, { recursive: true, force: true });
      renameSync(staging, digestDir);
    }
    const manifest = blob(layout, chosen.digest) as { config?: OciDescriptor };
    const config = ((manifest.config ? blob(layout, manifest.config.digest) : {})['config'] ?? {}) as
      { Entrypoint?: string[] | null; Cmd?: string[] | null; Env?: string[] | null; WorkingDir?: string };
    const image: StoredImage = {
      reference: normalizeReference(reference), digest: chosen.digest, rootfs: join(digestDir, 'bundle', 'rootfs'),
      entrypoint: config.Entrypoint ?? [], cmd: config.Cmd ?? [], env: config.Env ?? [], workingDir: config.WorkingDir || '/',
    };
    writeJson(refFile(dir, reference), image);
    return ok(image);
  } finally {
    rmSync(layout, { recursive: true, force: true });
  }
}
