// Runs Debian's gobgpd as a supervised child: no config file (everything goes through gRPC), optionally inside a
// network namespace, waits for its API, restarts it with capped exponential backoff when it dies and then asks the
// owner to re-apply desired state, pipes its log into ours (component 'gobgpd') with passwords removed.
// The child never outlives us: the kernel SIGKILLs it when we die (setpriv --pdeathsig), and a start that finds
// a gobgpd an earlier instance left (pid file + command line) replaces it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseIp } from '../net/ip.ts';
import type { Result } from '../result.ts';
import { logger, v } from '../observe/log.ts';
import { createGobgpRawClient, type GobgpRawClient } from './gobgp-proto.ts';
import { LineSplitter, parseGobgpdLogLine, SecretScrubber } from './gobgpd-log.ts';
import { endStaleGobgpd, findSetpriv, pidFileFor, removePidFile, writePidFile } from './gobgpd-lifetime.ts';

const log = logger('bgp');
const daemonLog = logger('gobgpd');

export interface GobgpdSupervisorOptions {
  binary?: string;
  /** Unix socket our own client always talks to (reachable from any namespace; admin port 0 still leaves it). */
  socketPath: string;
  /** upstream --gobgp-admin-address (default 127.0.0.1); 127.0.0.1 is served as well whenever the port is not 0. */
  adminAddress?: string;
  /** upstream --gobgp-admin-port; 0 = no TCP API listener at all. */
  adminPort: number;
  /** Run gobgpd in this network namespace (`ip netns exec`). */
  netns?: string;
  logLevel?: 'info' | 'debug';
  restartBackoff?: { initialMs: number; maxMs: number };
  /** A gobgpd that ran this long before dying restarts after the initial backoff again. */
  stableAfterMs?: number;
  readyTimeoutMs?: number;
  scrubber?: SecretScrubber;
  protoDir?: string;
  /** Called after every automatic restart once the API answers: re-apply global config, peers, policies, paths. */
  onRestarted?: () => Promise<void> | void;
  /** Where the running gobgpd's pid is kept for the next instance; default: the socket path with `.pid`. */
  pidFile?: string;
}

/** Whether gobgpd is serving, and if not, since when and why (for health detail and metrics). */
export interface GobgpdStatus {
  up: boolean;
  /** When gobgpd last stopped serving (or supervision began); undefined while up. */
  downSinceMs: number | undefined;
  lastError: string | undefined;
}

type Started = Result<undefined>;

const WILDCARDS = new Set(['0.0.0.0', '::', '']);
const MAX_UNIX_PATH = 107;

function hostPort(address: string, port: number): string {
  const ip = parseIp(address);
  return ip.ok && ip.value.family === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}

/** gobgpd's --api-hosts value: our private unix socket, plus the admin listeners upstream would open. */
export function gobgpdApiHosts(opts: Pick<GobgpdSupervisorOptions, 'socketPath' | 'adminAddress' | 'adminPort'>): string {
  const hosts = [`unix://${opts.socketPath}`];
  if (opts.adminPort > 0) {
    const admin = opts.adminAddress ?? '127.0.0.1';
    // A wildcard listener already covers 127.0.0.1, and binding both would fail with EADDRINUSE.
    if (!WILDCARDS.has(admin)) hosts.push(hostPort('127.0.0.1', opts.adminPort));
    if (admin !== '127.0.0.1') hosts.push(hostPort(admin, opts.adminPort));
  }
  return hosts.join(',');
}

/**
 * The command line that runs gobgpd (through `ip netns exec` when a namespace is given). With `setpriv`, the child
 * gets SIGKILL from the kernel when its parent thread dies; spawn() forks from the main thread, whose end is the
 * end of the process. The signal survives the execs (setpriv -> ip -> gobgpd: none of them is set-uid).
 */
export function gobgpdCommand(opts: GobgpdSupervisorOptions, setpriv?: string): { file: string; args: string[] } {
  const daemonArgs = [
    '--api-hosts', gobgpdApiHosts(opts),
    '--pprof-disable',
    // JSON log lines (no -p): we parse level and fields instead of guessing from logrus' text format.
    '--log-level', opts.logLevel ?? (v(3) ? 'debug' : 'info'),
  ];
  const binary = opts.binary ?? 'gobgpd';
  const command = opts.netns ? ['ip', 'netns', 'exec', opts.netns, binary, ...daemonArgs] : [binary, ...daemonArgs];
  const [file, ...args] = setpriv ? [setpriv, '--pdeathsig', 'KILL', ...command] : command;
  return { file: file!, args };
}

export class GobgpdSupervisor {
  readonly apiTarget: string;
  private child: ChildProcess | undefined;
  private childExited: Promise<void> | undefined;
  private startedAt = 0;
  private running = false;
  private stopping = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private backoffMs: number;
  private restartCount = 0;
  private probe: GobgpRawClient | undefined;
  private readonly scrubber: SecretScrubber;
  private readonly setpriv = findSetpriv();
  private readonly pidFile: string;
  private serving = false;
  private downSince = Date.now();
  private lastError: string | undefined;
  /** gobgpd's last error line (e.g. "failed to listen grpc port ..."): why it exited, for the failure report. */
  private lastDaemonError: string | undefined;
  private readonly killOnExit = (): void => {
    this.child?.kill('SIGKILL');
  };

  constructor(private readonly opts: GobgpdSupervisorOptions) {
    this.apiTarget = `unix://${opts.socketPath}`;
    this.scrubber = opts.scrubber ?? new SecretScrubber();
    this.backoffMs = opts.restartBackoff?.initialMs ?? 500;
    this.pidFile = opts.pidFile ?? pidFileFor(opts.socketPath);
    if (!this.setpriv) log.warn('setpriv not found: gobgpd would outlive a killed kube-router until the next start replaces it');
  }

  status(): GobgpdStatus {
    return { up: this.serving, downSinceMs: this.serving ? undefined : this.downSince, lastError: this.lastError };
  }

  private markDown(error: string): void {
    if (this.serving) this.downSince = Date.now();
    this.serving = false;
    this.lastError = error;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** How many times gobgpd was restarted after dying. */
  get restarts(): number {
    return this.restartCount;
  }

  /** Spawns gobgpd and resolves once its API answers. */
  async start(): Promise<Started> {
    if (this.running) return { ok: true, value: undefined };
    if (Buffer.byteLength(this.opts.socketPath) > MAX_UNIX_PATH) return { ok: false, error: `socket path too long: ${this.opts.socketPath}` };
    const probe = createGobgpRawClient({
      target: this.apiTarget, scrub: (s) => this.scrubber.scrub(s), ...(this.opts.protoDir ? { protoDir: this.opts.protoDir } : {}),
    });
    if (!probe.ok) return probe;
    this.probe = probe.value;
    this.stopping = false;
    process.on('exit', this.killOnExit);
    const launched = await this.launch();
    if (!launched.ok) {
      await this.stop({ graceful: true });
      return launched;
    }
    this.running = true;
    return launched;
  }

  private async launch(): Promise<Started> {
    mkdirSync(dirname(this.opts.socketPath), { recursive: true, mode: 0o700 });
    const stale = await endStaleGobgpd(this.pidFile, this.opts.binary ?? 'gobgpd', this.opts.socketPath);
    if (!stale.ok) {
      this.markDown(stale.error);
      return stale;
    }
    // A socket file left by a killed gobgpd makes its listen fail with "address already in use".
    rmSync(this.opts.socketPath, { force: true });
    const { file, args } = gobgpdCommand(this.opts, this.setpriv);
    this.lastDaemonError = undefined;
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.startedAt = Date.now();
    if (child.pid !== undefined) writePidFile(this.pidFile, child.pid);
    this.pipeLog(child);
    let exitedEarly = false;
    this.childExited = new Promise<void>((resolve) => {
      let seen = false;
      const onGone = (code: number | null, signal: NodeJS.Signals | null, error?: Error): void => {
        if (seen) return;
        seen = true;
        exitedEarly = true;
        resolve();
        this.onExit(child, code, signal, error);
      };
      // 'close', not 'exit': gobgpd's last words (a fatal line on stderr) may still be in the pipe at exit.
      child.once('close', (code, signal) => onGone(code, signal));
      child.once('error', (error) => onGone(null, null, error));
    });
    log.info({ pid: child.pid, netns: this.opts.netns, api: gobgpdApiHosts(this.opts) }, 'started gobgpd');
    const deadline = Date.now() + (this.opts.readyTimeoutMs ?? 15_000);
    const probe = this.probe;
    while (probe && !exitedEarly && !this.stopping && Date.now() < deadline) {
      const answer = await probe.unary('getBgp', {}, 500);
      if (answer.ok) {
        this.serving = true;
        this.lastError = undefined;
        return { ok: true, value: undefined };
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    if (!exitedEarly) child.kill('SIGKILL');
    await this.childExited;
    const why = exitedEarly ? 'gobgpd exited before its API answered' : this.stopping ? 'stopped while starting' : 'gobgpd API did not answer in time';
    const error = this.lastDaemonError ? `${why}: ${this.lastDaemonError}` : why;
    this.markDown(error);
    return { ok: false, error };
  }

  private pipeLog(child: ChildProcess): void {
    for (const [stream, fromStderr] of [[child.stdout, false], [child.stderr, true]] as const) {
      const lines = new LineSplitter();
      const emit = (line: string): void => {
        const rec = parseGobgpdLogLine(line, fromStderr, this.scrubber);
        if (rec) daemonLog[rec.level](rec.fields, rec.msg);
        if (rec && (rec.level === 'error' || rec.level === 'fatal')) {
          // gobgpd puts the cause in an Err field: "failed to listen grpc port" {"Err": "...address already in use"}
          const cause = rec.fields['Err'] ?? rec.fields['err'] ?? rec.fields['Error'];
          this.lastDaemonError = cause === undefined ? rec.msg : `${rec.msg}: ${String(cause)}`;
        }
      };
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => lines.push(chunk).forEach(emit));
      stream?.on('end', () => lines.flush().forEach(emit));
    }
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null, error?: Error): void {
    if (child.pid !== undefined) removePidFile(this.pidFile, child.pid);
    if (child !== this.child) return;
    this.child = undefined;
    this.markDown(`gobgpd exited (${signal ?? `code ${code}`})${this.lastDaemonError ? `: ${this.lastDaemonError}` : ''}`);
    if (this.stopping || !this.running) return;
    log.error({ code, signal, err: error?.message, ranMs: Date.now() - this.startedAt }, 'gobgpd died; restarting');
    if (Date.now() - this.startedAt >= (this.opts.stableAfterMs ?? 60_000)) this.backoffMs = this.opts.restartBackoff?.initialMs ?? 500;
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    if (this.restartTimer || this.stopping) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.opts.restartBackoff?.maxMs ?? 30_000);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      void this.restart();
    }, delay);
  }

  private async restart(): Promise<void> {
    if (this.stopping) return;
    this.restartCount++;
    const launched = await this.launch();
    if (this.stopping) return;
    // A failed launch has killed or lost its child, whose exit handler schedules the next attempt.
    if (!launched.ok) {
      log.error({ error: launched.error }, 'gobgpd restart failed');
      return;
    }
    log.info({ pid: this.child?.pid, restarts: this.restartCount }, 'gobgpd restarted; re-applying desired state');
    try {
      await this.opts.onRestarted?.();
    } catch (e) {
      log.error({ err: e }, 're-applying BGP state after a gobgpd restart failed');
    }
  }

  /**
   * Stops gobgpd. graceful: SIGKILL without StopBgp, so no CEASE goes out and graceful-restart peers keep our routes
   * as stale until we come back. Otherwise StopBgp (CEASE to every peer), then SIGTERM, then SIGKILL after 5 s.
   */
  async stop(opts: { graceful?: boolean } = {}): Promise<void> {
    this.stopping = true;
    this.running = false;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      if (opts.graceful) {
        child.kill('SIGKILL');
      } else {
        const stopped = await this.probe?.unary('stopBgp', {}, 3000);
        if (stopped && !stopped.ok) log.warn({ error: stopped.error.message }, 'StopBgp failed; terminating gobgpd anyway');
        child.kill('SIGTERM');
        const timeout = setTimeout(() => child.kill('SIGKILL'), 5000);
        await this.childExited;
        clearTimeout(timeout);
      }
      await this.childExited;
    }
    this.child = undefined;
    this.probe?.close();
    this.probe = undefined;
    process.off('exit', this.killOnExit);
    rmSync(this.opts.socketPath, { force: true });
    log.info({ graceful: opts.graceful === true }, 'gobgpd stopped');
  }
}
