// Starts one container process of a lab pod: in the node's network namespace (hostNetwork), in a mount
// namespace of its own (so its mounts never reach the host or other containers), over an overlay of the
// image's unpacked rootfs (its writes land in a per-container directory, the cached image stays clean), with
// /proc, /sys, /dev, the pod's volumes bind-mounted, then chrooted (`unshare --root`) into it. Capabilities:
// privileged keeps all; otherwise the bounding set is Docker's default set with the container's add/drop
// applied (SYS_CHROOT always kept: the lab needs it to enter the rootfs).
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, lstatSync, mkdirSync, openSync, readlinkSync } from 'node:fs';
import { join, posix } from 'node:path';

export interface ContainerMount { source: string; target: string; readOnly: boolean; isFile: boolean }

export interface ContainerLaunch {
  netns: string;
  /** The image's rootfs (the overlay's lower layer). */
  rootfs: string;
  /** Per-container scratch: overlay upper/work dirs and the merged mount point. */
  scratchDir: string;
  argv: string[];
  env: Record<string, string>;
  workingDir: string;
  mounts: ContainerMount[];
  privileged: boolean;
  capabilities: { add: string[]; drop: string[] };
  logFile: string;
}

const DEFAULT_CAPS = ['CHOWN', 'DAC_OVERRIDE', 'FSETID', 'FOWNER', 'MKNOD', 'NET_RAW', 'SETGID', 'SETUID', 'SETFCAP', 'SETPCAP',
  'NET_BIND_SERVICE', 'SYS_CHROOT', 'KILL', 'AUDIT_WRITE'];

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** `path` inside `root` with symlinks resolved within root (an absolute link target is relative to root, never the host). */
export function resolveInRoot(root: string, path: string): string {
  const pending = path.split('/').filter((s) => s !== '' && s !== '.');
  const resolved: string[] = [];
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '..') { resolved.pop(); continue; }
    const candidate = join(root, ...resolved, part);
    let link: string | undefined;
    try { if (lstatSync(candidate).isSymbolicLink()) link = readlinkSync(candidate); } catch { /* missing: created later */ }
    if (link === undefined) { resolved.push(part); continue; }
    if (++hops > 40) throw new Error(`too many symlinks resolving ${path} in ${root}`);
    if (link.startsWith('/')) resolved.length = 0;
    pending.unshift(...link.split('/').filter((s) => s !== '' && s !== '.'));
  }
  return posix.join('/', ...resolved);
}

/** The capability bounding set of a non-privileged container, as setpriv's --bounding-set argument. */
export function boundingSet(add: readonly string[], drop: readonly string[]): string {
  const norm = (c: string): string => c.toUpperCase().replace(/^CAP_/, '');
  const dropped = new Set(drop.map(norm));
  const all = dropped.has('ALL');
  const kept = new Set([...(all ? [] : DEFAULT_CAPS.filter((c) => !dropped.has(c))), ...add.map(norm), 'SYS_CHROOT']);
  if (kept.has('ALL')) return '+all';
  return ['-all', ...[...kept].sort().map((c) => `+${c.toLowerCase()}`)].join(',');
}

/** The shell script run in the new mount namespace: overlay, system mounts, volumes, then exec into the rootfs. */
export function launchScript(launch: ContainerLaunch): string {
  const merged = join(launch.scratchDir, 'merged');
  const upper = join(launch.scratchDir, 'upper'), work = join(launch.scratchDir, 'work');
  const lines = [
    'set -e', 'CONTAINER_PATH="$PATH"', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin',
    `mount -t overlay overlay -o ${quote(`lowerdir=${launch.rootfs},upperdir=${upper},workdir=${work}`)} ${quote(merged)}`,
  ];
  const inRoot = (target: string): string => join(merged, resolveInRoot(launch.rootfs, target));
  for (const [fs, target] of [['proc', '/proc'], ['sysfs', '/sys']] as const) {
    lines.push(`mkdir -p ${quote(inRoot(target))}`, `mount -t ${fs} ${fs} ${quote(inRoot(target))}`);
  }
  lines.push(`mkdir -p ${quote(inRoot('/dev'))}`, `mount --rbind /dev ${quote(inRoot('/dev'))}`);
  for (const m of launch.mounts) {
    const target = quote(inRoot(m.target));
    lines.push(m.isFile ? `mkdir -p "$(dirname ${target})"; [ -e ${target} ] || : > ${target}` : `mkdir -p ${target}`);
    lines.push(`mount --bind ${quote(m.source)} ${target}`);
    if (m.readOnly) lines.push(`mount -o remount,bind,ro ${target}`);
  }
  lines.push(`mkdir -p ${quote(inRoot(launch.workingDir))}`);  // as runtimes do for a workingDir the image lacks
  const caps = launch.privileged ? [] : ['--bounding-set', boundingSet(launch.capabilities.add, launch.capabilities.drop)];
  const setpriv = caps.length > 0 ? `/usr/bin/setpriv ${caps.map(quote).join(' ')} ` : '';
  lines.push(`PATH="$CONTAINER_PATH" exec ${setpriv}/usr/bin/unshare --root=${quote(merged)} --wd=${quote(launch.workingDir)} -- "$@"`);
  return lines.join('\n');
}

/** Spawns the container (its pid is the container's main process: every step execs the next). */
export function startContainerProcess(launch: ContainerLaunch): ChildProcess {
  for (const d of ['merged', 'upper', 'work']) mkdirSync(join(launch.scratchDir, d), { recursive: true });
  const log = openSync(launch.logFile, 'a');
  try {
    return spawn('nsenter', [`--net=/run/netns/${launch.netns}`, 'unshare', '--mount', '--propagation', 'private', '--',
      '/bin/sh', '-c', launchScript(launch), 'container', ...launch.argv],
    { env: launch.env, stdio: ['ignore', log, log], detached: true });
  } finally {
    closeSync(log);
  }
}
