// Starting, reaching and stopping the per-namespace agents (agent.mjs): one per pod (its listeners and
// in-pod probe client) and one probe-only agent per node namespace, started on first use.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isAlive, killPids } from '../netns/exec.ts';
import type { LabPaths } from '../netns/state.ts';

const agentBesideModule = fileURLToPath(new URL('./agent.mjs', import.meta.url));
// compiled into dist/lab/pods/, where tsc does not copy .mjs files: the source tree's copy is the one to run
export const AGENT_SCRIPT = existsSync(agentBesideModule) ? agentBesideModule : fileURLToPath(new URL('../../../lab/pods/agent.mjs', import.meta.url));

export type PortProtocol = 'TCP' | 'UDP' | 'SCTP';

export interface AgentPort {
  port: number;
  protocol: PortProtocol;
}

export interface AgentSpec {
  /** Namespace to start in; undefined = a fresh unnamed one (`unshare --net`), for warm agents (pool.ts). */
  netns?: string;
  socketPath: string;
  /** First line the listeners answer with: "<namespace>/<name>" (the second is "client <address> <port>"). */
  identity: string;
  /** undefined = no listeners yet (a warm agent, told later with a "listen" request). */
  ports?: AgentPort[];
  logFile: string;
}

export interface StartedAgent {
  pid: number;
  /** Ports not opened (SCTP on a kernel without SCTP). */
  skipped: (AgentPort & { reason: string })[];
}

/** Wire format of one reply from an agent (a probe's outcome, or `ok`/`skipped` for "listen"). */
export interface AgentProbeReply {
  id?: number;
  ok?: boolean;
  skipped?: StartedAgent['skipped'];
  connected: boolean;
  answer?: string;
  /** The peer address (and port) the answering lab listener saw: its "client ADDRESS PORT" reply line. */
  client?: string;
  clientPort?: number;
  error?: string;
  detail?: string;
  ms?: number;
}

/**
 * Starts an agent inside `spec.netns` and resolves once all its listeners and its control socket are bound.
 * The agent is its own process group leader (stop it with stopAgent) and does not keep this process alive.
 */
export function startAgent(spec: AgentSpec): Promise<StartedAgent> {
  rmSync(spec.socketPath, { force: true });
  const logFd = openSync(spec.logFile, 'a');
  const config = JSON.stringify({ socket: spec.socketPath, identity: spec.identity, ports: spec.ports });
  const launcher = spec.netns === undefined ? ['unshare', '--net', '--'] : ['ip', 'netns', 'exec', spec.netns];
  const [cmd, ...args] = [...launcher, process.execPath, AGENT_SCRIPT, config];
  // both launchers exec the agent, so the child's pid is the agent's own
  const child = spawn(cmd!, args, {
    detached: true,
    stdio: ['ignore', 'pipe', logFd],
    // a loader inherited from the caller (tsx) would triple the agent's start time
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  closeSync(logFd);
  return new Promise((resolve, reject) => {
    let out = '';
    const fail = (why: string): void => {
      clearTimeout(timer);
      if (child.pid) void stopAgent(child.pid, 200);
      reject(new Error(`agent in ${spec.netns ?? 'a new namespace'}: ${why} (log: ${spec.logFile})`));
    };
    const timer = setTimeout(() => fail('not ready after 10 s'), 10_000);
    child.on('error', (e) => fail(e.message));
    child.on('exit', (code) => fail(`exited with ${code} before it was ready`));
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      child.stdout!.destroy();
      child.unref();
      const line = JSON.parse(out.slice(0, nl)) as { ready: boolean; pid?: number; skipped?: StartedAgent['skipped']; error?: string };
      if (!line.ready) return reject(new Error(`agent in ${spec.netns ?? 'a new namespace'} failed: ${line.error ?? 'unknown'} (log: ${spec.logFile})`));
      resolve({ pid: child.pid!, skipped: line.skipped ?? [] });
    });
  });
}

/** Stops an agent and the children it started (its whole process group). */
export async function stopAgent(pid: number, graceMs = 1000): Promise<void> {
  if (!isAlive(pid)) return;
  try {
    process.kill(-pid, 'SIGTERM');
  } catch {
    // group already gone
  }
  await killPids([pid], graceMs);
  try {
    process.kill(-pid, 'SIGKILL'); // leftover socat children
  } catch {
    // none left
  }
}

/** A JSON-lines connection to one agent; requests are pipelined and answered by id. */
export class AgentConnection {
  private readonly sock: net.Socket;
  private readonly pending = new Map<number, (r: AgentProbeReply) => void>();
  private nextId = 1;
  private buf = '';
  private closedWith: string | undefined;

  private constructor(sock: net.Socket) {
    this.sock = sock;
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => this.onData(d));
    sock.on('error', (e) => this.failAll(e.message));
    sock.on('close', () => this.failAll('agent connection closed'));
  }

  static open(socketPath: string): Promise<AgentConnection> {
    return new Promise((resolve, reject) => {
      const sock = net.connect(socketPath);
      sock.once('error', reject);
      sock.once('connect', () => {
        sock.removeListener('error', reject);
        resolve(new AgentConnection(sock));
      });
    });
  }

  /** Sends one request; resolves with the agent's reply, or a probe-shaped error when it never comes. */
  request(req: Record<string, unknown>, deadlineMs: number): Promise<AgentProbeReply> {
    if (this.closedWith) return Promise.resolve({ connected: false, error: 'error', detail: this.closedWith });
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve({ connected: false, error: 'error', detail: 'agent did not answer in time' });
      }, deadlineMs);
      this.pending.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      this.sock.write(JSON.stringify({ ...req, id }) + '\n');
    });
  }

  close(): void {
    this.sock.end();
  }

  private onData(d: string): void {
    this.buf += d;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const reply = JSON.parse(this.buf.slice(0, nl)) as AgentProbeReply;
      this.buf = this.buf.slice(nl + 1);
      const done = reply.id === undefined ? undefined : this.pending.get(reply.id);
      if (done && reply.id !== undefined) {
        this.pending.delete(reply.id);
        done(reply);
      }
    }
  }

  private failAll(why: string): void {
    this.closedWith ??= why;
    for (const done of this.pending.values()) done({ connected: false, error: 'error', detail: why });
    this.pending.clear();
  }
}

export function agentSocketPath(paths: LabPaths, netns: string): string {
  return join(paths.sockets, `${netns}.sock`);
}

function nodeAgentPidFile(paths: LabPaths, netns: string): string {
  return join(paths.sockets, `${netns}.pid`);
}

async function reachable(socketPath: string): Promise<boolean> {
  if (!existsSync(socketPath)) return false;
  try {
    const conn = await AgentConnection.open(socketPath);
    const pong = await conn.request({ op: 'ping' }, 2000);
    conn.close();
    return pong.error === undefined;
  } catch {
    return false;
  }
}

/**
 * Socket of the probe-only agent of a namespace that has no pod agent (a node), starting it if needed.
 * A lock file keeps two CLI processes from starting two agents for the same namespace.
 */
export async function ensureNamespaceAgent(paths: LabPaths, netns: string): Promise<string> {
  const socketPath = agentSocketPath(paths, netns);
  if (await reachable(socketPath)) return socketPath;
  const lock = join(paths.sockets, `${netns}.lock`);
  let fd: number;
  try {
    fd = openSync(lock, 'wx');
  } catch {
    // someone else is starting it: wait for the socket
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      if (await reachable(socketPath)) return socketPath;
    }
    rmSync(lock, { force: true }); // the other starter died; let the next call retry
    throw new Error(`agent for ${netns} did not come up`);
  }
  try {
    const agent = await startAgent({ netns, socketPath, identity: `node/${netns}`, ports: [], logFile: join(paths.logs, `${netns}.log`) });
    writeFileSync(nodeAgentPidFile(paths, netns), `${agent.pid}\n`);
    return socketPath;
  } finally {
    closeSync(fd);
    rmSync(lock, { force: true });
  }
}

/** Stops the probe-only agent of a namespace, if one was started. */
export async function stopNamespaceAgent(paths: LabPaths, netns: string): Promise<void> {
  const pidFile = nodeAgentPidFile(paths, netns);
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (Number.isInteger(pid) && pid > 0) await stopAgent(pid);
  rmSync(pidFile, { force: true });
  rmSync(agentSocketPath(paths, netns), { force: true });
}
