// A small JSON client for the Kubernetes API over undici: CRUD, patches, paginated lists and the raw
// streaming watch request the reflector consumes. Failures come back as ApiError values, never thrown.
import { Agent, request } from 'undici';
import type { Status } from 'kubernetes-types/meta/v1.js';
import type { ClientConfig } from './kubeconfig.ts';
import { type Result, ok, err } from '../result.ts';

export interface ApiError {
  /** HTTP status, or 0 when no response arrived (connection refused/reset, timeout, aborted). */
  code: number;
  /** The Status reason (NotFound, Conflict, Expired, ...) or ConnectionError / InvalidResponse. */
  reason: string;
  message: string;
}

export type ApiResult<T> = Result<T, ApiError>;

export type PatchType = 'merge' | 'strategic' | 'json';

const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  json: 'application/json-patch+json',
};

export type Query = Record<string, string | number | boolean | undefined>;

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
  /** Page size (limit); the continue token is followed until the list is complete. */
  pageSize?: number;
  signal?: AbortSignal;
}

export interface ListResult<T> {
  items: T[];
  resourceVersion: string;
}

export interface WatchStream {
  /** Raw response bytes: newline-delimited JSON watch events. */
  body: AsyncIterable<Buffer>;
}

interface SendOptions {
  query?: Query;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
}

/** Path of a resource collection or object: resourcePath('v1', 'pods', 'ns', 'name') -> /api/v1/namespaces/ns/pods/name. */
export function resourcePath(apiVersion: string, resource: string, namespace?: string, name?: string, subresource?: string): string {
  const prefix = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  let path = namespace ? `${prefix}/namespaces/${encodeURIComponent(namespace)}/${resource}` : `${prefix}/${resource}`;
  if (name) path += `/${encodeURIComponent(name)}`;
  if (subresource) path += `/${subresource}`;
  return path;
}

function queryString(query: Query | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') params.set(k, String(v));
  const s = params.toString();
  return s ? `?${s}` : '';
}

export function connectionError(error: unknown): ApiError {
  const e = error as { code?: string; message?: string; name?: string };
  return { code: 0, reason: e.name === 'AbortError' ? 'Aborted' : 'ConnectionError', message: [e.code, e.message].filter(Boolean).join(': ') || String(error) };
}

function statusError(code: number, text: string): ApiError {
  try {
    const status = JSON.parse(text) as Status;
    if (status.kind === 'Status') return { code: status.code ?? code, reason: status.reason ?? 'Unknown', message: status.message ?? '' };
  } catch {
    // Not a Status body (a proxy's HTML page, for example): fall through to the raw text.
  }
  return { code, reason: 'Unknown', message: text.slice(0, 200) };
}

export class KubeClient {
  private readonly agent: Agent;
  private readonly userAgent: string;

  constructor(
    readonly config: ClientConfig,
    opts: { userAgent?: string; version?: string } = {},
  ) {
    this.userAgent = opts.userAgent ?? `kube-router/${opts.version ?? 'unknown'}`;
    const connect: Record<string, unknown> = { rejectUnauthorized: !config.insecureSkipTlsVerify };
    if (config.ca) connect['ca'] = config.ca;
    if (config.cert) connect['cert'] = config.cert;
    if (config.key) connect['key'] = config.key;
    if (config.tlsServerName) connect['servername'] = config.tlsServerName;
    this.agent = new Agent({ connect, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000 });
  }

  get<T>(path: string, query?: Query): Promise<ApiResult<T>> {
    return this.json<T>('GET', path, { query });
  }

  create<T>(collectionPath: string, obj: T): Promise<ApiResult<T>> {
    return this.json<T>('POST', collectionPath, { body: obj });
  }

  /** PUT of the whole object at its path (optimistic concurrency via metadata.resourceVersion). */
  update<T>(objectPath: string, obj: T): Promise<ApiResult<T>> {
    return this.json<T>('PUT', objectPath, { body: obj });
  }

  updateStatus<T>(objectPath: string, obj: T): Promise<ApiResult<T>> {
    return this.json<T>('PUT', `${objectPath}/status`, { body: obj });
  }

  patch<T>(objectPath: string, patch: unknown, type: PatchType = 'merge'): Promise<ApiResult<T>> {
    return this.json<T>('PATCH', objectPath, { body: patch, contentType: PATCH_CONTENT_TYPES[type] });
  }

  delete(objectPath: string): Promise<ApiResult<Status>> {
    return this.json<Status>('DELETE', objectPath, {});
  }

  /** Lists a collection, following `continue` tokens; the resourceVersion is the last page's. */
  async list<T>(path: string, opts: ListOptions = {}): Promise<ApiResult<ListResult<T>>> {
    const items: T[] = [];
    let cont: string | undefined;
    for (;;) {
      const page = await this.json<{ items?: T[] | null; metadata?: { resourceVersion?: string; continue?: string } }>('GET', path, {
        query: { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector, limit: opts.pageSize ?? 500, continue: cont },
        signal: opts.signal,
      });
      if (!page.ok) return page;
      for (const item of page.value.items ?? []) items.push(item);
      cont = page.value.metadata?.continue || undefined;
      if (!cont) return ok({ items, resourceVersion: page.value.metadata?.resourceVersion ?? '' });
    }
  }

  /** Opens a watch; the caller reads `body` and aborts `signal` to close it. No body timeout applies. */
  async watch(path: string, query: Query, signal: AbortSignal): Promise<ApiResult<WatchStream>> {
    const res = await this.send('GET', path, { query: { ...query, watch: true }, signal }, 0);
    if (!res.ok) return res;
    if (res.value.statusCode !== 200) return err(statusError(res.value.statusCode, await readText(res.value.body)));
    return ok({ body: res.value.body as AsyncIterable<Buffer> });
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private async json<T>(method: string, path: string, opts: SendOptions): Promise<ApiResult<T>> {
    const res = await this.send(method, path, opts);
    if (!res.ok) return res;
    let text: string;
    try {
      text = await bodyText(res.value.body);
    } catch (e) {
      return err(connectionError(e));
    }
    if (res.value.statusCode < 200 || res.value.statusCode >= 300) return err(statusError(res.value.statusCode, text));
    try {
      return ok(JSON.parse(text) as T);
    } catch {
      return err({ code: res.value.statusCode, reason: 'InvalidResponse', message: `response to ${method} ${path} is not JSON` });
    }
  }

  private headers(contentType: string | undefined): Record<string, string> {
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': this.userAgent };
    if (contentType) headers['content-type'] = contentType;
    const token = this.config.token?.current();
    if (token) headers['authorization'] = `Bearer ${token}`;
    else if (this.config.basicAuth) {
      const { username, password } = this.config.basicAuth;
      headers['authorization'] = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
    }
    return headers;
  }

  /** One request; a 401 makes a rotating token re-read at once and the request is retried once. */
  private async send(method: string, path: string, opts: SendOptions, bodyTimeout?: number) {
    const url = `${this.config.server}${path}${queryString(opts.query)}`;
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const contentType = body === undefined ? undefined : (opts.contentType ?? 'application/json');
    for (let attempt = 0; ; attempt++) {
      let res: Awaited<ReturnType<typeof request>>;
      try {
        res = await request(url, {
          dispatcher: this.agent,
          method: method as 'GET',
          headers: this.headers(contentType),
          body,
          signal: opts.signal,
          ...(bodyTimeout === undefined ? {} : { bodyTimeout }),
        });
      } catch (e) {
        return err(connectionError(e));
      }
      if (res.statusCode === 401 && attempt === 0 && this.config.token?.refreshNow()) {
        await res.body.dump();
        continue;
      }
      return ok(res);
    }
  }
}

/**
 * A response body as text, decoded chunk by chunk into a (V8 heap) string. undici's text() first joins every
 * chunk into one native buffer: list pages are ~1 MB each, and after the first such buffer is freed glibc serves
 * the next ones from its heap (its mmap threshold rises to their size), which then stayed ~15 MB larger for
 * good after a start-up at 50k pods.
 */
async function bodyText(body: AsyncIterable<Buffer>): Promise<string> {
  const decoder = new TextDecoder();
  let text = '';
  for await (const chunk of body) text += decoder.decode(chunk, { stream: true });
  return text + decoder.decode();
}

async function readText(body: { text(): Promise<string> }): Promise<string> {
  try {
    return await body.text();
  } catch {
    return '';
  }
}
