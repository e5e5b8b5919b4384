// Bytes per cached object in the daemon's caches: fills src/kube's ClusterCache (the reflectors and stores every
// controller reads) from the lab API server in this process and measures the V8 heap before and after, with a
// full GC on each side (run node with --expose-gc). Pods per pod, EndpointSlices per endpoint.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ClusterCache, type ResourceName } from '../src/kube/cluster-cache.ts';
import { KubeClient } from '../src/kube/client.ts';
import { loadKubeconfigFile } from '../src/kube/kubeconfig.ts';
import { Store, type KubeObject } from '../src/kube/cache.ts';
import { Reflector } from '../src/kube/reflector.ts';

export interface CacheBytes { objects: number; units: number; bytes: number; bytesPerUnit: number }

function collector(): () => void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  return () => { gc(); gc(); };
}

function clientFor(kubeconfig: string, server: string): KubeClient {
  const config = loadKubeconfigFile(kubeconfig);
  if (!config.ok) throw new Error(`kubeconfig: ${String(config.error)}`);
  return new KubeClient({ ...config.value, server });
}

async function measure(fill: () => Promise<{ list: () => readonly unknown[]; stop: () => Promise<void>; clear: () => void }>, unitsOf: (o: any) => number): Promise<CacheBytes> {
  const gc = collector();
  gc();
  const before = process.memoryUsage().heapUsed;
  const filled = await fill();
  gc();
  const after = process.memoryUsage().heapUsed;
  const objects = filled.list();
  const units = objects.reduce<number>((n, o) => n + unitsOf(o), 0);
  await filled.stop();
  // A stopped reflector's store can stay reachable for a while (its connection closing): empty it, so the next
  // measurement does not count this one's objects being freed (that made the slimmed-pod figure negative).
  filled.clear();
  return { objects: objects.length, units, bytes: after - before, bytesPerUnit: units > 0 ? (after - before) / units : NaN };
}

/** Heap bytes the daemon's cache of one resource holds per unit (objects, or what `unitsOf` counts in each). */
export function cacheBytes(kubeconfig: string, server: string, resource: ResourceName, unitsOf: (o: any) => number = () => 1): Promise<CacheBytes> {
  return measure(async () => {
    const cache = new ClusterCache(clientFor(kubeconfig, server), [resource], { watchTimeoutSeconds: () => 600 });
    cache.start();
    await cache.waitForSync(600_000);
    const store = cache.store(resource);
    return { list: () => store.list(), stop: () => cache.stop(), clear: () => { for (const key of store.keys()) store.remove(key); } };
  }, unitsOf);
}

/**
 * The same for a plain store without indexes: whole objects as the API server sends them (managedFields aside), or
 * as `transform` leaves them. Comparing the two isolates what slimming saves; the ClusterCache adds its indexes.
 */
export function plainStoreBytes(kubeconfig: string, server: string, path: string, transform?: (o: any) => any): Promise<CacheBytes> {
  return measure(async () => {
    const store = new Store<KubeObject>('Object', {});
    const reflector = new Reflector<KubeObject>({ client: clientFor(kubeconfig, server), path, store, watchTimeoutSeconds: () => 600,
      ...(transform ? { transform } : {}) });
    reflector.start();
    await reflector.waitForSync();
    return { list: () => store.list(), stop: () => reflector.stop(), clear: () => { for (const key of store.keys()) store.remove(key); } };
  }, () => 1);
}

export const endpointsOf = (slice: { endpoints?: unknown[] }): number => slice.endpoints?.length ?? 0;
