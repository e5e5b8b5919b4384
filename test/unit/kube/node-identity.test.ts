// Node identity as upstream computes it: name precedence, primary and per-family IPs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Node } from 'kubernetes-types/core/v1.js';
import { bestNodeIP, nodeName, primaryNodeIP } from '../../../src/kube/node-identity.ts';

function node(addresses: Array<[string, string]>, extra: { annotations?: Record<string, string>; podCIDR?: string; podCIDRs?: string[] } = {}): Node {
  return {
    metadata: { name: 'n1', ...(extra.annotations ? { annotations: extra.annotations } : {}) },
    spec: { ...(extra.podCIDR ? { podCIDR: extra.podCIDR } : {}), ...(extra.podCIDRs ? { podCIDRs: extra.podCIDRs } : {}) },
    status: { addresses: addresses.map(([type, address]) => ({ type, address })) },
  };
}

test('node name is --hostname-override, else NODE_NAME, else the OS hostname', () => {
  const hostname = () => 'os-host';
  assert.equal(nodeName({ hostnameOverride: 'flag', env: { NODE_NAME: 'env' }, hostname }), 'flag');
  assert.equal(nodeName({ hostnameOverride: '', env: { NODE_NAME: 'env' }, hostname }), 'env');
  assert.equal(nodeName({ env: {}, hostname }), 'os-host');
});

test('primary IP is the first InternalIP, else the first ExternalIP; none is an error naming the node', () => {
  const both = node([['Hostname', 'n1'], ['ExternalIP', '198.51.100.9'], ['InternalIP', '198.51.100.1'], ['InternalIP', '198.51.100.2']]);
  assert.deepEqual(primaryNodeIP(both), { ok: true, value: '198.51.100.1' });
  assert.deepEqual(primaryNodeIP(node([['ExternalIP', '198.51.100.9'], ['ExternalIP', '198.51.100.8']])), { ok: true, value: '198.51.100.9' });
  const none = primaryNodeIP(node([['Hostname', 'n1']]));
  assert.ok(!none.ok && none.error.includes('n1'));
});

test('best IP per family is the primary IP when it has that family, else the first Internal, else External IP of it', () => {
  const dual = node([['InternalIP', '198.51.100.1'], ['ExternalIP', '2001:db8::9'], ['InternalIP', '2001:db8::1']]);
  assert.equal(bestNodeIP(dual, 4), '198.51.100.1');
  assert.equal(bestNodeIP(dual, 6), '2001:db8::1');
  const v6Primary = node([['InternalIP', '2001:db8::1'], ['ExternalIP', '198.51.100.9']]);
  assert.equal(bestNodeIP(v6Primary, 6), '2001:db8::1');
  assert.equal(bestNodeIP(v6Primary, 4), '198.51.100.9');
  assert.equal(bestNodeIP(node([['InternalIP', '198.51.100.1']]), 6), undefined);
});
