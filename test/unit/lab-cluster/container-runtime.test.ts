// Pure parts of running pods from images: image reference normalisation, paths resolved inside a rootfs,
// the capability bounding set, the launch script, env resolution and the node's host paths.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { normalizeReference } from '../../../lab/kubelet/image-store.ts';
import { boundingSet, launchScript, resolveInRoot } from '../../../lab/kubelet/container-process.ts';
import { containerEnv, expandReferences } from '../../../lab/kubelet/pod-environment.ts';
import { nodeHostPath } from '../../../lab/cluster/layout.ts';
import { LabApi } from '../../../lab/apiserver/api.ts';

describe('pods from images', () => {
  it('normalises image references as runtimes do', () => {
    assert.equal(normalizeReference('busybox'), 'docker.io/library/busybox:latest');
    assert.equal(normalizeReference('lab/busybox:1'), 'docker.io/lab/busybox:1');
    assert.equal(normalizeReference('ghcr.io/x/kube-router:v2'), 'ghcr.io/x/kube-router:v2');
    assert.equal(normalizeReference('localhost:5000/kr'), 'localhost:5000/kr:latest');
  });

  it('resolves mount targets through symlinks inside the rootfs, never onto the host', () => {
    const root = mkdtempSync(join(tmpdir(), 'rootfs-'));
    try {
      mkdirSync(join(root, 'run'));
      mkdirSync(join(root, 'var'));
      symlinkSync('/run', join(root, 'var', 'run'));
      symlinkSync('../../etc', join(root, 'run', 'up'));
      assert.equal(resolveInRoot(root, '/var/run/secrets/kubernetes.io/serviceaccount'), '/run/secrets/kubernetes.io/serviceaccount');
      assert.equal(resolveInRoot(root, '/run/up/cni'), '/etc/cni', '.. stops at the root');
      const script = launchScript({ netns: 'n', rootfs: root, scratchDir: '/s', argv: ['x'], env: {}, workingDir: '/', privileged: true,
        mounts: [{ source: '/tok', target: '/var/run/secrets', readOnly: true, isFile: false }], capabilities: { add: [], drop: [] }, logFile: '/l' });
      assert.match(script, /mount --bind '\/tok' '\/s\/merged\/run\/secrets'\nmount -o remount,bind,ro '\/s\/merged\/run\/secrets'/);
      assert.doesNotMatch(script, /setpriv/, 'privileged keeps every capability');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('bounds capabilities to the default set with add/drop applied, keeping SYS_CHROOT', () => {
    const set = boundingSet(['NET_ADMIN', 'CAP_SYS_ADMIN'], ['NET_RAW']);
    assert.match(set, /^-all,/);
    assert.ok(set.includes('+net_admin') && set.includes('+sys_admin') && set.includes('+chown'));
    assert.ok(!set.includes('+net_raw'));
    assert.equal(boundingSet([], ['ALL']), '-all,+sys_chroot');
    assert.equal(boundingSet(['ALL'], []), '+all');
  });

  it('resolves env: image env, service variables, downward API, ConfigMap keys and $(VAR)', () => {
    const api = new LabApi();
    api.create(api.type('', 'configmaps'), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg', namespace: 'kube-system' }, data: { mode: 'all' } });
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'kr-abcde', namespace: 'kube-system', uid: 'u1', labels: { app: 'kr' } }, spec: {} };
    const env = containerEnv({ api, pod, nodeName: 'n1', hostIP: '198.51.100.11', apiEndpoint: { host: '127.0.0.1', port: 6443 } }, {
      env: [
        { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
        { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
        { name: 'APP', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
        { name: 'MODE', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'mode' } } },
        { name: 'WHO', value: '$(POD_NAME_X)/$(NODE_NAME)/$$(NODE_NAME)' },
      ],
    }, ['PATH=/bin', 'FROM_IMAGE=1']);
    assert.ok(env.ok);
    assert.deepEqual({ ...env.value }, { PATH: '/bin', FROM_IMAGE: '1', HOSTNAME: 'n1', KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: '6443',
      KUBERNETES_SERVICE_PORT_HTTPS: '6443', NODE_NAME: 'n1', POD_IP: '198.51.100.11', APP: 'kr', MODE: 'all', WHO: '$(POD_NAME_X)/n1/$(NODE_NAME)' });
    const missing = containerEnv({ api, pod, nodeName: 'n1', hostIP: '', apiEndpoint: { host: '', port: 0 } },
      { env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'nope', key: 'k' } } }] }, []);
    assert.equal(missing.ok, false);
    assert.equal(expandReferences('a$(B)c', { B: 'b' }), 'abc');
  });

  it("maps a node's host paths: per-node CNI and state directories, the real host's otherwise", () => {
    assert.equal(nodeHostPath('/lab/nodes/n1', '/etc/cni/net.d'), '/lab/nodes/n1/cni');
    assert.equal(nodeHostPath('/lab/nodes/n1', '/etc/cni/net.d/10-kuberouter.conflist'), '/lab/nodes/n1/cni/10-kuberouter.conflist');
    assert.equal(nodeHostPath('/lab/nodes/n1', '/opt/cni/bin'), '/lab/nodes/n1/host/opt/cni/bin');
    assert.equal(nodeHostPath('/lab/nodes/n1', '/tmp'), '/tmp');
    assert.equal(nodeHostPath('/lab/nodes/n1', '/no/such/host/path'), '/lab/nodes/n1/host/no/such/host/path');
  });
});
