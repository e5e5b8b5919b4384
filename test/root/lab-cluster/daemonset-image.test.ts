// A DaemonSet run from an image, the way a user installs kube-router: a busybox OCI image built here with umoci
// is loaded with `kube-router-lab image load`; `kubectl apply` of a ServiceAccount, ClusterRole, binding and a
// hostNetwork DaemonSet brings one pod per node up from the image (downward-API env, the SA token mounted,
// an httpGet readiness probe on 20244, an init container, volumes); `kubectl logs` shows what the container
// saw. The token mounted into the pod lists nodes (busybox's wget cannot do TLS with the lab's ECDSA
// certificate, so the test sends it); a template change rolls node by node, and removing `list` from the
// ClusterRole makes the API answer 403 to that ServiceAccount.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRoot } from '../../helpers/netns.ts';
import { Agent } from 'undici';
import { hasKubectl, isReady, kubectl, labCli, listPods, until, type PodView } from './lab-cli.ts';
import { buildBusyboxImage } from './busybox-image.ts';

const PREFIX = 'krt-ds';
const hasUmoci = spawnSync('umoci', ['--version']).status === 0;
const skip = !isRoot ? 'needs root' : !hasKubectl() ? 'needs kubectl' : !hasUmoci ? 'needs umoci (apt-get install umoci)' : false;

const SA = '/var/run/secrets/kubernetes.io/serviceaccount';
const LOOP = String.raw`mkdir -p /www && echo ok > /www/healthz && httpd -p 20244 -h /www
[ -s ${SA}/token ] && [ -s ${SA}/ca.crt ] && token=present
# the API must answer TLS from the node's namespace at KUBERNETES_SERVICE_HOST:PORT (busybox gets as far as
# the handshake, which it cannot finish: an alert from the peer proves the server was reached)
wget -q -O /dev/null "https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT/version" 2>&1 | grep -q 'TLS error from peer' && api=reachable
echo "node=$NODE_NAME pod=$POD_NAME ns=$(cat ${SA}/namespace) ip=$HOST_IP version=$VERSION token=$token api=$api init=$(cat /shared/init)"
exec sleep 3600`;

const manifest = (version: string, verbs: string[]): string => `
apiVersion: v1
kind: ServiceAccount
metadata: {name: prober, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "lab:prober"}
rules: [{apiGroups: [""], resources: [nodes], verbs: ${JSON.stringify(verbs)}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "lab:prober"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "lab:prober"}
subjects: [{kind: ServiceAccount, name: prober, namespace: kube-system}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: prober, namespace: kube-system}
spec:
  selector: {matchLabels: {app: prober}}
  template:
    metadata: {labels: {app: prober}}
    spec:
      serviceAccountName: prober
      hostNetwork: true
      terminationGracePeriodSeconds: 2
      initContainers:
      - {name: init, image: lab/busybox:1, command: [sh, -c, "echo init ran > /shared/init"], volumeMounts: [{name: shared, mountPath: /shared}]}
      containers:
      - name: loop
        image: lab/busybox:1
        args: [-c, ${JSON.stringify(LOOP)}]
        env:
        - {name: VERSION, value: "${version}"}
        - {name: NODE_NAME, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
        - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
        - {name: HOST_IP, valueFrom: {fieldRef: {fieldPath: status.hostIP}}}
        readinessProbe: {httpGet: {path: /healthz, port: 20244}, periodSeconds: 1}
        volumeMounts: [{name: shared, mountPath: /shared}, {name: modules, mountPath: /lib/modules, readOnly: true}]
      volumes:
      - {name: shared, emptyDir: {}}
      - {name: modules, hostPath: {path: /lib/modules}}
`;

describe('a DaemonSet from an image with RBAC in the lab', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'krt-ds-'));
  const stateDir = join(dir, 'state');
  let kubeconfig = '';
  const kc = (args: string[], input?: string): string => {
    const r = kubectl(kubeconfig, args, input);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  /** GET /api/v1/nodes with the token the kubelet mounted into the pod: the status code. */
  const listNodesAs = async (pod: PodView): Promise<number> => {
    const token = readFileSync(join(stateDir, 'nodes', pod.spec.nodeName ?? '', 'pods', pod.metadata.uid, 'serviceaccount', 'token'), 'utf8');
    const dispatcher = new Agent({ connect: { ca: readFileSync(join(stateDir, 'api', 'pki', 'ca.crt'), 'utf8') } });
    const server = /server: (\S+)/.exec(readFileSync(kubeconfig, 'utf8'))?.[1] ?? '';
    try {
      const response = await fetch(`${server}/api/v1/nodes`, { dispatcher, headers: { Authorization: `Bearer ${token}` } } as RequestInit);
      await response.text();
      return response.status;
    } finally {
      await dispatcher.close();
    }
  };
  const daemonPods = async (): Promise<PodView[]> => (await listPods(kubeconfig, 'kube-system')).filter((p) => p.metadata.labels?.['app'] === 'prober');

  before(() => {
    process.env['KUBE_ROUTER_LAB_IMAGE_DIR'] = join(dir, 'images');
    const loaded = labCli(['image', 'load', buildBusyboxImage(dir), '--as', 'lab/busybox:1']);
    assert.equal(loaded.code, 0, loaded.stderr);
    assert.match(loaded.stdout, /loaded docker\.io\/lab\/busybox:1 \(sha256:/);
    const up = labCli(['up', '--nodes', '2', '--no-kube-router', '--static-routes', '--prefix', PREFIX, '--state-dir', stateDir]);
    assert.equal(up.code, 0, `up failed: ${up.stderr}`);
    kubeconfig = labCli(['kubeconfig', '--state-dir', stateDir]).stdout.trim();
  });

  after(() => {
    labCli(['down', '--state-dir', stateDir]);
    rmSync(dir, { recursive: true, force: true });
  });

  test('one Ready pod per node from the image, using its token; a template change rolls; a removed verb is 403', async () => {
    kc(['apply', '-f', '-'], manifest('1', ['get', 'list', 'watch']));
    kc(['-n', 'kube-system', 'rollout', 'status', 'ds/prober', '--timeout=90s']);
    const pods = await daemonPods();
    assert.deepEqual(pods.map((p) => p.spec.nodeName).sort(), [`${PREFIX}-n1`, `${PREFIX}-n2`]);
    assert.ok(pods.every(isReady));
    for (const pod of pods) {
      assert.equal(kc(['-n', 'kube-system', 'logs', pod.metadata.name]).trim(),
        `node=${pod.spec.nodeName ?? ''} pod=${pod.metadata.name} ns=kube-system ip=${pod.status?.hostIP ?? ''} version=1 token=present api=reachable init=init ran`);
      assert.equal(kc(['-n', 'kube-system', 'logs', pod.metadata.name, '-c', 'init']), '', 'the init container wrote to the volume, not stdout');
      assert.equal(await listNodesAs(pod), 200);
    }

    kc(['apply', '-f', '-'], manifest('2', ['get', 'list', 'watch']));
    kc(['-n', 'kube-system', 'rollout', 'status', 'ds/prober', '--timeout=90s']);
    const rolled = await daemonPods();
    assert.equal(rolled.length, 2);
    assert.ok(rolled.every((p) => !pods.some((old) => old.metadata.uid === p.metadata.uid)), 'every pod was replaced');
    for (const pod of rolled) assert.match(kc(['-n', 'kube-system', 'logs', pod.metadata.name]), /version=2 token=present api=reachable/);

    kc(['apply', '-f', '-'], manifest('2', ['get', 'watch']));
    assert.equal(await listNodesAs(rolled[0]!), 403, 'list was removed from the ClusterRole');

    kc(['-n', 'kube-system', 'delete', 'ds', 'prober']);
    await until('the daemon pods gone', 30_000, async () => ((await daemonPods()).length === 0 ? true : undefined));
  });

  test('a container that exits is restarted with back-off; its output accumulates in kubectl logs', async () => {
    kc(['apply', '-f', '-'], `apiVersion: v1
kind: Pod
metadata: {name: crasher, namespace: default}
spec:
  nodeName: ${PREFIX}-n1
  hostNetwork: true
  automountServiceAccountToken: false
  containers: [{name: c, image: lab/busybox:1, command: [sh, -c, "echo started; exit 3"]}]
`);
    type Status = { restartCount: number; lastState?: { terminated?: { exitCode: number } } };
    const status = await until('two restarts', 20_000, async () => {
      const pod = JSON.parse(kc(['get', 'pod', 'crasher', '-o', 'json'])) as { status?: { containerStatuses?: Status[] } };
      const c = pod.status?.containerStatuses?.[0];
      return c && c.restartCount >= 2 ? c : undefined;
    });
    assert.equal(status.lastState?.terminated?.exitCode, 3);
    assert.ok(kc(['logs', 'crasher']).split('\n').filter((l) => l === 'started').length >= 2);
    kc(['delete', 'pod', 'crasher', '--wait=true']);
  });
});
