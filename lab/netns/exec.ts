// Running commands for the lab: `ip` calls, commands inside a named network namespace, and killing
// every process that lives in a lab namespace (so nothing the lab started outlives its namespace).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Text written to the command's stdin. */
  input?: string;
  /** 'inherit' hands the caller's terminal to the command (for `kube-router-lab exec`); stdout/stderr are then ''. */
  stdio?: 'pipe' | 'inherit';
  env?: NodeJS.ProcessEnv;
}

/** Runs argv and resolves with its exit code and output; never rejects for a non-zero exit. */
export function run(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const [cmd, ...args] = argv;
  if (cmd === undefined) return Promise.resolve({ code: 127, stdout: '', stderr: 'empty command' });
  return new Promise((resolve) => {
    const inherit = opts.stdio === 'inherit';
    const child = spawn(cmd, args, {
      stdio: inherit ? 'inherit' : ['pipe', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (e) => resolve({ code: 127, stdout, stderr: stderr + String(e.message) }));
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
    if (child.stdin) {
      child.stdin.on('error', () => undefined); // the command may exit without reading its input
      child.stdin.end(opts.input ?? '');
    }
  });
}

/** Runs argv inside network namespace `nsName` (`ip netns exec`), as `kube-router-lab exec` does. */
export function execIn(nsName: string, argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return run(['ip', 'netns', 'exec', nsName, ...argv], opts);
}

/** Runs argv synchronously and throws with its stderr when it fails (setup steps that must succeed). */
export function mustRun(argv: readonly string[], input?: string): string {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new Error('empty command');
  const r = spawnSync(cmd, args, { input, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status ?? r.signal}): ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

/** Feeds `ip [-n ns] -batch -` one command per line: one process instead of one per command. */
export function ipBatch(nsName: string | undefined, lines: readonly string[]): void {
  if (lines.length === 0) return;
  const ns = nsName === undefined ? [] : ['-n', nsName];
  mustRun(['ip', ...ns, '-batch', '-'], lines.join('\n') + '\n');
}

/** Names of all network namespaces under /run/netns. */
export function listNetns(): string[] {
  const out = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  return out
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n !== '');
}

/** True if /run/netns/<name> exists (cheaper than listing all namespaces). */
export function netnsExists(nsName: string): boolean {
  return existsSync(`/run/netns/${nsName}`);
}

/**
 * Pids of the processes living in each of the named namespaces, from one scan of /proc (what `ip netns pids`
 * does per namespace): a process is in a namespace when its /proc/PID/ns/net is the bind-mounted inode.
 */
export function pidsInNetns(nsNames: readonly string[]): Map<string, number[]> {
  const byInode = new Map<number, string>();
  const result = new Map<string, number[]>();
  for (const name of nsNames) {
    result.set(name, []);
    try {
      byInode.set(statSync(`/run/netns/${name}`).ino, name);
    } catch {
      // namespace gone: no processes
    }
  }
  if (byInode.size === 0) return result;
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    let link: string;
    try {
      link = readlinkSync(`/proc/${pid}/ns/net`);
    } catch {
      continue; // exited meanwhile, or a kernel thread
    }
    const name = byInode.get(Number(/\[(\d+)\]/.exec(link)?.[1]));
    if (name !== undefined) result.get(name)!.push(pid);
  }
  return result;
}

/**
 * Pids of the processes whose command line contains any of `needles`: finds a lab's processes even in network
 * namespaces that lost their name (deleted while a process still held them).
 */
export function pidsWithCommandLine(needles: readonly string[]): number[] {
  const pids: number[] = [];
  const ancestors = ancestorPids();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || ancestors.has(pid)) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue; // exited meanwhile
    }
    if (needles.some((n) => cmdline.includes(n))) pids.push(pid);
  }
  return pids;
}

/** This process and its ancestors (a shell that ran `down` may mention the lab's paths too). */
function ancestorPids(): Set<number> {
  const out = new Set<number>();
  let pid = process.pid;
  while (pid > 1 && !out.has(pid)) {
    out.add(pid);
    try {
      // /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces, so read after the last ')'.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      break;
    }
  }
  return out;
}

/** Pids of the processes whose network namespace is `nsName` (empty if the namespace is gone). */
export function netnsPids(nsName: string): number[] {
  return pidsInNetns([nsName]).get(nsName) ?? [];
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM the given pids, wait up to graceMs for them to exit, then SIGKILL the rest. */
export async function killPids(pids: readonly number[], graceMs = 1000): Promise<void> {
  const signal = (pid: number, sig: NodeJS.Signals): void => {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  };
  for (const pid of pids) signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  let alive = pids.filter(isAlive);
  while (alive.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    alive = alive.filter(isAlive);
  }
  for (const pid of alive) signal(pid, 'SIGKILL');
}

/** Kills every process living in `nsName`; the namespace itself is only freed by the kernel once they are gone. */
export async function killNetnsProcesses(nsName: string, graceMs = 1000): Promise<number[]> {
  const pids = netnsPids(nsName);
  await killPids(pids, graceMs);
  return pids;
}
