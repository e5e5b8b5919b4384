// Wiring of the netpol controller: the planner view built from the shared cache (pods, namespaces, policies,
// this node's IPs and pod CIDRs), the config from the flags, and the backend chosen from the iptables mode.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Options } from '../../../src/config/options.ts';
import type { ControllerContext } from '../../../src/controllers/context.ts';
import { cacheSource, chooseBackend, netpolConfig } from '../../../src/controllers/netpol/index.ts';
import { IptablesSync } from '../../../src/controllers/netpol/sync-backends.ts';
import { NftSync } from '../../../src/controllers/netpol/sync-nft.ts';
import { ClusterCache } from '../../../src/kube/cluster-cache.ts';
import type { KubeClient } from '../../../src/kube/client.ts';
import { ok } from '../../../src/result.ts';
import { pod, policy, ns } from './fixtures.ts';
import { recordingExec } from './fake-cluster.ts';

const options = {
  enableIpv4: true, enableIpv6: false, serviceClusterIpRanges: ['198.18.240.0/24'], serviceExternalIpRanges: ['198.19.1.0/24'],
  loadBalancerIpRanges: [], serviceNodePortRange: { first: 30000, last: 32000 }, netpolDefaultDeny: true,
} as unknown as Options;

test('config follows the flags: families, service ranges, NodePort range, default-deny', () => {
  assert.deepEqual(netpolConfig(options), {
    families: ['ipv4'], serviceClusterIPRanges: ['198.18.240.0/24'], nodePortRange: { from: 30000, to: 32000 },
    serviceExternalIPRanges: ['198.19.1.0/24'], loadBalancerIPRanges: [], defaultDeny: true,
  });
});

test('the view comes from the cache stores and the Node object: node IPs and annotated pod CIDRs', () => {
  const cache = new ClusterCache({} as KubeClient, ['pods', 'namespaces', 'networkpolicies']);
  cache.store('pods').upsert(pod('shop', 'a', { ip: '198.18.1.5' }));
  cache.store('namespaces').upsert(ns('shop'));
  cache.store('networkpolicies').upsert(policy('shop', 'p', { podSelector: {} }));
  const node = { metadata: { name: 'node-a', annotations: { 'kube-router.io/pod-cidrs': '198.18.1.0/24,2001:db8:1::/64' } },
    status: { addresses: [{ type: 'InternalIP', address: '198.51.100.1' }, { type: 'Hostname', address: 'node-a' }] } };
  const ctx = { options, node: { name: 'node-a', primaryIp: '198.51.100.1' }, currentNode: () => node, cache } as unknown as ControllerContext;
  const source = cacheSource(ctx, netpolConfig(options));
  const view = source.view();
  assert.ok(view.ok);
  assert.deepEqual([view.value.pods.length, view.value.namespaces.length, view.value.policies.length], [1, 1, 1]);
  assert.deepEqual(view.value.nodeIPs, ['198.51.100.1']);
  assert.deepEqual(view.value.podCIDRs, ['198.18.1.0/24', '2001:db8:1::/64']);
  assert.equal(source.pod('shop/a')?.status?.podIP, '198.18.1.5');
  assert.equal(source.policy('shop/p')?.metadata?.name, 'p');
});

test('the iptables backend uses the userspace `iptables -V` reports, and the nft backend cleans iptables leftovers', async () => {
  const exec = recordingExec(({ cmd }) => ok(cmd === 'iptables' ? 'iptables v1.8.9 (legacy)\n' : ''));
  const ipt = await chooseBackend(exec, false);
  assert.ok(ipt.ok);
  assert.ok(ipt.value.backend instanceof IptablesSync);
  assert.equal((ipt.value.backend as IptablesSync).applier.mode, 'legacy');
  const nft = await chooseBackend(exec, true);
  assert.ok(nft.ok);
  assert.ok(nft.value.backend instanceof NftSync);
  exec.calls.length = 0;
  assert.ok((await nft.value.removeOtherBackend()).ok);
  // It read our iptables state with the legacy tools (nothing of ours found, so nothing written).
  assert.ok(exec.calls.some((c) => c.cmd === 'iptables-legacy-save'));
  assert.ok(!exec.calls.some((c) => c.cmd.endsWith('-restore')));
});
