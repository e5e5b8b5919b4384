// kubectl apply of a DaemonSet with its ServiceAccount and RBAC, `kubectl rollout status` through a template
// change, against the lab API server and its DaemonSet controller. A minimal in-test kubelet marks pods Ready
// and confirms their deletion (the real lab kubelet runs containers; here only the control plane is under test).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startTestServer, type TestServer } from './helpers.ts';
import type { KubeObject } from '../../../lab/apiserver/resources.ts';

const KUBECTL = '/usr/bin/kubectl';
const skip = existsSync(KUBECTL) ? false : 'no /usr/bin/kubectl';

const manifest = (image: string): string => `
apiVersion: v1
kind: ServiceAccount
metadata: {name: agent, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "lab:agent"}
rules:
- {apiGroups: [""], resources: [nodes], verbs: [get, list, watch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "lab:agent"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "lab:agent"}
subjects: [{kind: ServiceAccount, name: agent, namespace: kube-system}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: agent-cfg, namespace: kube-system}
data: {mode: test}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: kube-system}
spec:
  selector: {matchLabels: {k8s-app: agent}}
  template:
    metadata: {labels: {k8s-app: agent}}
    spec:
      serviceAccountName: agent
      hostNetwork: true
      tolerations: [{operator: Exists}]
      containers: [{name: agent, image: "${image}", command: [sleep, "3600"]}]
`;

describe('kubectl apply and rollout status of a DaemonSet', { skip }, () => {
  let server: TestServer;
  let env: NodeJS.ProcessEnv;
  let stopKubelet: () => void;
  const kubectl = (args: string[]): Promise<string> => new Promise((resolve, reject) => {
    execFile(KUBECTL, args, { env, timeout: 60_000 }, (error, stdout, stderr) => (error ? reject(new Error(`kubectl ${args.join(' ')}: ${stderr}`)) : resolve(stdout)));
  });

  before(async () => {
    server = await startTestServer({ plainHttp: false, token: undefined });
    env = { PATH: process.env['PATH'], HOME: join(server.dir, 'home'), KUBECONFIG: server.kubeconfigPath };
    const api = server.store, pods = api.type('', 'pods');
    for (const name of ['n1', 'n2', 'n3']) api.create(api.type('', 'nodes'), { apiVersion: 'v1', kind: 'Node', metadata: { name } });
    // the stand-in kubelet: a new pod becomes Ready shortly after, a deleted one is confirmed gone
    stopKubelet = api.subscribe((event) => {
      if (event.resource !== '/pods' || event.type === 'DELETED') return;
      const pod = event.object as KubeObject;
      const ref = [pod.metadata.namespace, pod.metadata.name ?? ''] as const;
      if (pod.metadata.deletionTimestamp) { setTimeout(() => api.delete(pods, ...ref, { gracePeriodSeconds: 0 }), 20); return; }
      if (event.type !== 'ADDED') return;
      setTimeout(() => {
        const current = api.get(pods, ...ref);
        if (!current.ok) return;
        current.value['status'] = { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] };
        api.update(pods, current.value, 'status');
      }, 50);
    });
  });
  after(async () => { stopKubelet(); await server.close(); });

  it('creates every kind, runs one pod per node, and rolls a new image through all of them', async () => {
    const file = join(server.dir, 'ds.yaml');
    await writeFile(file, manifest('lab/busybox:1'));
    const applied = await kubectl(['apply', '-f', file]);
    for (const kind of ['serviceaccount/agent', 'clusterrole.rbac.authorization.k8s.io/lab:agent', 'clusterrolebinding.rbac.authorization.k8s.io/lab:agent',
      'configmap/agent-cfg', 'daemonset.apps/agent']) assert.match(applied, new RegExp(`${kind} created`));
    assert.match(await kubectl(['-n', 'kube-system', 'rollout', 'status', 'ds/agent', '--timeout=60s']), /successfully rolled out/);
    const first = JSON.parse(await kubectl(['-n', 'kube-system', 'get', 'pods', '-l', 'k8s-app=agent', '-o', 'json'])) as { items: KubeObject[] };
    assert.deepEqual(first.items.map((p) => (p['spec'] as { nodeName: string }).nodeName).sort(), ['n1', 'n2', 'n3']);
    assert.ok(first.items.every((p) => p.metadata.name?.startsWith('agent-') && p.metadata.ownerReferences?.[0]?.kind === 'DaemonSet'));

    await writeFile(file, manifest('lab/busybox:2'));
    assert.match(await kubectl(['apply', '-f', file]), /daemonset.apps\/agent configured/);
    assert.match(await kubectl(['-n', 'kube-system', 'rollout', 'status', 'ds/agent', '--timeout=60s']), /successfully rolled out/);
    const second = JSON.parse(await kubectl(['-n', 'kube-system', 'get', 'pods', '-l', 'k8s-app=agent', '-o', 'json'])) as { items: KubeObject[] };
    assert.equal(second.items.length, 3);
    assert.ok(second.items.every((p) => (p['spec'] as { containers: { image: string }[] }).containers[0]?.image === 'lab/busybox:2'));
    assert.ok(second.items.every((p) => !first.items.some((f) => f.metadata.uid === p.metadata.uid)), 'every pod was replaced');
    const ds = JSON.parse(await kubectl(['-n', 'kube-system', 'get', 'ds', 'agent', '-o', 'json'])) as { status: Record<string, number> };
    assert.equal(ds.status['desiredNumberScheduled'], 3);
    assert.equal(ds.status['updatedNumberScheduled'], 3);
    assert.equal(ds.status['numberReady'], 3);
    assert.match(await kubectl(['-n', 'kube-system', 'get', 'ds']), /^NAME\s+DESIRED\s+CURRENT\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+NODE SELECTOR\s+AGE\nagent\s+3\s+3\s+3\s+3\s+3\s+<none>/);

    await kubectl(['delete', '-f', file]);
    assert.deepEqual(server.store.list(server.store.type('', 'pods'), 'kube-system').filter((p) => !p.metadata.deletionTimestamp), [], 'the DaemonSet took its pods along');
  });
});
