// An in-memory store of Kubernetes objects of one kind, keyed by `namespace/name` (or `name` when
// cluster-scoped), with named secondary indexes and ordered change notifications.
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import { logger } from '../observe/log.ts';

/** The least every stored object has. */
export interface KubeObject {
  metadata?: ObjectMeta;
}

export type StoreEventType = 'add' | 'update' | 'delete';

export interface StoreEvent<T> {
  type: StoreEventType;
  key: string;
  /** Present for update and delete. */
  oldObj?: T;
  /** Present for add and update. */
  newObj?: T;
}

export type StoreListener<T> = (event: StoreEvent<T>) => void;

/** Returns the index values an object is filed under (none = not indexed). */
export type IndexFunc<T> = (obj: T) => string[];

/** The store key client-go uses: `namespace/name`, or `name` for cluster-scoped objects. */
export function objectKey(obj: KubeObject): string {
  const ns = obj.metadata?.namespace;
  const name = obj.metadata?.name ?? '';
  return ns ? `${ns}/${name}` : name;
}

export class Store<T extends KubeObject> {
  private readonly objects = new Map<string, T>();
  /** index name -> index value -> keys filed under it */
  private readonly indexes = new Map<string, Map<string, Set<string>>>();
  private readonly listeners = new Set<StoreListener<T>>();
  /** list()'s answer until the next change: callers see the same array while nothing changed (planners memoise on it). */
  private listed: readonly T[] | null = null;

  constructor(
    readonly kind: string,
    private readonly indexers: Record<string, IndexFunc<T>> = {},
  ) {
    for (const name of Object.keys(indexers)) this.indexes.set(name, new Map());
  }

  get size(): number {
    return this.objects.size;
  }

  get(key: string): T | undefined {
    return this.objects.get(key);
  }

  /** Every object; the same frozen array is returned until the store changes. */
  list(): readonly T[] {
    return (this.listed ??= Object.freeze([...this.objects.values()]));
  }

  keys(): string[] {
    return [...this.objects.keys()];
  }

  /** Objects filed under `value` in the named index. Throws on an unknown index name (a bug). */
  byIndex(indexName: string, value: string): T[] {
    const index = this.indexes.get(indexName);
    if (!index) throw new Error(`store ${this.kind}: no index named ${indexName}`);
    const out: T[] = [];
    for (const key of index.get(value) ?? []) {
      const obj = this.objects.get(key);
      if (obj) out.push(obj);
    }
    return out;
  }

  /** The distinct values currently present in the named index. */
  indexValues(indexName: string): string[] {
    const index = this.indexes.get(indexName);
    if (!index) throw new Error(`store ${this.kind}: no index named ${indexName}`);
    return [...index.keys()];
  }

  /** Subscribes to changes; returns the unsubscribe function. */
  onChange(listener: StoreListener<T>): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Inserts or replaces an object and notifies listeners with add or update. */
  upsert(obj: T): StoreEvent<T> {
    const key = objectKey(obj);
    const oldObj = this.objects.get(key);
    if (oldObj) this.unindex(key, oldObj);
    this.objects.set(key, obj);
    this.listed = null;
    this.index(key, obj);
    const event: StoreEvent<T> = oldObj ? { type: 'update', key, oldObj, newObj: obj } : { type: 'add', key, newObj: obj };
    this.emit(event);
    return event;
  }

  /** Removes an object by key and notifies listeners; nothing happens if it is absent. */
  remove(key: string): StoreEvent<T> | undefined {
    const oldObj = this.objects.get(key);
    if (!oldObj) return undefined;
    this.unindex(key, oldObj);
    this.objects.delete(key);
    this.listed = null;
    const event: StoreEvent<T> = { type: 'delete', key, oldObj };
    this.emit(event);
    return event;
  }

  private index(key: string, obj: T): void {
    for (const [name, fn] of Object.entries(this.indexers)) {
      const index = this.indexes.get(name)!;
      for (const value of fn(obj)) {
        let keys = index.get(value);
        if (!keys) index.set(value, (keys = new Set()));
        keys.add(key);
      }
    }
  }

  private unindex(key: string, obj: T): void {
    for (const [name, fn] of Object.entries(this.indexers)) {
      const index = this.indexes.get(name)!;
      for (const value of fn(obj)) {
        const keys = index.get(value);
        if (!keys) continue;
        keys.delete(key);
        if (keys.size === 0) index.delete(value);
      }
    }
  }

  private emit(event: StoreEvent<T>): void {
    for (const listener of this.listeners) {
      // A faulty listener must not stop the others nor the reflector feeding this store.
      try {
        listener(event);
      } catch (error) {
        logger('kube-cache').error({ err: error, kind: this.kind, key: event.key }, 'store listener threw');
      }
    }
  }
}
