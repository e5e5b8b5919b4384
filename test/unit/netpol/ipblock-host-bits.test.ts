// An ipBlock CIDR with host bits set ("198.19.9.7/16") is accepted as the API server accepts it: the planned set
// holds the network it is in, and the controller reports the normalisation once per policy version.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { NAMESPACES, PODS } from './cases.ts';
import { config, policy } from './fixtures.ts';
import { FakeCluster, recordingExec } from './fake-cluster.ts';
import { IptablesApplier } from '../../../src/controllers/netpol/apply-iptables.ts';
import { NetpolController } from '../../../src/controllers/netpol/controller.ts';
import { normalizePolicy } from '../../../src/controllers/netpol/policy-spec.ts';
import { IptablesSync } from '../../../src/controllers/netpol/sync-backends.ts';

const HOST_BITS = policy('prod', 'hosty', { podSelector: { matchLabels: { app: 'web' } }, ingress: [
  { from: [{ ipBlock: { cidr: '198.19.9.7/16', except: ['198.19.9.1/24'] } }] }] });

test('an ipBlock CIDR with host bits set is used as its network and listed once', () => {
  const n = normalizePolicy(HOST_BITS);
  assert.equal(n.rejection, undefined);
  assert.deepEqual(n.normalizedCidrs, [
    'spec.ingress[0].from[0].ipBlock.cidr: "198.19.9.7/16" has host bits set; used as 198.19.0.0/16',
    'spec.ingress[0].from[0].ipBlock.except[0]: "198.19.9.1/24" has host bits set; used as 198.19.9.0/24',
  ]);
  const peer = n.ingress?.[0]?.peers?.[0];
  assert.ok(peer?.kind === 'ipBlock');
  assert.deepEqual([...(peer.blocks[0]?.network ?? [])], [198, 19, 0, 0]);
  assert.deepEqual(normalizePolicy(policy('prod', 'clean', { podSelector: {}, ingress: [{ from: [{ ipBlock: { cidr: '198.19.0.0/16' } }] }] })).normalizedCidrs, []);
});

test('the controller plans the network and reports the host bits once per policy version, not on every sync', async () => {
  const c = new FakeCluster(config({ defaultDeny: true }));
  for (const n of NAMESPACES) c.put(n, 'Namespace');
  for (const p of PODS) c.put(p, 'Pod');
  c.put(HOST_BITS, 'NetworkPolicy');
  const reports: string[][] = [];
  const exec = recordingExec();
  const controller = new NetpolController({
    source: c, backend: new IptablesSync(new IptablesApplier(exec, 'nft')), syncPeriodMs: 60_000,
    reject: () => assert.fail('the policy is valid'),
    normalized: (_p, cidrs) => reports.push(cidrs),
  });
  await controller.fullSync();
  const restore = exec.calls.filter((x) => x.cmd === 'ipset').map((x) => x.input).join('\n');
  assert.match(restore, /^add KUBE-SRC-\S+ 198\.19\.0\.0\/16$/m, 'the set holds the network');
  assert.match(restore, /^add KUBE-SRC-\S+ 198\.19\.9\.0\/24 nomatch$/m, 'the except is its network too');
  assert.equal(reports.length, 1);
  await controller.fullSync();
  const web = c.pods.get('prod/web') as Pod;
  await controller.handleChanges([c.put({ ...web, metadata: { ...web.metadata, labels: { ...web.metadata?.labels, extra: 'x' } } }, 'Pod')]);
  await controller.handleChanges([c.put(HOST_BITS, 'NetworkPolicy')]);
  assert.equal(reports.length, 1, 'not reported again while the policy is unchanged');
  await controller.handleChanges([c.put({ ...HOST_BITS, metadata: { ...HOST_BITS.metadata, generation: 2 } }, 'NetworkPolicy')]);
  assert.equal(reports.length, 2, 'reported again for a new version');
});
