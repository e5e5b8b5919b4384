// Bytes per cached object in the daemon's caches: fills src/kube's ClusterCache (the reflectors and stores every
// controller reads) from the lab API server in this process and measures the V8 heap before and after, with a
// full GC on each side (run node with --expose-gc). Pods per pod, EndpointSlices per endpoint.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ClusterCache, type ResourceName } from '../src/kube/cluster-cache.ts';
import { KubeClient } from '../src/kube/client.ts';
import { loadKubeconfigFile } from '../src/kube/kubeconfig.ts';

export interface CacheBytes { objects: number; units: number; bytes: number; bytesPerUnit: number }

function collector(): () => void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  return () => { gc(); gc(); };
}

/** Heap bytes the cache of one resource holds per unit (units: objects, or what `unitsOf` counts in each). */
export async function cacheBytes(kubeconfig: string, server: string, resource: ResourceName,
  unitsOf: (o: any) => number = () => 1): Promise<CacheBytes> {
  const config = loadKubeconfigFile(kubeconfig);
  if (!config.ok) throw new Error(`kubeconfig: ${String(config.error)}`);
  const client = new KubeClient({ ...config.value, server });
  const gc = collector();
  gc();
  const before = process.memoryUsage().heapUsed;
  const cache = new ClusterCache(client, [resource], { watchTimeoutSeconds: () => 600 });
  cache.start();
  await cache.waitForSync(600_000);
  gc();
  const after = process.memoryUsage().heapUsed;
  const objects = cache.store(resource).list() as unknown[];
  const units = objects.reduce<number>((n, o) => n + unitsOf(o), 0);
  await cache.stop();
  return { objects: objects.length, units, bytes: after - before, bytesPerUnit: units > 0 ? (after - before) / units : NaN };
}

export const endpointsOf = (slice: { endpoints?: unknown[] }): number => slice.endpoints?.length ?? 0;
