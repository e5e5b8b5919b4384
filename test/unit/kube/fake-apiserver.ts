// Test fixture: a loopback HTTP server that plays scripted list and watch responses per collection path
// and records every request it saw, so reflector tests can assert exact event and request sequences.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SeenRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingMessage['headers'];
  body: string;
}

export type ListStep =
  | { status: number; reason?: string }
  | { items: object[]; resourceVersion?: string; continue?: string };

export type WatchStep =
  | { status: number; reason?: string }
  /** Sends the events (a string is sent as a raw line), then closes, stays silent, or resets the socket. */
  | { events: Array<object | string>; end: 'close' | 'hang' | 'reset' };

export interface Script {
  lists: ListStep[];
  watches: WatchStep[];
}

/** Answers requests no script covers (e.g. POST/PATCH of Events); return false to fall through to 404. */
export type ExtraHandler = (req: SeenRequest, res: ServerResponse) => boolean;

export function status(code: number, reason = 'Failure', message = `status ${code}`): object {
  return { kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message };
}

export class FakeApiServer {
  readonly requests: SeenRequest[] = [];
  private readonly scripts = new Map<string, Script>();
  extra: ExtraHandler | undefined;

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<FakeApiServer> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const fake = new FakeApiServer(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    server.on('request', (req, res) => fake.handle(req, res));
    return fake;
  }

  script(path: string, script: Partial<Script>): void {
    this.scripts.set(path, { lists: script.lists ?? [], watches: script.watches ?? [] });
  }

  /** Requests for one path, watches and lists alike. */
  requestsFor(path: string): SeenRequest[] {
    return this.requests.filter((r) => r.path === path);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const seen: SeenRequest = {
        method: req.method ?? '',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      this.requests.push(seen);
      const script = this.scripts.get(seen.path);
      if (script && seen.method === 'GET' && seen.query['watch'] === 'true') return this.watch(script, res);
      if (script && seen.method === 'GET') return this.list(script, res);
      if (this.extra?.(seen, res)) return;
      sendJson(res, 404, status(404, 'NotFound'));
    });
  }

  private list(script: Script, res: ServerResponse): void {
    const step = script.lists.shift();
    if (!step) return sendJson(res, 500, status(500, 'InternalError', 'list script exhausted'));
    if ('status' in step) return sendJson(res, step.status, status(step.status, step.reason));
    const metadata: Record<string, string> = { resourceVersion: step.resourceVersion ?? '' };
    if (step.continue) metadata['continue'] = step.continue;
    sendJson(res, 200, { kind: 'List', apiVersion: 'v1', metadata, items: step.items });
  }

  private watch(script: Script, res: ServerResponse): void {
    const step = script.watches.shift() ?? { events: [], end: 'hang' as const };
    if ('status' in step) return sendJson(res, step.status, status(step.status, step.reason));
    res.writeHead(200, { 'content-type': 'application/json' });
    res.flushHeaders();
    for (const event of step.events) res.write(`${typeof event === 'string' ? event : JSON.stringify(event)}\n`);
    if (step.end === 'close') res.end();
    // Give the client time to read what was sent, then cut the TCP connection with a RST.
    if (step.end === 'reset') setTimeout(() => res.socket?.resetAndDestroy(), 50);
  }
}

export function sendJson(res: ServerResponse, code: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** A namespaced test object carrying managedFields, as the API server returns them. */
export function obj(name: string, resourceVersion: string, extra: Record<string, unknown> = {}): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', resourceVersion, managedFields: [{ manager: 'kubectl', operation: 'Update' }] },
    ...extra,
  };
}

export const added = (o: object) => ({ type: 'ADDED', object: o });
export const modified = (o: object) => ({ type: 'MODIFIED', object: o });
export const deleted = (o: object) => ({ type: 'DELETED', object: o });
export const bookmark = (resourceVersion: string) => ({ type: 'BOOKMARK', object: { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion } } });
export const watchError = (code: number) => ({ type: 'ERROR', object: status(code, code === 410 ? 'Expired' : 'InternalError') });

/** Polls until `check` holds; fails with `what` after timeoutMs. */
export async function waitUntil(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
