// The whole routes controller as the daemon runs it (ClusterCache watching the lab API server, ControllerRunner,
// wants/notify) on two namespace nodes: pod CIDRs allocated by the API server's pod-CIDR loop get routed, an
// annotation change on a node re-routes at once without a restart, and a deleted Node's route goes away.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Node } from 'kubernetes-types/core/v1.js';
import { haveCommand, isRoot } from '../../helpers/netns.ts';
import { startLabApiServer, type LabApiServer } from '../../../lab/apiserver/server.ts';
import { KubeClient, resourcePath } from '../../../src/kube/client.ts';
import { loadClientConfig } from '../../../src/kube/kubeconfig.ts';
import { ClusterCache } from '../../../src/kube/cluster-cache.ts';
import { ControllerRunner } from '../../../src/controllers/runtime.ts';
import { createRoutingController, type RoutingControllerHandle } from '../../../src/controllers/routing/index.ts';
import { eventually, routingOptions, RoutingLab, type LabNode } from './routing-lab.ts';

const skip = !isRoot || !haveCommand('gobgpd') || !haveCommand('ipset') || !haveCommand('iptables') ? 'needs root, gobgpd, ipset and iptables' : false;

function proto17(node: LabNode): Map<string, string | undefined> {
  return new Map((JSON.parse(node.ns.ip('-j', 'route', 'show', 'proto', '17')) as Array<{ dst: string; gateway?: string }>).map((r) => [r.dst, r.gateway]));
}

describe('routes controller driven by the lab API server', { skip }, () => {
  let lab: RoutingLab;
  let api: LabApiServer;
  let client: KubeClient;
  let cache: ClusterCache;
  const running: Array<{ handle: RoutingControllerHandle; runner: ControllerRunner }> = [];

  const podCidrOf = (name: string): string | undefined => cache.store('nodes').get(name)?.spec?.podCIDR;

  before(async () => {
    lab = new RoutingLab(2);
    api = await startLabApiServer({ stateDir: join(lab.dir, 'api') });
    const config = loadClientConfig({ kubeconfigPath: api.kubeconfigPath });
    assert.ok(config.ok);
    client = new KubeClient(config.value);
    for (const node of lab.nodes) {
      const created = await client.create<Node>(resourcePath('v1', 'nodes'), {
        apiVersion: 'v1', kind: 'Node', metadata: { name: node.name },
        status: { addresses: [{ type: 'InternalIP', address: node.ip }] },
      });
      assert.ok(created.ok, JSON.stringify(created));
    }
    cache = new ClusterCache(client, ['nodes', 'services', 'endpointslices']);
    cache.start();
    await cache.waitForSync(10_000);
    for (const node of lab.nodes) {
      const ctx = lab.context(node, routingOptions(node.name, node.cniConfFile), cache, client);
      const handle = await createRoutingController(ctx, { netns: node.ns.name, socketPath: join(lab.dir, `${node.name}.sock`) });
      const runner = new ControllerRunner(handle.controller, { heartbeatMs: 1000, retryBaseMs: 200, retryMaxMs: 2000 });
      cache.onChange((change) => {
        if (handle.wants(change)) runner.notify({ kind: change.kind, key: change.key });
      });
      runner.start();
      running.push({ handle, runner });
    }
  });

  after(async () => {
    for (const { runner, handle } of running) {
      await runner.stop();
      await handle.shutdown?.();
    }
    await cache?.stop();
    await client?.close();
    await api?.stop();
    lab?.destroy();
  });

  it('routes each node\'s API-allocated pod CIDR to the other node', async () => {
    const [n1, n2] = [lab.node('n1'), lab.node('n2')];
    const [c1, c2] = await eventually('pod CIDRs allocated', 10_000, (): [string, string] | undefined => {
      const [a, b] = [podCidrOf('n1'), podCidrOf('n2')];
      return a && b ? [a, b] : undefined;
    });
    await eventually('n1 routes n2\'s pod CIDR', 40_000, () => proto17(n1).get(c2) === n2.ip);
    await eventually('n2 routes n1\'s pod CIDR', 10_000, () => proto17(n2).get(c1) === n1.ip);
  });

  it('a changed pod-cidr annotation on a node is advertised at once, without a restart', async () => {
    const [n1, n2] = [lab.node('n1'), lab.node('n2')];
    const old = podCidrOf('n2')!;
    const patched = await client.patch(resourcePath('v1', 'nodes', undefined, 'n2'), { metadata: { annotations: { 'kube-router.io/pod-cidr': '198.18.200.0/24' } } });
    assert.ok(patched.ok);
    await eventually('n1 routes the new CIDR and drops the old one', 15_000, () => proto17(n1).get('198.18.200.0/24') === n2.ip && !proto17(n1).has(old));
  });

  it('deleting a Node removes its route from the other nodes', async () => {
    const n1 = lab.node('n1');
    const deleted = await client.delete(resourcePath('v1', 'nodes', undefined, 'n2'));
    assert.ok(deleted.ok);
    await eventually('n1 drops n2\'s route', 15_000, () => !proto17(n1).has('198.18.200.0/24'));
  });
});
