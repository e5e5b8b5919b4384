// A tiny scheduler for the lab: a pod created without spec.nodeName gets one of the Ready nodes, round-robin
// in node-name order, so plain pod manifests work without naming a node.
import type { LabApi } from '../apiserver/api.ts';
import { storageKey, type KubeObject } from '../apiserver/resources.ts';
import { logger } from '../../src/observe/log.ts';

const log = logger('lab-scheduler');

function isReady(node: KubeObject): boolean {
  const conditions = ((node['status'] ?? {}) as { conditions?: { type?: string; status?: string }[] }).conditions ?? [];
  return conditions.some((c) => c.type === 'Ready' && c.status === 'True');
}

/** Binds unscheduled pods as they appear; returns a stop function. */
export function startRoundRobinScheduler(api: LabApi): () => void {
  const pods = api.type('', 'pods');
  const nodes = api.type('', 'nodes');
  const podsKey = storageKey(pods);
  let next = 0;
  const pending = new Set<string>();
  let scheduled = false;

  const bind = (key: string): void => {
    const [namespace, name] = key.split('/') as [string, string];
    const current = api.get(pods, namespace, name);
    if (!current.ok) return;
    const pod = current.value;
    const spec = (pod['spec'] ?? {}) as { nodeName?: string };
    if (spec.nodeName || pod.metadata.deletionTimestamp) return;
    const ready = api.list(nodes).filter(isReady).map((n) => n.metadata.name ?? '').sort();
    if (ready.length === 0) { log.warn({ pod: key }, 'no Ready node to schedule on'); return; }
    const node = ready[next++ % ready.length]!;
    pod['spec'] = { ...spec, nodeName: node };
    const written = api.update(pods, pod);
    if (!written.ok) log.warn({ pod: key, error: written.error.message }, 'could not bind pod');
  };

  const flush = (): void => {
    scheduled = false;
    const keys = [...pending].sort();
    pending.clear();
    for (const key of keys) bind(key);
  };

  const unsubscribe = api.subscribe((event) => {
    if (event.resource !== podsKey || event.type === 'DELETED') return;
    const spec = (event.object['spec'] ?? {}) as { nodeName?: string };
    if (spec.nodeName || event.object.metadata.deletionTimestamp) return;
    pending.add(`${event.object.metadata.namespace ?? 'default'}/${event.object.metadata.name ?? ''}`);
    // bound outside the store's notification, never from inside it
    if (!scheduled) { scheduled = true; setImmediate(flush); }
  });
  return unsubscribe;
}
