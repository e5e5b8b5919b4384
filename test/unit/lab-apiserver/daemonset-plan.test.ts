// The DaemonSet planner: one pod per eligible node, rolling updates within maxUnavailable, and the status fields.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { daemonPod, planDaemonSet, templateHash, TEMPLATE_HASH_LABEL } from '../../../lab/controllers/daemonset-plan.ts';
import type { KubeObject } from '../../../lab/apiserver/resources.ts';

const node = (name: string, labels: Record<string, string> = {}, taints: unknown[] = []): KubeObject =>
  ({ apiVersion: 'v1', kind: 'Node', metadata: { name, labels }, spec: { taints } });
const ds = (image: string, extra: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'kr', namespace: 'kube-system', uid: 'ds-uid', generation: 2 },
  spec: { selector: { matchLabels: { k: 'r' } }, updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
    template: { metadata: { labels: { k: 'r' } }, spec: { containers: [{ name: 'c', image }], ...extra } } },
});
let serial = 0;
const pod = (of: KubeObject, nodeName: string, ready: boolean, extra: { deleting?: boolean; phase?: string } = {}): KubeObject => {
  const p = daemonPod(of, nodeName);
  p.metadata.name = `kr-${serial++}`;
  p.metadata.creationTimestamp = `2026-01-01T00:00:0${serial % 10}Z`;
  if (extra.deleting) p.metadata.deletionTimestamp = '2026-01-01T00:01:00Z';
  p['status'] = { phase: extra.phase ?? 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] };
  return p;
};

describe('DaemonSet planner', () => {
  const nodes = [node('n1'), node('n2'), node('n3')];

  it('creates a pod on every node that has none, bound to the node and owned by the DaemonSet', () => {
    const v1 = ds('img:1');
    const { actions, status } = planDaemonSet(v1, nodes, [pod(v1, 'n2', true)]);
    assert.deepEqual(actions, [{ kind: 'create', node: 'n1' }, { kind: 'create', node: 'n3' }]);
    assert.deepEqual({ desired: status.desiredNumberScheduled, current: status.currentNumberScheduled, ready: status.numberReady, updated: status.updatedNumberScheduled },
      { desired: 3, current: 1, ready: 1, updated: 1 });
    const created = daemonPod(v1, 'n1');
    assert.equal((created['spec'] as { nodeName: string }).nodeName, 'n1');
    assert.equal(created.metadata.generateName, 'kr-');
    assert.equal(created.metadata.labels?.[TEMPLATE_HASH_LABEL], templateHash(v1));
    assert.deepEqual(created.metadata.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'kr', uid: 'ds-uid', controller: true, blockOwnerDeletion: true }]);
  });

  it('honours nodeSelector and taints, and removes pods from nodes no longer eligible', () => {
    const selective = ds('img:1', { nodeSelector: { role: 'edge' } });
    const labelled = [node('n1', { role: 'edge' }), node('n2'), node('n3', { role: 'edge' }, [{ key: 'dedicated', value: 'x', effect: 'NoSchedule' }])];
    const stray = pod(selective, 'n2', true);
    const { actions, status } = planDaemonSet(selective, labelled, [stray]);
    assert.deepEqual(actions, [{ kind: 'delete', pod: stray.metadata.name, node: 'n2', reason: 'ineligible' }, { kind: 'create', node: 'n1' }]);
    assert.equal(status.numberMisscheduled, 1);
    const tolerant = ds('img:1', { nodeSelector: { role: 'edge' }, tolerations: [{ key: 'dedicated', operator: 'Exists' }] });
    assert.deepEqual(planDaemonSet(tolerant, labelled, []).actions, [{ kind: 'create', node: 'n1' }, { kind: 'create', node: 'n3' }]);
  });

  it('rolls a template change one node at a time, waiting for the new pod to be Ready', () => {
    const v1 = ds('img:1'), v2 = ds('img:2');
    assert.notEqual(templateHash(v1), templateHash(v2));
    const old = nodes.map((n) => pod(v1, n.metadata.name ?? '', true));
    const first = planDaemonSet(v2, nodes, old);
    assert.deepEqual(first.actions, [{ kind: 'delete', pod: old[0]!.metadata.name, node: 'n1', reason: 'outdated' }]);
    assert.equal(first.status.updatedNumberScheduled, 0);
    // n1's old pod is terminating: no replacement yet (its host ports are still held), no second deletion
    const terminating = [pod(v1, 'n1', false, { deleting: true }), old[1]!, old[2]!];
    assert.deepEqual(planDaemonSet(v2, nodes, terminating).actions, []);
    // gone: the replacement is created; while it is not Ready nothing else is deleted
    assert.deepEqual(planDaemonSet(v2, nodes, [old[1]!, old[2]!]).actions, [{ kind: 'create', node: 'n1' }]);
    const starting = [pod(v2, 'n1', false), old[1]!, old[2]!];
    assert.deepEqual(planDaemonSet(v2, nodes, starting).actions, []);
    const next = planDaemonSet(v2, nodes, [pod(v2, 'n1', true), old[1]!, old[2]!]);
    assert.deepEqual(next.actions, [{ kind: 'delete', pod: old[1]!.metadata.name, node: 'n2', reason: 'outdated' }]);
    assert.equal(next.status.updatedNumberScheduled, 1);
  });

  it('replaces outdated pods that are not Ready without spending the budget, and failed pods at once', () => {
    const v1 = ds('img:1'), v2 = ds('img:2');
    const broken = pod(v1, 'n1', false), failed = pod(v2, 'n2', false, { phase: 'Failed' }), fine = pod(v1, 'n3', true);
    const { actions } = planDaemonSet(v2, nodes, [broken, failed, fine]);
    assert.deepEqual(actions, [
      { kind: 'delete', pod: broken.metadata.name, node: 'n1', reason: 'outdated' },
      { kind: 'delete', pod: failed.metadata.name, node: 'n2', reason: 'failed' },
    ]);
    const onDelete = ds('img:2');
    (onDelete['spec'] as { updateStrategy: unknown }).updateStrategy = { type: 'OnDelete' };
    assert.deepEqual(planDaemonSet(onDelete, nodes, nodes.map((n) => pod(v1, n.metadata.name ?? '', true))).actions, []);
  });

  it('keeps one pod per node: duplicates go, the current template first', () => {
    const v1 = ds('img:1'), v2 = ds('img:2');
    const older = pod(v1, 'n1', true), newer = pod(v2, 'n1', true);
    const { actions } = planDaemonSet(v2, [node('n1')], [older, newer]);
    assert.deepEqual(actions, [{ kind: 'delete', pod: older.metadata.name, node: 'n1', reason: 'duplicate' }]);
  });
});
