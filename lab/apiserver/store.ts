// The in-memory object store: objects per resource (indexed by namespace too), one global resourceVersion
// counter, a bounded window of past change events (watches resuming from an older resourceVersion get 410 Gone)
// and synchronous subscribers (watch streams and the in-process control loops). Key order is kept in sorted
// arrays rebuilt only after an add or remove, so a write costs O(1) and a list O(n), never a sort per call.
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

/** Objects of one resource (or of one namespace of it) with their keys in sorted order, built on demand. */
class KeyedObjects {
  readonly byKey = new Map<string, KubeObject>();
  private sorted: string[] | undefined;

  set(key: string, object: KubeObject): void {
    if (!this.byKey.has(key)) this.sorted = undefined;
    this.byKey.set(key, object);
  }

  delete(key: string): void {
    if (this.byKey.delete(key)) this.sorted = undefined;
  }

  sortedKeys(): readonly string[] {
    this.sorted ??= [...this.byKey.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return this.sorted;
  }

  /** The objects in key order, starting after `after` (binary search: paginated lists stay linear overall). */
  values(after = ''): KubeObject[] {
    const keys = this.sortedKeys();
    let low = 0;
    if (after !== '') {
      let high = keys.length;
      while (low < high) {
        const mid = (low + high) >> 1;
        if ((keys[mid] ?? '') <= after) low = mid + 1; else high = mid;
      }
    }
    const out: KubeObject[] = [];
    for (let i = low; i < keys.length; i++) out.push(this.byKey.get(keys[i] ?? '') as KubeObject);
    return out;
  }
}

export class ObjectStore {
  private readonly objects = new Map<string, KeyedObjects>();
  /** resource -> namespace -> objects: control loops and namespaced lists read one namespace, not all. */
  private readonly byNamespace = new Map<string, Map<string, KeyedObjects>>();
  private readonly history: StoreEvent[] = [];
  /** Index of the oldest live entry of `history` (dropping from the front by index, not by shift()). */
  private historyStart = 0;
  private readonly listeners = new Set<StoreListener>();
  private currentRv = 1;
  /** resourceVersion of the newest event dropped from the window; older watch starts are expired. */
  private compactedRv = 0;

  constructor(private readonly eventWindow: number) {}

  get resourceVersion(): number { return this.currentRv; }
  get oldestResumableRv(): number { return this.compactedRv; }

  get(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const found = this.objects.get(resource)?.byKey.get(objectKey(namespace, name));
    return found ? structuredClone(found) : undefined;
  }

  /** The stored object itself, without copying: callers must not modify it. */
  peek(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.objects.get(resource)?.byKey.get(objectKey(namespace, name));
  }

  /** Whether an object exists, without copying it. */
  has(resource: string, namespace: string | undefined, name: string): boolean {
    return this.objects.get(resource)?.byKey.has(objectKey(namespace, name)) ?? false;
  }

  /** How many objects a resource holds. */
  count(resource: string): number {
    return this.objects.get(resource)?.byKey.size ?? 0;
  }

  /** All objects of a resource sorted by namespace/name (the order list pagination relies on). */
  list(resource: string): { key: string; object: KubeObject }[] {
    const all = this.objects.get(resource);
    if (!all) return [];
    return all.sortedKeys().map((key) => ({ key, object: structuredClone(all.byKey.get(key) as KubeObject) }));
  }

  /**
   * The stored objects themselves, in key order, without copying: callers must not modify them. With a
   * namespace only that namespace's objects; with `after` only those whose key sorts after it.
   */
  shared(resource: string, namespace?: string, after = ''): readonly KubeObject[] {
    const set = namespace === undefined ? this.objects.get(resource) : this.byNamespace.get(resource)?.get(namespace);
    return set ? set.values(after) : [];
  }

  /** Stores a new or changed object under a fresh resourceVersion and notifies subscribers. */
  put(resource: string, object: KubeObject): KubeObject {
    const stored = structuredClone(object);
    const key = objectKey(stored.metadata.namespace, stored.metadata.name ?? '');
    let all = this.objects.get(resource);
    if (!all) { all = new KeyedObjects(); this.objects.set(resource, all); }
    const previous = all.byKey.get(key);
    const rv = ++this.currentRv;
    stored.metadata.resourceVersion = String(rv);
    all.set(key, stored);
    this.namespaceSet(resource, stored.metadata.namespace ?? '').set(key, stored);
    this.emit({ type: previous ? 'MODIFIED' : 'ADDED', resource, rv, object: stored, ...(previous ? { previous } : {}) });
    return structuredClone(stored);
  }

  remove(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const all = this.objects.get(resource);
    const key = objectKey(namespace, name);
    const previous = all?.byKey.get(key);
    if (!all || !previous) return undefined;
    all.delete(key);
    this.namespaceSet(resource, previous.metadata.namespace ?? '').delete(key);
    const rv = ++this.currentRv;
    const last = structuredClone(previous);
    last.metadata.resourceVersion = String(rv);
    this.emit({ type: 'DELETED', resource, rv, object: last, previous });
    return structuredClone(last);
  }

  /** Events after `fromRv` still in the window, or undefined when some of them were already dropped. */
  eventsSince(fromRv: number): StoreEvent[] | undefined {
    if (fromRv < this.compactedRv) return undefined;
    const out: StoreEvent[] = [];
    for (let i = this.historyStart; i < this.history.length; i++) {
      const event = this.history[i] as StoreEvent;
      if (event.rv > fromRv) out.push(event);
    }
    return out;
  }

  private namespaceSet(resource: string, namespace: string): KeyedObjects {
    let namespaces = this.byNamespace.get(resource);
    if (!namespaces) { namespaces = new Map(); this.byNamespace.set(resource, namespaces); }
    let set = namespaces.get(namespace);
    if (!set) { set = new KeyedObjects(); namespaces.set(namespace, set); }
    return set;
  }

  /** How many subscribers are registered (watch streams end theirs when they end). */
  get subscriberCount(): number { return this.listeners.size; }

  subscribe(listener: StoreListener): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  private emit(event: StoreEvent): void {
    this.history.push(event);
    while (this.history.length - this.historyStart > this.eventWindow) {
      const dropped = this.history[this.historyStart];
      this.history[this.historyStart++] = undefined as unknown as StoreEvent;
      if (dropped) this.compactedRv = dropped.rv;
    }
    // compact the array once the dropped prefix dominates (amortised O(1) per event)
    if (this.historyStart > this.eventWindow) { this.history.splice(0, this.historyStart); this.historyStart = 0; }
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
