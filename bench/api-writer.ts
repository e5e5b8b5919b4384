// A small keep-alive JSON client for loading the lab API server in bulk (the loader and the API speed smoke):
// one connection pool, bearer token and CA from a lab kubeconfig, and a runner that keeps N requests in flight.
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { parse } from 'yaml';

export interface ApiReply { status: number; body: any }

export interface ApiWriter {
  readonly server: string;
  send(method: string, path: string, body?: unknown): Promise<ApiReply>;
  close(): void;
}

interface KubeconfigView {
  clusters?: { cluster?: { server?: string; 'certificate-authority-data'?: string } }[];
  users?: { user?: { token?: string; 'client-certificate-data'?: string; 'client-key-data'?: string } }[];
}

const decode = (b64: string | undefined): string | undefined => (b64 ? Buffer.from(b64, 'base64').toString() : undefined);

/**
 * A writer for `server` (http:// or https://), or for the cluster and user of a kubeconfig file (`server` then
 * overrides its address, e.g. the lab's 127.0.0.1 URL where the kubeconfig names a node address).
 */
export function apiWriter(target: { server: string; token?: string; ca?: string; cert?: string; key?: string } | { kubeconfig: string; server?: string },
  maxSockets = 32): ApiWriter {
  let server: string, token: string | undefined, ca: string | undefined, cert: string | undefined, key: string | undefined;
  if ('kubeconfig' in target) {
    const config = parse(readFileSync(target.kubeconfig, 'utf8')) as KubeconfigView;
    const cluster = config.clusters?.[0]?.cluster;
    const user = config.users?.[0]?.user;
    if (!cluster?.server) throw new Error(`${target.kubeconfig} names no server`);
    server = target.server ?? cluster.server;
    token = user?.token;
    ca = decode(cluster['certificate-authority-data']);
    cert = decode(user?.['client-certificate-data']);
    key = decode(user?.['client-key-data']);
  } else ({ server, token, ca, cert, key } = target);
  const secure = server.startsWith('https:');
  const agent = secure ? new https.Agent({ keepAlive: true, maxSockets, ...(ca ? { ca } : {}), ...(cert && key ? { cert, key } : {}) })
    : new http.Agent({ keepAlive: true, maxSockets });
  const once = (method: string, path: string, body?: unknown): Promise<ApiReply> => new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const req = (secure ? https : http).request(new URL(path, server), {
      method, agent,
      headers: { accept: 'application/json', ...(text ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d)).on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        try { resolve({ status: res.statusCode ?? 0, body: raw ? JSON.parse(raw) : undefined }); } catch (e) { reject(e); }
      }).on('error', reject);
    });
    req.setTimeout(60_000, () => req.destroy(new Error(`${method} ${path}: timed out`)));
    req.on('error', reject);
    req.end(text);
  });
  return {
    server,
    // a kept-alive socket the server closed just as it was reused fails with ECONNRESET: that one request is retried
    send: async (method, path, body) => {
      try { return await once(method, path, body); } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ECONNRESET') throw e;
        return once(method, path, body);
      }
    },
    close: () => agent.destroy(),
  };
}

/** Runs job(0..count-1) with at most `concurrency` in flight; rejects with the first failure. */
export async function inParallel(count: number, concurrency: number, job: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, async () => { while (next < count) await job(next++); }));
}
