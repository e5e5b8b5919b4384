// The in-memory object store: objects per resource, one global resourceVersion counter, a bounded
// window of past change events (watches resuming from an older resourceVersion get 410 Gone) and
// synchronous subscribers (watch streams and the in-process control loops).
import type { KubeObject } from './resources.ts';
import { objectKey } from './resources.ts';
import { logger } from '../../src/observe/log.ts';

const log = logger('lab-apiserver');

export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  type: ChangeType;
  resource: string;          // storage key, see storageKey()
  rv: number;
  object: KubeObject;        // the new object (for DELETED: the last state, carrying the deletion's resourceVersion)
  previous?: KubeObject;     // the state before a MODIFIED or DELETED
}

export type StoreListener = (event: StoreEvent) => void;

export class ObjectStore {
  private readonly objects = new Map<string, Map<string, KubeObject>>();
  private readonly history: StoreEvent[] = [];
  private readonly listeners = new Set<StoreListener>();
  private currentRv = 1;
  /** resourceVersion of the newest event dropped from the window; older watch starts are expired. */
  private compactedRv = 0;

  constructor(private readonly eventWindow: number) {}

  get resourceVersion(): number { return this.currentRv; }
  get oldestResumableRv(): number { return this.compactedRv; }

  get(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const found = this.objects.get(resource)?.get(objectKey(namespace, name));
    return found ? structuredClone(found) : undefined;
  }

  /** All objects of a resource sorted by namespace/name (the order list pagination relies on). */
  list(resource: string): { key: string; object: KubeObject }[] {
    const byKey = this.objects.get(resource) ?? new Map<string, KubeObject>();
    return [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, object]) => ({ key, object: structuredClone(object) }));
  }

  /** The stored objects themselves, in key order, without copying: callers must not modify them. */
  shared(resource: string): readonly KubeObject[] {
    const byKey = this.objects.get(resource) ?? new Map<string, KubeObject>();
    return [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, object]) => object);
  }

  /** Stores a new or changed object under a fresh resourceVersion and notifies subscribers. */
  put(resource: string, object: KubeObject): KubeObject {
    const stored = structuredClone(object);
    const key = objectKey(stored.metadata.namespace, stored.metadata.name ?? '');
    let byKey = this.objects.get(resource);
    if (!byKey) { byKey = new Map(); this.objects.set(resource, byKey); }
    const previous = byKey.get(key);
    const rv = ++this.currentRv;
    stored.metadata.resourceVersion = String(rv);
    byKey.set(key, stored);
    this.emit({ type: previous ? 'MODIFIED' : 'ADDED', resource, rv, object: stored, ...(previous ? { previous } : {}) });
    return structuredClone(stored);
  }

  remove(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const byKey = this.objects.get(resource);
    const key = objectKey(namespace, name);
    const previous = byKey?.get(key);
    if (!byKey || !previous) return undefined;
    byKey.delete(key);
    const rv = ++this.currentRv;
    const last = structuredClone(previous);
    last.metadata.resourceVersion = String(rv);
    this.emit({ type: 'DELETED', resource, rv, object: last, previous });
    return structuredClone(last);
  }

  /** Events after `fromRv` still in the window, or undefined when some of them were already dropped. */
  eventsSince(fromRv: number): StoreEvent[] | undefined {
    if (fromRv < this.compactedRv) return undefined;
    return this.history.filter((e) => e.rv > fromRv);
  }

  /** How many subscribers are registered (watch streams end theirs when they end). */
  get subscriberCount(): number { return this.listeners.size; }

  subscribe(listener: StoreListener): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  private emit(event: StoreEvent): void {
    this.history.push(event);
    while (this.history.length > this.eventWindow) {
      const dropped = this.history.shift();
      if (dropped) this.compactedRv = dropped.rv;
    }
    for (const listener of [...this.listeners]) {
      // one removed by an earlier listener of this same event is gone already
      if (!this.listeners.has(listener)) continue;
      // The write is already stored: a subscriber that throws must neither fail the request that made the
      // change nor keep the event from the subscribers after it (a watch stream, a control loop).
      try {
        listener(event);
      } catch (error) {
        log.error({ err: error, resource: event.resource, type: event.type }, 'store subscriber failed on an event');
      }
    }
  }
}
