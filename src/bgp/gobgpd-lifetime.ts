// How the gobgpd we start never outlives us. First, the kernel kills it when we die (setpriv's parent-death
// signal). Second, for whatever slips through (no setpriv, or death between fork and prctl), the next start finds
// the gobgpd an earlier kube-router left running, which would keep ports 179 and 50051 and advertise stale state,
// and ends it. "Ours" means: the pid file next to our API socket names it, and its command line is gobgpd serving
// that same socket. Any other gobgpd on the host is never touched.
import { accessSync, constants, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, delimiter, join } from 'node:path';
import { logger } from '../observe/log.ts';

const log = logger('bgp');

/** util-linux setpriv, if installed (Debian: always, util-linux is essential). */
export function findSetpriv(path = process.env['PATH'] ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    const file = join(dir || '.', 'setpriv');
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** `/run/kube-router/gobgpd-n1.sock` -> `/run/kube-router/gobgpd-n1.pid`. */
export function pidFileFor(socketPath: string): string {
  return `${socketPath.replace(/\.sock$/, '')}.pid`;
}

export function writePidFile(path: string, pid: number): void {
  writeFileSync(path, `${pid}\n`, { mode: 0o600 });
}

/** Removes the pid file if it still names `pid` (a newer daemon's file stays). */
export function removePidFile(path: string, pid: number): void {
  if (readPid(path) === pid) rmSync(path, { force: true });
}

function readPid(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 1 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** argv of a process, or undefined once it is gone or has exited (a zombie's cmdline is empty). */
function commandLine(pid: number): string[] | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return raw === '' ? undefined : raw.replace(/\0$/, '').split('\0');
  } catch {
    return undefined;
  }
}

/** State letter and start time (clock ticks since boot) from /proc/PID/stat; undefined once reaped. */
function procStat(pid: number): { state: string; startTime: string } | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "pid (comm) ": comm may hold spaces and parentheses, so split after the last ')'.
    const fields = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '', startTime: fields[19] ?? '' };
  } catch {
    return undefined;
  }
}

/** True if `argv` is gobgpd (named `binary`) serving our API socket first in its --api-hosts, as we start it. */
export function isOurGobgpd(argv: readonly string[], binary: string, socketPath: string): boolean {
  if (basename(argv[0] ?? '') !== basename(binary)) return false;
  const i = argv.indexOf('--api-hosts');
  return i > 0 && argv[i + 1]?.split(',')[0] === `unix://${socketPath}`;
}

/**
 * Kills the gobgpd the pid file names if it is ours and still running, and waits until it is gone.
 * SIGKILL, not StopBgp: no CEASE goes out, so peers that negotiated graceful restart keep our routes as stale
 * until the new gobgpd has re-established the sessions (as a graceful stop does).
 * Returns the pid it replaced, or an error if it would not die.
 */
export async function endStaleGobgpd(pidFile: string, binary: string, socketPath: string, timeoutMs = 5000): Promise<{ ok: true; value: number | undefined } | { ok: false; error: string }> {
  const pid = readPid(pidFile);
  if (pid === undefined) return { ok: true, value: undefined };
  const started = procStat(pid);
  const argv = commandLine(pid);
  if (!started || !argv || !isOurGobgpd(argv, binary, socketPath)) {
    // Gone, or the pid now belongs to something else: forget it, never signal it.
    rmSync(pidFile, { force: true });
    return { ok: true, value: undefined };
  }
  log.warn({ pid, socket: socketPath }, 'a gobgpd left by an earlier kube-router is still running; replacing it');
  try {
    process.kill(pid, 'SIGKILL');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') return { ok: false, error: `cannot kill stale gobgpd ${pid}: ${String(e)}` };
  }
  // Not our child, so no exit event: poll until it is a zombie or reaped. Its sockets (ports 179 and 50051) are
  // closed before it turns zombie; an empty cmdline alone comes earlier, while they may still be open.
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = procStat(pid);
    if (!now || now.state === 'Z' || now.startTime !== started?.startTime) break;
    if (Date.now() > deadline) return { ok: false, error: `stale gobgpd ${pid} did not exit after SIGKILL` };
    await new Promise((r) => setTimeout(r, 20));
  }
  rmSync(pidFile, { force: true });
  return { ok: true, value: pid };
}
