// Keeps a Store in step with one API collection: a paginated list, then a watch resumed from the last
// resourceVersion for as long as the process runs, surviving closes, 410 Gone, errors and silent hangs.
import { StringDecoder } from 'node:string_decoder';
import type { WatchEvent } from 'kubernetes-types/meta/v1.js';
import { logger } from '../observe/log.ts';
import { metrics } from '../observe/metrics.ts';
import { type KubeObject, Store, objectKey } from './cache.ts';
import type { ApiError, KubeClient } from './client.ts';

export interface ReflectorOptions<T extends KubeObject> {
  client: KubeClient;
  /** Cluster-wide collection path, e.g. /api/v1/pods or /apis/discovery.k8s.io/v1/endpointslices. */
  path: string;
  store: Store<T>;
  /** Applied to every object before it is stored, after managedFields are dropped. */
  transform?: (obj: T) => T;
  labelSelector?: string;
  fieldSelector?: string;
  pageSize?: number;
  /** No bytes (events or bookmarks) for this long means the connection is dead: abort and rewatch. */
  idleTimeoutMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Server-side watch duration; client-go picks 300-600 s at random so watches do not expire together. */
  watchTimeoutSeconds?: () => number;
  random?: () => number;
}

type WatchOutcome = { kind: 'closed' | 'gone' | 'idle' | 'stopped' } | { kind: 'error'; message: string };

/** Why a list or watch had to start over (the `cause` of kube_router_reflector_restarts_total; see README.md). */
type RestartCause = 'gone' | 'error' | 'idle';

/** A watch that ends this fast with nothing received is treated as a failure, so it cannot spin. */
const SHORT_WATCH_MS = 1000;

export function stripManagedFields<T extends KubeObject>(obj: T): T {
  if (!obj.metadata?.managedFields) return obj;
  const { managedFields: _dropped, ...metadata } = obj.metadata;
  return { ...obj, metadata };
}

function rvNumber(rv: string | undefined): bigint | undefined {
  return rv && /^\d+$/.test(rv) ? BigInt(rv) : undefined;
}

/** True when `incoming` is provably not newer than `stored` (a replayed event). RVs are compared as numbers only when both are numeric. */
function isReplay(incoming: string | undefined, stored: string | undefined): boolean {
  if (!incoming || !stored) return false;
  if (incoming === stored) return true;
  const a = rvNumber(incoming);
  const b = rvNumber(stored);
  return a !== undefined && b !== undefined && a < b;
}

export class Reflector<T extends KubeObject> {
  /** The resourceVersion the next watch resumes from ('' = must list). */
  resourceVersion = '';
  /** Epoch ms of the last byte received from the watch or the last successful list (0 = never). */
  lastEventAt = 0;
  private synced = false;
  private readonly syncWaiters: Array<() => void> = [];
  private stopped = false;
  private running: Promise<void> | undefined;
  private readonly stopController = new AbortController();
  private current: AbortController | undefined;
  private failures = 0;
  private chunksReceived = 0;
  private readonly opts: Required<Omit<ReflectorOptions<T>, 'transform' | 'labelSelector' | 'fieldSelector'>> & ReflectorOptions<T>;

  constructor(options: ReflectorOptions<T>) {
    const random = options.random ?? Math.random;
    this.opts = {
      pageSize: 500,
      idleTimeoutMs: 90_000,
      backoffInitialMs: 200,
      backoffMaxMs: 30_000,
      watchTimeoutSeconds: () => 300 + Math.floor(random() * 300),
      random,
      // Options explicitly set to undefined keep their defaults.
      ...(Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as ReflectorOptions<T>),
    };
  }

  private get log() {
    return logger('reflector').child({ path: this.opts.path });
  }

  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves once the first list has been stored. */
  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  start(): void {
    if (!this.running) this.running = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopController.abort();
    this.current?.abort();
    await this.running;
  }

  /** The loop never ends on its own: every failure, even an unexpected exception, is retried after backoff. */
  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.step();
      } catch (error) {
        this.log.error({ err: error }, 'reflector step threw; retrying');
        this.restarted('error');
        await this.backoff();
      }
    }
  }

  private async step(): Promise<void> {
    if (!this.resourceVersion) {
      const listed = await this.relist();
      if (!listed) {
        this.restarted('error');
        await this.backoff();
      }
      return;
    }
    const started = Date.now();
    const before = this.chunksReceived;
    const outcome = await this.watchOnce();
    const progressed = this.chunksReceived !== before;
    if (progressed) this.failures = 0;
    switch (outcome.kind) {
      case 'stopped':
        break;
      case 'closed':
        if (!progressed && Date.now() - started < SHORT_WATCH_MS) {
          this.log.warn('watch closed at once without events; backing off');
          this.restarted('error');
          await this.backoff();
        }
        break;
      case 'idle':
        this.log.warn({ idleMs: this.opts.idleTimeoutMs }, 'watch silent for too long; rewatching');
        this.restarted('idle');
        break;
      case 'gone':
        this.log.info({ resourceVersion: this.resourceVersion }, 'resourceVersion too old (410); relisting');
        this.resourceVersion = '';
        this.restarted('gone');
        if (!progressed) await this.backoff();
        break;
      case 'error':
        this.log.warn({ error: outcome.message, resourceVersion: this.resourceVersion }, 'watch failed; retrying');
        this.restarted('error');
        await this.backoff();
        break;
    }
  }

  /** Counts a restart under the collection's name (the path's last segment, e.g. `pods`). */
  private restarted(cause: RestartCause): void {
    if (this.stopped) return;
    const resource = this.opts.path.split('/').filter((s) => s !== '').pop() ?? this.opts.path;
    metrics.reflectorRestarts.inc({ resource, cause });
  }

  private async backoff(): Promise<void> {
    const base = Math.min(this.opts.backoffMaxMs, this.opts.backoffInitialMs * 2 ** Math.min(this.failures, 30));
    this.failures++;
    const delay = base / 2 + (this.opts.random() * base) / 2;
    const signal = this.stopController.signal;
    if (signal.aborted) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, delay);
      signal.addEventListener('abort', done);
    });
  }

  private prepare(raw: T): T {
    const stripped = stripManagedFields(raw);
    return this.opts.transform ? this.opts.transform(stripped) : stripped;
  }

  /** Lists everything and reconciles the store: only the adds, updates and deletes needed are emitted. */
  private async relist(): Promise<boolean> {
    const { client, path, pageSize, labelSelector, fieldSelector, store } = this.opts;
    const listed = await client.list<T>(path, { pageSize, labelSelector, fieldSelector, signal: this.stopController.signal });
    if (this.stopped) return true;
    if (!listed.ok) {
      this.log.warn({ error: describe(listed.error) }, 'list failed; retrying');
      return false;
    }
    if (!listed.value.resourceVersion) {
      this.log.warn('list response has no resourceVersion; retrying');
      return false;
    }
    const seen = new Set<string>();
    for (const raw of listed.value.items) {
      const obj = this.prepare(raw);
      const key = objectKey(obj);
      seen.add(key);
      const existing = store.get(key);
      if (!existing || existing.metadata?.resourceVersion !== obj.metadata?.resourceVersion) store.upsert(obj);
    }
    for (const key of store.keys()) if (!seen.has(key)) store.remove(key);
    this.resourceVersion = listed.value.resourceVersion;
    this.lastEventAt = Date.now();
    if (!this.synced) {
      this.synced = true;
      for (const resolve of this.syncWaiters.splice(0)) resolve();
    }
    return true;
  }

  private async watchOnce(): Promise<WatchOutcome> {
    const controller = new AbortController();
    this.current = controller;
    let idle = false;
    let timer: NodeJS.Timeout | undefined;
    const armIdleTimer = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        idle = true;
        controller.abort();
      }, this.opts.idleTimeoutMs);
    };
    const interrupted = (): WatchOutcome | undefined => (this.stopped ? { kind: 'stopped' } : idle ? { kind: 'idle' } : undefined);
    armIdleTimer();
    try {
      const { client, path, labelSelector, fieldSelector } = this.opts;
      const query = {
        allowWatchBookmarks: true,
        resourceVersion: this.resourceVersion,
        timeoutSeconds: this.opts.watchTimeoutSeconds(),
        labelSelector,
        fieldSelector,
      };
      const res = await client.watch(path, query, controller.signal);
      if (!res.ok) return interrupted() ?? (res.error.code === 410 ? { kind: 'gone' } : { kind: 'error', message: describe(res.error) });
      const decoder = new StringDecoder('utf8');
      let pending = '';
      for await (const chunk of res.value.body) {
        armIdleTimer();
        this.chunksReceived++;
        this.lastEventAt = Date.now();
        pending += decoder.write(chunk);
        let newline: number;
        while ((newline = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, newline).trim();
          pending = pending.slice(newline + 1);
          if (!line) continue;
          const outcome = this.applyWatchLine(line);
          if (outcome) return outcome;
        }
      }
      const rest = (pending + decoder.end()).trim();
      return (rest ? this.applyWatchLine(rest) : undefined) ?? interrupted() ?? { kind: 'closed' };
    } catch (error) {
      return interrupted() ?? { kind: 'error', message: (error as Error).message ?? String(error) };
    } finally {
      clearTimeout(timer);
      controller.abort();
      this.current = undefined;
    }
  }

  /** Applies one watch event to the store; returns an outcome only when the watch must end. */
  private applyWatchLine(line: string): WatchOutcome | undefined {
    let event: WatchEvent;
    try {
      event = JSON.parse(line) as WatchEvent;
    } catch {
      return { kind: 'error', message: `watch sent a line that is not JSON (${line.length} bytes)` };
    }
    const raw = event.object as unknown as T & { code?: number; message?: string };
    const rv = raw?.metadata?.resourceVersion;
    const store = this.opts.store;
    switch (event.type) {
      case 'ADDED':
      case 'MODIFIED': {
        const obj = this.prepare(raw);
        if (!isReplay(rv, store.get(objectKey(obj))?.metadata?.resourceVersion)) store.upsert(obj);
        break;
      }
      case 'DELETED': {
        const key = objectKey(raw);
        const stored = store.get(key);
        if (stored && !isReplay(rv, stored.metadata?.resourceVersion)) store.remove(key);
        break;
      }
      case 'BOOKMARK':
        break;
      case 'ERROR':
        return raw?.code === 410 ? { kind: 'gone' } : { kind: 'error', message: `watch ERROR event ${raw?.code ?? '?'}: ${raw?.message ?? ''}` };
      default:
        return { kind: 'error', message: `unknown watch event type ${String(event.type)}` };
    }
    if (rv && !isReplay(rv, this.resourceVersion)) this.resourceVersion = rv;
    return undefined;
  }
}

function describe(error: ApiError): string {
  return `${error.code} ${error.reason}: ${error.message}`;
}
