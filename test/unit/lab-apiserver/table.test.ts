// Server-side printing for kubectl get: Table columns and cells for pods, services and nodes, and kubectl-style ages.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { humanAge, toTable, wantsTable } from '../../../lab/apiserver/table.ts';
import type { KubeObject } from '../../../lab/apiserver/resources.ts';

const t0 = Date.parse('2026-01-01T00:00:00Z');
const at = (seconds: number): string => humanAge('2026-01-01T00:00:00Z', t0 + seconds * 1000);

describe('Table printing', () => {
  it('formats ages like kubectl', () => {
    assert.deepEqual([at(5), at(119), at(150), at(600), at(7200), at(3 * 3600 + 60), at(30 * 3600), at(3 * 86400 + 7200), at(40 * 86400)],
      ['5s', '119s', '2m30s', '10m', '120m', '3h1m', '30h', '3d2h', '40d']);
  });

  it('recognises the Table Accept header kubectl sends', () => {
    assert.equal(wantsTable('application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json'), true);
    assert.equal(wantsTable('application/json'), false);
  });

  it('prints pod, service and node rows with the wide columns at priority 1', () => {
    const pod: KubeObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', creationTimestamp: new Date().toISOString() },
      spec: { nodeName: 'n1', containers: [{ name: 'a' }, { name: 'b' }] },
      status: { phase: 'Running', podIP: '198.18.1.2', containerStatuses: [{ ready: true, restartCount: 2 }, { ready: false, restartCount: 1 }] } };
    const table = toTable('Pod', [pod], { resourceVersion: '5' }) as { columnDefinitions: { name: string; priority: number }[]; rows: { cells: unknown[]; object: { kind: string } }[] };
    assert.deepEqual(table.columnDefinitions.filter((c) => c.priority === 0).map((c) => c.name), ['Name', 'Ready', 'Status', 'Restarts', 'Age']);
    assert.deepEqual(table.rows[0]?.cells.slice(0, 4), ['p', '1/2', 'Running', 3]);
    assert.deepEqual(table.rows[0]?.cells.slice(5, 7), ['198.18.1.2', 'n1']);
    assert.equal(table.rows[0]?.object.kind, 'PartialObjectMetadata');
    const svc: KubeObject = { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' },
      spec: { type: 'LoadBalancer', clusterIP: '198.51.100.130', ports: [{ port: 80, nodePort: 30080, protocol: 'TCP' }], selector: { app: 'x' } }, status: {} };
    const svcRow = (toTable('Service', [svc], {}) as { rows: { cells: unknown[] }[] }).rows[0]?.cells;
    assert.deepEqual([svcRow?.[1], svcRow?.[2], svcRow?.[3], svcRow?.[4], svcRow?.[6]], ['LoadBalancer', '198.51.100.130', '<pending>', '80:30080/TCP', 'app=x']);
    const node: KubeObject = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', labels: { 'node-role.kubernetes.io/control-plane': '' } },
      spec: { unschedulable: true }, status: { conditions: [{ type: 'Ready', status: 'False' }], addresses: [{ type: 'InternalIP', address: '198.51.100.11' }], nodeInfo: { kubeletVersion: 'v1.30.6' } } };
    const nodeRow = (toTable('Node', [node], {}) as { rows: { cells: unknown[] }[] }).rows[0]?.cells;
    assert.deepEqual([nodeRow?.[1], nodeRow?.[2], nodeRow?.[4], nodeRow?.[5]], ['NotReady,SchedulingDisabled', 'control-plane', 'v1.30.6', '198.51.100.11']);
  });
});
