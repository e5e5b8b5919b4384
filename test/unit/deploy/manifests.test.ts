// Every deploy/*.yaml parses, its kube-router args pass the real flag parser, and its pod has what the code
// needs where it runs: hostNetwork, /healthz probes on the health port, the downward-API identity variables,
// the xtables lock, module and CNI mounts, the cni-install step, and privileged mode only where sysctls are written.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Container, PodSpec, Volume } from 'kubernetes-types/core/v1.js';
import { loadVariant, manifestFiles, parseManifest, type Variant } from './manifests.ts';

function hostPathOf(spec: PodSpec, container: Container, mountPath: string): string | undefined {
  const mount = container.volumeMounts?.find((m) => m.mountPath === mountPath);
  const volume: Volume | undefined = spec.volumes?.find((v) => v.name === mount?.name);
  return volume?.hostPath?.path;
}

function podSpec(v: Variant): PodSpec {
  const spec = v.daemonSet.spec?.template.spec;
  assert.ok(spec, `${v.file}: DaemonSet without a pod spec`);
  return spec;
}

/** Routing and the service proxy write sysctls and run modprobe (apply-host.ts, proxy/index.ts); the firewall does neither. */
function writesSysctls(v: Variant): boolean {
  return v.options.runRouter || v.options.runServiceProxy;
}

describe('deploy/ manifests', () => {
  for (const file of manifestFiles()) {
    describe(file, () => {
      it('parses, and the kube-router args are accepted by the flag parser', () => {
        assert.ok(parseManifest(file).length >= 4);
        loadVariant(file);
      });

      it('runs on the host network of every node, as node-critical', () => {
        const v = loadVariant(file);
        const spec = podSpec(v);
        assert.equal(spec.hostNetwork, true);
        assert.equal(spec.priorityClassName, 'system-node-critical');
        for (const effect of ['NoSchedule', 'NoExecute']) {
          assert.ok(spec.tolerations?.some((t) => t.operator === 'Exists' && t.effect === effect && t.key === undefined), `tolerates every ${effect} taint`);
        }
      });

      it('probes /healthz on the health port the args configure', () => {
        const v = loadVariant(file);
        assert.ok(v.options.healthPort > 0, 'the health server is on');
        for (const probe of [v.container.livenessProbe, v.container.startupProbe]) {
          assert.equal(probe?.httpGet?.path, '/healthz');
          assert.equal(probe?.httpGet?.port, v.options.healthPort);
        }
      });

      it('passes NODE_NAME, POD_NAME and POD_NAMESPACE from the downward API', () => {
        const v = loadVariant(file);
        const fieldOf = (name: string) => v.container.env?.find((e) => e.name === name)?.valueFrom?.fieldRef?.fieldPath;
        assert.equal(fieldOf('NODE_NAME'), 'spec.nodeName');
        assert.equal(fieldOf('POD_NAME'), 'metadata.name');
        assert.equal(fieldOf('POD_NAMESPACE'), 'metadata.namespace');
      });

      it('shares the host xtables lock', () => {
        const v = loadVariant(file);
        assert.equal(hostPathOf(podSpec(v), v.container, '/run/xtables.lock'), '/run/xtables.lock');
      });

      it('is privileged exactly when it writes sysctls and loads modules, then with the host modules', () => {
        const v = loadVariant(file);
        const security = v.container.securityContext;
        if (writesSysctls(v)) {
          assert.equal(security?.privileged, true);
          assert.equal(hostPathOf(podSpec(v), v.container, '/lib/modules'), '/lib/modules');
        } else {
          assert.notEqual(security?.privileged, true);
          assert.deepEqual(security?.capabilities?.drop, ['ALL']);
          assert.deepEqual([...(security?.capabilities?.add ?? [])].sort(), ['NET_ADMIN', 'NET_RAW']);
          assert.equal(security?.allowPrivilegeEscalation, false);
        }
      });

      it('with the CNI part on: the host CNI config dir, its file there, and cni-install filling /opt/cni/bin', () => {
        const v = loadVariant(file);
        const spec = podSpec(v);
        const cniOn = v.options.runRouter && v.options.enableCni;
        const confDir = hostPathOf(spec, v.container, '/etc/cni/net.d');
        const install = spec.initContainers?.find((c) => c.command?.[0] === '/usr/local/bin/cni-install');
        if (!cniOn) {
          assert.equal(confDir, undefined, 'no CNI config dir without the CNI part');
          assert.equal(install, undefined, 'no cni-install without the CNI part');
          return;
        }
        assert.equal(confDir, '/etc/cni/net.d');
        assert.ok(v.options.environment.cniConfFile.startsWith('/etc/cni/net.d/'), v.options.environment.cniConfFile);
        assert.ok(install, 'an init container runs /usr/local/bin/cni-install');
        const target = install.command?.[1];
        assert.ok(target, 'cni-install is given its target directory');
        assert.equal(hostPathOf(spec, install, target), '/opt/cni/bin');
        assert.equal(install.image, v.container.image);
      });
    });
  }
});
