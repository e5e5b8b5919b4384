// Liveness of every controller loop, and the /healthz (+ /metrics) HTTP servers that report it.
// Unlike upstream (#2163), health means "the loop is running", not "the last sync succeeded": a controller
// that keeps failing against a broken API server is alive and retrying, and must not be killed for it.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { logger } from './log.ts';
import { registry } from './metrics.ts';

export interface ComponentStatus {
  name: string;
  alive: boolean;
  lastBeatAgoMs: number | null;
  maxSilenceMs: number;
  lastSyncOk: boolean | null;
  lastError: string | null;
  lastSyncAgoMs: number | null;
}

interface Component {
  maxSilenceMs: number;
  registeredAt: number;
  lastBeat: number | null;
  lastSyncAt: number | null;
  lastSyncOk: boolean | null;
  lastError: string | null;
}

/** Where the daemon is in its life; `running` once caches synced and every controller loop started. */
export type DaemonPhase = 'starting' | 'running' | 'stopping';

/** Tracks heartbeats; a component is dead when it has been silent longer than its allowance. */
export class HealthRegistry {
  private readonly components = new Map<string, Component>();
  private phase: DaemonPhase = 'starting';
  constructor(private readonly now: () => number = Date.now) {}

  /** The phase is detail for readiness checks (`/healthz?verbose`); it does not decide liveness. */
  setPhase(phase: DaemonPhase): void {
    this.phase = phase;
  }

  /** `maxSilenceMs`: how long the loop may go without a beat (its wake-up interval plus slack). */
  register(name: string, maxSilenceMs: number): void {
    this.components.set(name, { maxSilenceMs, registeredAt: this.now(), lastBeat: null, lastSyncAt: null, lastSyncOk: null, lastError: null });
  }

  unregister(name: string): void {
    this.components.delete(name);
  }

  beat(name: string): void {
    const c = this.components.get(name);
    if (c) c.lastBeat = this.now();
  }

  /** Records a sync outcome: informational detail only, it does not decide liveness. */
  recordSync(name: string, ok: boolean, error?: unknown): void {
    const c = this.components.get(name);
    if (!c) return;
    c.lastSyncAt = this.now();
    c.lastSyncOk = ok;
    c.lastError = ok ? null : error instanceof Error ? error.message : String(error);
  }

  status(): { healthy: boolean; phase: DaemonPhase; components: ComponentStatus[] } {
    const t = this.now();
    const components = [...this.components.entries()].map(([name, c]) => {
      const since = c.lastBeat ?? c.registeredAt;
      return {
        name,
        alive: t - since <= c.maxSilenceMs,
        lastBeatAgoMs: c.lastBeat === null ? null : t - c.lastBeat,
        maxSilenceMs: c.maxSilenceMs,
        lastSyncOk: c.lastSyncOk,
        lastError: c.lastError,
        lastSyncAgoMs: c.lastSyncAt === null ? null : t - c.lastSyncAt,
      };
    });
    return { healthy: components.every((c) => c.alive), phase: this.phase, components };
  }
}

export interface ServerHandle {
  port: number;
  close(): Promise<void>;
}

/** Listens and resolves once bound; rejects with the bind error (e.g. EADDRINUSE). */
export function listen(server: http.Server, host: string, port: number): Promise<ServerHandle> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: host || undefined, port }, () => {
      server.off('error', reject);
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
      });
    });
  });
}

/** /healthz: 200 "OK" or 500 "Unhealthy"; `/healthz?verbose` adds a JSON body with each component. */
export function startHealthServer(health: HealthRegistry, host: string, port: number): Promise<ServerHandle> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== '/healthz') {
      res.writeHead(404).end('not found\n');
      return;
    }
    const s = health.status();
    if (url.searchParams.has('verbose')) {
      res.writeHead(s.healthy ? 200 : 500, { 'content-type': 'application/json' }).end(JSON.stringify(s, null, 2) + '\n');
    } else {
      res.writeHead(s.healthy ? 200 : 500, { 'content-type': 'text/plain' }).end(s.healthy ? 'OK\n' : 'Unhealthy\n');
    }
  });
  return listen(server, host, port).then((h) => {
    logger('health').info({ addr: host || '0.0.0.0', port: h.port }, 'health server listening');
    return h;
  });
}

export function startMetricsServer(host: string, port: number, path: string): Promise<ServerHandle> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== path) {
      res.writeHead(404).end('not found\n');
      return;
    }
    registry.metrics().then(
      (body) => res.writeHead(200, { 'content-type': registry.contentType }).end(body),
      (err: unknown) => res.writeHead(500).end(String(err)),
    );
  });
  return listen(server, host, port).then((h) => {
    logger('metrics').info({ addr: host || '0.0.0.0', port: h.port, path }, 'metrics server listening');
    return h;
  });
}
