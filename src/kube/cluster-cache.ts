// The one shared cache of cluster state every controller reads: a reflector and an indexed store per
// resource kind (started only for the kinds asked for), plus a single change feed for controllers.
import type { Namespace, Node, Pod, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import type { NetworkPolicy } from 'kubernetes-types/networking/v1.js';
import { type IndexFunc, type KubeObject, Store, type StoreEventType } from './cache.ts';
import type { KubeClient } from './client.ts';
import { collectionPath, REFLECTED_RESOURCES } from './api-access.ts';
import { Reflector, type ReflectorOptions } from './reflector.ts';
import { slimEndpointSlice, slimNode, slimPod, slimService } from './slim.ts';
import { logger } from '../observe/log.ts';

export interface ResourceTypes {
  nodes: Node;
  pods: Pod;
  namespaces: Namespace;
  services: Service;
  endpointslices: EndpointSlice;
  networkpolicies: NetworkPolicy;
}

export type ResourceName = keyof ResourceTypes;

/** Label linking an EndpointSlice to its Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** Index names, so callers do not repeat string literals. */
export const INDEX = {
  byNode: 'byNode',
  byNamespace: 'byNamespace',
  service: 'service',
} as const;

const byNamespace: IndexFunc<KubeObject> = (o) => (o.metadata?.namespace ? [o.metadata.namespace] : []);

interface ResourceSpec<T> {
  kind: string;
  indexers: Record<string, IndexFunc<T>>;
  /** What of each object the store keeps (default: all of it but managedFields). */
  transform?: (obj: T) => T;
}

const RESOURCES: { [R in ResourceName]: ResourceSpec<ResourceTypes[R]> } = {
  nodes: { kind: 'Node', indexers: {}, transform: slimNode },
  pods: {
    kind: 'Pod',
    indexers: { [INDEX.byNode]: (p) => (p.spec?.nodeName ? [p.spec.nodeName] : []), [INDEX.byNamespace]: byNamespace },
    transform: slimPod,
  },
  namespaces: { kind: 'Namespace', indexers: {} },
  services: { kind: 'Service', indexers: { [INDEX.byNamespace]: byNamespace }, transform: slimService },
  endpointslices: {
    kind: 'EndpointSlice',
    indexers: {
      // Upstream's service-name indexer: `<namespace>/<service name label>`; unlabelled slices are not indexed.
      [INDEX.service]: (s) => {
        const svc = s.metadata?.labels?.[SERVICE_NAME_LABEL];
        return svc && s.metadata?.namespace ? [`${s.metadata.namespace}/${svc}`] : [];
      },
    },
    transform: slimEndpointSlice,
  },
  networkpolicies: {
    kind: 'NetworkPolicy',
    indexers: { [INDEX.byNamespace]: byNamespace },
  },
};

export interface ClusterChange {
  /** Kubernetes kind: Node, Pod, Namespace, Service, EndpointSlice, NetworkPolicy. */
  kind: string;
  type: StoreEventType;
  key: string;
  oldObj?: KubeObject;
  newObj?: KubeObject;
}

export type ClusterChangeListener = (change: ClusterChange) => void;

/** Reflector tuning shared by all resources (tests shorten the timeouts). */
export type SharedReflectorOptions = Omit<ReflectorOptions<KubeObject>, 'client' | 'path' | 'store' | 'transform'>;

export class ClusterCache {
  private readonly stores = new Map<ResourceName, Store<KubeObject>>();
  private readonly reflectors = new Map<ResourceName, Reflector<KubeObject>>();
  private readonly listeners = new Set<ClusterChangeListener>();

  constructor(
    private readonly client: KubeClient,
    readonly resources: ResourceName[],
    private readonly reflectorOptions: SharedReflectorOptions = {},
  ) {
    for (const name of new Set(resources)) {
      const spec = RESOURCES[name] as unknown as ResourceSpec<KubeObject>;
      const store = new Store<KubeObject>(spec.kind, spec.indexers);
      store.onChange((e) => {
        const change: ClusterChange = { kind: spec.kind, type: e.type, key: e.key };
        if (e.oldObj) change.oldObj = e.oldObj;
        if (e.newObj) change.newObj = e.newObj;
        for (const listener of this.listeners) {
          // One controller's faulty handler must not starve the others of the change.
          try {
            listener(change);
          } catch (error) {
            logger('cluster-cache').error({ err: error, kind: spec.kind, key: e.key }, 'change listener threw');
          }
        }
      });
      this.stores.set(name, store);
    }
  }

  start(): void {
    for (const [name, store] of this.stores) {
      if (this.reflectors.has(name)) continue;
      // The path comes from the declared API access, so what is watched is what deploy/ RBAC grants.
      const path = collectionPath(REFLECTED_RESOURCES[name]);
      const spec = RESOURCES[name] as unknown as ResourceSpec<KubeObject>;
      const reflector = new Reflector<KubeObject>({ ...this.reflectorOptions, client: this.client, path, store,
        ...(spec.transform ? { transform: spec.transform } : {}) });
      this.reflectors.set(name, reflector);
      reflector.start();
    }
  }

  async stop(): Promise<void> {
    await Promise.all([...this.reflectors.values()].map((r) => r.stop()));
  }

  /** The store of a resource that was asked for; asking for another one is a bug. */
  store<R extends ResourceName>(name: R): Store<ResourceTypes[R]> {
    const store = this.stores.get(name);
    if (!store) throw new Error(`ClusterCache: resource ${name} was not requested`);
    return store as unknown as Store<ResourceTypes[R]>;
  }

  /** Subscribes to every change of every started resource, in order per resource; returns the unsubscribe function. */
  onChange(listener: ClusterChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  hasSynced(): boolean {
    return [...this.reflectors.values()].every((r) => r.hasSynced()) && this.reflectors.size === this.stores.size;
  }

  /** Epoch ms of the last data received per resource (0 = nothing yet), for health checks. */
  lastEventAt(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, r] of this.reflectors) out[name] = r.lastEventAt;
    return out;
  }

  /** Resolves when every started resource has listed once; rejects naming the laggards after timeoutMs. */
  async waitForSync(timeoutMs: number): Promise<void> {
    if (this.reflectors.size !== this.stores.size) throw new Error('ClusterCache.waitForSync called before start()');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const pending = [...this.reflectors].filter(([, r]) => !r.hasSynced()).map(([name]) => name);
        reject(new Error(`caches not synced after ${timeoutMs} ms (--cache-sync-timeout): still waiting for ${pending.join(', ')}`));
      }, timeoutMs);
    });
    try {
      await Promise.race([Promise.all([...this.reflectors.values()].map((r) => r.waitForSync())), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}
