// The DaemonSet controller: keeps one pod per eligible node from each DaemonSet's template (planned by
// daemonset-plan.ts), rolls template changes node by node, publishes the status `kubectl rollout status`
// reads, and removes the pods of a deleted DaemonSet (the garbage collector's job for owned pods).
import type { LabApi } from '../apiserver/api.ts';
import { storageKey, type KubeObject } from '../apiserver/resources.ts';
import type { StoreEvent } from '../apiserver/store.ts';
import { logger } from '../../src/observe/log.ts';
import { daemonPod, planDaemonSet } from './daemonset-plan.ts';

const log = logger('lab-daemonsets');

interface OwnerReference { kind?: string; uid?: string; controller?: boolean }

const ownerOf = (pod: KubeObject): OwnerReference | undefined =>
  ((pod.metadata.ownerReferences ?? []) as OwnerReference[]).find((o) => o.controller && o.kind === 'DaemonSet');

export function startDaemonSetController(api: LabApi): () => void {
  const daemonSets = api.type('apps', 'daemonsets');
  const pods = api.type('', 'pods');
  const nodes = api.type('', 'nodes');
  const watched = new Set([storageKey(daemonSets), storageKey(pods), storageKey(nodes)]);
  let pending = false;
  let stopped = false;

  const reconcileOne = (ds: KubeObject, allNodes: KubeObject[], owned: KubeObject[]): void => {
    const { actions, status } = planDaemonSet(ds, allNodes, owned);
    const namespace = ds.metadata.namespace ?? 'default';
    for (const action of actions) {
      if (action.kind === 'create') {
        const created = api.create(pods, daemonPod(ds, action.node));
        if (!created.ok) log.warn({ ds: `${namespace}/${ds.metadata.name ?? ''}`, node: action.node, error: created.error.message }, 'could not create daemon pod');
      } else {
        const removed = api.delete(pods, namespace, action.pod);
        if (!removed.ok && removed.error.code !== 404) log.warn({ pod: `${namespace}/${action.pod}`, error: removed.error.message }, 'could not delete daemon pod');
        else log.debug({ pod: `${namespace}/${action.pod}`, reason: action.reason }, 'daemon pod deleted');
      }
    }
    const current = (ds['status'] ?? {}) as Record<string, unknown>;
    if (Object.entries(status).every(([k, v]) => current[k] === v)) return;
    const written = api.update(daemonSets, { ...ds, metadata: { ...ds.metadata, resourceVersion: undefined }, status: { ...current, ...status } }, 'status');
    if (!written.ok) log.warn({ ds: `${namespace}/${ds.metadata.name ?? ''}`, error: written.error.message }, 'could not write daemonset status');
  };

  const reconcile = (): void => {
    pending = false;
    if (stopped) return;
    const allNodes = api.list(nodes);
    const byOwner = new Map<string, KubeObject[]>();
    for (const pod of api.listShared(pods)) {
      const owner = ownerOf(pod);
      if (owner?.uid) byOwner.set(owner.uid, [...(byOwner.get(owner.uid) ?? []), pod]);
    }
    for (const ds of api.list(daemonSets)) {
      if (ds.metadata.deletionTimestamp) continue;
      reconcileOne(ds, allNodes, byOwner.get(ds.metadata.uid ?? '') ?? []);
      byOwner.delete(ds.metadata.uid ?? '');
    }
    // what is left belongs to DaemonSets that no longer exist
    for (const orphans of byOwner.values()) {
      for (const pod of orphans) {
        if (!pod.metadata.deletionTimestamp) api.delete(pods, pod.metadata.namespace, pod.metadata.name ?? '');
      }
    }
  };

  // many events (a pod's status writes, node heartbeats) collapse into one pass
  const schedule = (): void => {
    if (pending || stopped) return;
    pending = true;
    setImmediate(reconcile);
  };
  // A pass lists every pod: only changes that can matter start one (pods a DaemonSet owns; nodes while there are
  // DaemonSets), so loading thousands of other pods does not cost a pass per write.
  const podsKey = storageKey(pods);
  const nodesKey = storageKey(nodes);
  const relevant = (event: StoreEvent): boolean => {
    if (event.resource === podsKey) return ownerOf(event.object) !== undefined || (event.previous !== undefined && ownerOf(event.previous) !== undefined);
    if (event.resource === nodesKey) return api.objects.count(storageKey(daemonSets)) > 0;
    return watched.has(event.resource);
  };
  const unsubscribe = api.subscribe((event) => { if (relevant(event)) schedule(); });
  schedule();
  return () => { stopped = true; unsubscribe(); };
}
