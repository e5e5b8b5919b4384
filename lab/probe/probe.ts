// Connectivity probes from inside a lab namespace (a pod's or a node's): TCP connect + read the answer,
// UDP datagram + wait for the reply, SCTP via socat. Probes go through the namespace's agent over its unix
// socket, so a batch of hundreds costs socket round trips, not process starts.
import { mapLimit } from '../netns/concurrency.ts';
import { listNetns } from '../netns/exec.ts';
import { labPaths } from '../netns/state.ts';
import { AgentConnection, ensureNamespaceAgent } from '../pods/agents.ts';
import { listPods, type LabRef } from '../pods/runtime.ts';

export type ProbeProtocol = 'tcp' | 'udp' | 'sctp';
export type ProbeError = 'refused' | 'timeout' | 'unreachable' | 'reset' | 'unsupported' | 'no-agent' | 'error';

export interface ProbeRequest {
  /** Network namespace the probe starts from (resolveNamespace in pods/runtime.ts maps "node/NAME" and "NS/POD"). */
  from: string;
  host: string;
  port: number;
  protocol?: ProbeProtocol;
  /** Default 1000. */
  timeoutMs?: number;
}

export interface ProbeResult {
  connected: boolean;
  /** The first line the peer sent (trimmed); lab pods answer "<namespace>/<name>". */
  answer?: string;
  /**
   * The address this connection came from as the answering lab pod saw it (its second reply line,
   * "client <address> <port>"): the prober's own address unless something on the way rewrote the source
   * (masquerade/SNAT). IPv4 peers are given as a.b.c.d, never ::ffff:a.b.c.d. Absent for non-lab peers.
   */
  client?: string;
  clientPort?: number;
  error?: ProbeError;
  /** errno code or tool message behind `error`. */
  detail?: string;
  ms: number;
}

export const DEFAULT_PROBE_TIMEOUT_MS = 1000;

/** Holds one agent connection per source namespace for the lifetime of a batch (or of a CLI process). */
export class Prober {
  private readonly lab: LabRef;
  private readonly connections = new Map<string, Promise<AgentConnection>>();
  private podSockets: Map<string, string> | undefined;

  constructor(lab: LabRef) {
    this.lab = lab;
  }

  async probe(req: ProbeRequest): Promise<ProbeResult> {
    const started = Date.now();
    const timeoutMs = req.timeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
    let conn: AgentConnection;
    try {
      conn = await this.connection(req.from);
    } catch (e) {
      return { connected: false, error: 'no-agent', detail: (e as Error).message, ms: Date.now() - started };
    }
    const reply = await conn.request(
      { op: 'probe', host: req.host, port: req.port, protocol: req.protocol ?? 'tcp', timeoutMs },
      timeoutMs + 3000,
    );
    const result: ProbeResult = { connected: reply.connected, ms: reply.ms ?? Date.now() - started };
    if (reply.answer !== undefined) result.answer = reply.answer;
    if (reply.client !== undefined) result.client = reply.client;
    if (reply.clientPort !== undefined) result.clientPort = reply.clientPort;
    if (reply.error !== undefined) result.error = reply.error as ProbeError;
    if (reply.detail !== undefined) result.detail = reply.detail;
    return result;
  }

  close(): void {
    for (const c of this.connections.values()) c.then((conn) => conn.close(), () => undefined);
    this.connections.clear();
  }

  private connection(netns: string): Promise<AgentConnection> {
    let conn = this.connections.get(netns);
    if (!conn) {
      conn = this.socketFor(netns).then((path) => AgentConnection.open(path));
      conn.catch(() => this.connections.delete(netns));
      this.connections.set(netns, conn);
    }
    return conn;
  }

  /** A pod's own agent, or the probe-only agent of a node namespace (started on first use). */
  private async socketFor(netns: string): Promise<string> {
    this.podSockets ??= new Map(listPods(this.lab).filter((p) => !p.hostNetwork && p.agentPid > 0).map((p) => [p.netns, p.agentSocket]));
    const podSocket = this.podSockets.get(netns);
    if (podSocket) return podSocket;
    if (!listNetns().includes(netns)) throw new Error(`namespace ${netns} does not exist`);
    return ensureNamespaceAgent(labPaths(this.lab.prefix, this.lab.stateRoot), netns);
  }
}

/** One probe (opens and closes its own agent connection). */
export async function probe(lab: LabRef, req: ProbeRequest): Promise<ProbeResult> {
  const prober = new Prober(lab);
  try {
    return await prober.probe(req);
  } finally {
    prober.close();
  }
}

/** Many probes concurrently (at most `concurrency` in flight); results in input order. */
export async function probeBatch(lab: LabRef, requests: readonly ProbeRequest[], concurrency = 64): Promise<ProbeResult[]> {
  const prober = new Prober(lab);
  try {
    return await mapLimit(requests, concurrency, (req) => prober.probe(req));
  } finally {
    prober.close();
  }
}
