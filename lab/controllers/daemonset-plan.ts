// What the DaemonSet controller does next for one DaemonSet, as a pure function of the DaemonSet, the nodes and
// the pods it owns: which nodes get a pod, which pods go (node no longer eligible, duplicates, failed, or an old
// template during a rolling update within maxUnavailable), and the status to publish.
import { createHash } from 'node:crypto';
import type { KubeObject } from '../apiserver/resources.ts';

export const TEMPLATE_HASH_LABEL = 'controller-revision-hash';

export type DaemonSetAction =
  | { kind: 'create'; node: string }
  | { kind: 'delete'; pod: string; node: string; reason: 'ineligible' | 'duplicate' | 'failed' | 'outdated' };

export interface DaemonSetStatus {
  observedGeneration: number;
  desiredNumberScheduled: number;
  currentNumberScheduled: number;
  numberMisscheduled: number;
  numberReady: number;
  numberAvailable: number;
  numberUnavailable: number;
  updatedNumberScheduled: number;
}

interface Toleration { key?: string; operator?: string; value?: string; effect?: string }
interface Taint { key?: string; value?: string; effect?: string }
interface TemplateSpec { nodeSelector?: Record<string, string>; tolerations?: Toleration[] }

function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (v && typeof v === 'object' && !Array.isArray(v)
    ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v));
}

/** A short stable hash of the pod template: pods carrying another value are of an older template. */
export function templateHash(ds: KubeObject): string {
  const template = ((ds['spec'] ?? {}) as { template?: unknown }).template ?? {};
  return createHash('sha256').update(canonical(template)).digest('hex').slice(0, 10);
}

function tolerates(tolerations: readonly Toleration[], taint: Taint): boolean {
  return tolerations.some((t) => (t.effect === undefined || t.effect === '' || t.effect === taint.effect)
    && (t.key === undefined || t.key === '' ? t.operator === 'Exists'
      : t.key === taint.key && (t.operator === 'Exists' || (t.value ?? '') === (taint.value ?? ''))));
}

/** Whether the DaemonSet wants a pod on the node: its nodeSelector matches and every NoSchedule/NoExecute taint is tolerated. */
export function nodeEligible(ds: KubeObject, node: KubeObject): boolean {
  const spec = (((ds['spec'] ?? {}) as { template?: { spec?: TemplateSpec } }).template?.spec ?? {});
  const labels = node.metadata.labels ?? {};
  if (Object.entries(spec.nodeSelector ?? {}).some(([k, v]) => labels[k] !== v)) return false;
  const taints = (((node['spec'] ?? {}) as { taints?: Taint[] }).taints ?? []).filter((t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute');
  // as upstream, daemon pods tolerate an unschedulable (cordoned) node
  const tolerations = [...(spec.tolerations ?? []), { key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' }];
  return taints.every((t) => tolerates(tolerations, t));
}

export function podReady(pod: KubeObject): boolean {
  const conditions = ((pod['status'] ?? {}) as { conditions?: { type?: string; status?: string }[] }).conditions ?? [];
  return !pod.metadata.deletionTimestamp && conditions.some((c) => c.type === 'Ready' && c.status === 'True');
}

const phaseOf = (pod: KubeObject): string | undefined => ((pod['status'] ?? {}) as { phase?: string }).phase;
const nodeOf = (pod: KubeObject): string => ((pod['spec'] ?? {}) as { nodeName?: string }).nodeName ?? '';
const isCurrent = (pod: KubeObject, hash: string): boolean => pod.metadata.labels?.[TEMPLATE_HASH_LABEL] === hash;

/** maxUnavailable of a RollingUpdate (an integer or a percentage of the desired pods, rounded up; at least 1). */
export function maxUnavailableOf(ds: KubeObject, desired: number): number {
  const raw = ((ds['spec'] ?? {}) as { updateStrategy?: { rollingUpdate?: { maxUnavailable?: number | string } } }).updateStrategy?.rollingUpdate?.maxUnavailable ?? 1;
  const value = typeof raw === 'string' && raw.endsWith('%') ? Math.ceil((Number(raw.slice(0, -1)) / 100) * desired) : Number(raw);
  return Number.isFinite(value) && value >= 1 ? value : 1;
}

export function planDaemonSet(ds: KubeObject, nodes: readonly KubeObject[], owned: readonly KubeObject[]): { actions: DaemonSetAction[]; status: DaemonSetStatus } {
  const hash = templateHash(ds);
  const rolling = (((ds['spec'] ?? {}) as { updateStrategy?: { type?: string } }).updateStrategy?.type ?? 'RollingUpdate') === 'RollingUpdate';
  const actions: DaemonSetAction[] = [];
  const byNode = new Map<string, KubeObject[]>();
  for (const pod of owned) byNode.set(nodeOf(pod), [...(byNode.get(nodeOf(pod)) ?? []), pod]);
  const eligible = nodes.filter((n) => nodeEligible(ds, n)).map((n) => n.metadata.name ?? '');
  const eligibleSet = new Set(eligible);
  let misscheduled = 0;
  for (const [node, pods] of byNode) {
    if (eligibleSet.has(node)) continue;
    if (pods.some((p) => !p.metadata.deletionTimestamp)) misscheduled++;
    for (const pod of pods) if (!pod.metadata.deletionTimestamp) actions.push({ kind: 'delete', pod: pod.metadata.name ?? '', node, reason: 'ineligible' });
  }
  let scheduled = 0, ready = 0, updated = 0, unavailable = 0;
  const outdatedReady: { pod: string; node: string }[] = [];
  for (const node of eligible) {
    const pods = byNode.get(node) ?? [];
    const live = pods.filter((p) => !p.metadata.deletionTimestamp);
    const failed = live.filter((p) => phaseOf(p) === 'Failed');
    for (const pod of failed) actions.push({ kind: 'delete', pod: pod.metadata.name ?? '', node, reason: 'failed' });
    const running = live.filter((p) => phaseOf(p) !== 'Failed')
      .sort((a, b) => Number(isCurrent(b, hash)) - Number(isCurrent(a, hash)) || (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? ''));
    for (const extra of running.slice(1)) actions.push({ kind: 'delete', pod: extra.metadata.name ?? '', node, reason: 'duplicate' });
    const pod = running[0];
    // a pod still terminating on the node holds its host ports: the replacement waits until it is gone
    if (!pod) { if (pods.length === 0) actions.push({ kind: 'create', node }); unavailable++; continue; }
    scheduled++;
    const isReady = podReady(pod);
    if (isReady) ready++; else unavailable++;
    if (isCurrent(pod, hash)) { updated++; continue; }
    if (!rolling) continue;  // OnDelete: old pods are replaced only when someone deletes them
    // an outdated pod that is not ready costs no availability: replace it at once
    if (!isReady) actions.push({ kind: 'delete', pod: pod.metadata.name ?? '', node, reason: 'outdated' });
    else outdatedReady.push({ pod: pod.metadata.name ?? '', node });
  }
  if (rolling) {
    const budget = Math.max(0, maxUnavailableOf(ds, eligible.length) - unavailable);
    for (const { pod, node } of outdatedReady.slice(0, budget)) actions.push({ kind: 'delete', pod, node, reason: 'outdated' });
  }
  return {
    actions,
    status: {
      observedGeneration: ds.metadata.generation ?? 1,
      desiredNumberScheduled: eligible.length, currentNumberScheduled: scheduled, numberMisscheduled: misscheduled,
      numberReady: ready, numberAvailable: ready, numberUnavailable: eligible.length - ready, updatedNumberScheduled: updated,
    },
  };
}

/** The pod the DaemonSet runs on `node`: its template, bound to the node, owned by the DaemonSet. */
export function daemonPod(ds: KubeObject, node: string): KubeObject {
  const template = structuredClone(((ds['spec'] ?? {}) as { template?: { metadata?: KubeObject['metadata']; spec?: Record<string, unknown> } }).template ?? {});
  const name = ds.metadata.name ?? '';
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: {
      generateName: `${name}-`, namespace: ds.metadata.namespace ?? 'default',
      labels: { ...template.metadata?.labels, [TEMPLATE_HASH_LABEL]: templateHash(ds), 'pod-template-generation': String(ds.metadata.generation ?? 1) },
      ...(template.metadata?.annotations ? { annotations: template.metadata.annotations } : {}),
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name, uid: ds.metadata.uid ?? '', controller: true, blockOwnerDeletion: true }],
    },
    spec: { ...template.spec, nodeName: node },
  };
}
