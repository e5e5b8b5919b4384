// Each deploy/ ClusterRole grants exactly the API access the code uses for the controllers that variant runs:
// the needed set comes from src/kube/api-access.ts via the same resourcesFor() the daemon starts its
// reflectors with, so an API call added without its RBAC rule (or a rule left behind) fails here.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PolicyRule } from 'kubernetes-types/rbac/v1.js';
import { apiPermissionsFor } from '../../../src/cli/controllers.ts';
import { parseCommandLine } from '../../../src/cli/command-line.ts';
import { loadVariant, manifestFiles } from './manifests.ts';

function key(apiGroup: string, resource: string, verb: string): string {
  return `${apiGroup === '' ? 'core' : apiGroup}/${resource}:${verb}`;
}

/** Every (apiGroup, resource, verb) a ClusterRole's rules grant; wildcards and nonResourceURLs are refused. */
function granted(rules: readonly PolicyRule[]): string[] {
  const out = new Set<string>();
  for (const rule of rules) {
    assert.equal(rule.nonResourceURLs, undefined, 'kube-router needs no nonResourceURLs');
    assert.equal(rule.resourceNames, undefined, 'rules are not narrowed by resourceNames (the test would not see it)');
    for (const group of rule.apiGroups ?? []) {
      for (const resource of rule.resources ?? []) {
        for (const verb of rule.verbs) {
          assert.ok(![group, resource, verb].includes('*'), `wildcard in rule ${JSON.stringify(rule)}`);
          out.add(key(group, resource, verb));
        }
      }
    }
  }
  return [...out].sort();
}

function needed(options: Parameters<typeof apiPermissionsFor>[0]): string[] {
  return [...new Set(apiPermissionsFor(options).map((p) => key(p.apiGroup, p.resource, p.verb)))].sort();
}

describe('deploy/ RBAC', () => {
  const files = manifestFiles();

  it('ships the variants upstream users pick from', () => {
    assert.ok(files.length >= 5, `deploy/ has ${files.length} manifests`);
  });

  for (const file of files) {
    it(`${file}: the ClusterRole grants exactly what the enabled controllers use`, () => {
      const variant = loadVariant(file);
      assert.deepEqual(granted(variant.clusterRole.rules ?? []), needed(variant.options));
    });

    it(`${file}: the binding gives that role to the DaemonSet's service account`, () => {
      const { daemonSet, serviceAccount, clusterRole, binding } = loadVariant(file);
      const podSpec = daemonSet.spec?.template.spec;
      assert.equal(podSpec?.serviceAccountName, serviceAccount.metadata?.name);
      assert.equal(serviceAccount.metadata?.namespace, daemonSet.metadata?.namespace);
      assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterRole.metadata?.name });
      assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: serviceAccount.metadata?.name, namespace: serviceAccount.metadata?.namespace }]);
    });
  }

  it('the needed set follows the controllers: the firewall alone needs no Services, routing alone no policies', () => {
    const run = (args: string[]) => {
      const parsed = parseCommandLine(args, {});
      assert.equal(parsed.kind, 'run');
      return needed((parsed as Extract<typeof parsed, { kind: 'run' }>).options);
    };
    const firewall = run(['--run-router=false', '--run-service-proxy=false']);
    assert.ok(firewall.includes('networking.k8s.io/networkpolicies:watch'));
    assert.ok(!firewall.includes('core/services:list'));
    const routing = run(['--run-firewall=false', '--run-service-proxy=false']);
    assert.ok(routing.includes('discovery.k8s.io/endpointslices:watch'));
    assert.ok(!routing.includes('networking.k8s.io/networkpolicies:list') && !routing.includes('core/pods:list'));
    for (const set of [firewall, routing]) assert.ok(set.includes('core/nodes:watch') && set.includes('core/events:create') && set.includes('core/events:patch'));
  });
});
