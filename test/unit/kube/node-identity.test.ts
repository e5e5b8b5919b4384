// Node identity as upstream computes it: name precedence, primary and per-family IPs, and pod CIDRs
// from kube-router annotations over the Node spec.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Node } from 'kubernetes-types/core/v1.js';
import { bestNodeIP, cidrFamily, nodeName, nodePodCIDR, nodePodCIDRs, primaryNodeIP } from '../../../src/kube/node-identity.ts';

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

test('kube-router.io/pod-cidr overrides spec.podCIDR and must be a CIDR', () => {
  assert.deepEqual(nodePodCIDR(node([], { podCIDR: '10.1.0.0/24' })), { ok: true, value: '10.1.0.0/24' });
  assert.deepEqual(nodePodCIDR(node([], { podCIDR: '10.1.0.0/24', annotations: { 'kube-router.io/pod-cidr': '10.9.0.0/24' } })), { ok: true, value: '10.9.0.0/24' });
  const bad = nodePodCIDR(node([], { podCIDR: '10.1.0.0/24', annotations: { 'kube-router.io/pod-cidr': '10.9.0.0' } }));
  assert.ok(!bad.ok && bad.error.includes('kube-router.io/pod-cidr'));
  assert.ok(!nodePodCIDR(node([])).ok);
});

test('kube-router.io/pod-cidrs overrides spec.podCIDRs, split per family; a bad entry is an error', () => {
  const spec = node([], { podCIDRs: ['10.1.0.0/24', 'fd00:1::/64'] });
  assert.deepEqual(nodePodCIDRs(spec), { ok: true, value: { ipv4: ['10.1.0.0/24'], ipv6: ['fd00:1::/64'] } });
  const annotated = node([], { podCIDRs: ['10.1.0.0/24'], annotations: { 'kube-router.io/pod-cidrs': '10.8.0.0/24,fd00:8::/64,10.9.0.0/24' } });
  assert.deepEqual(nodePodCIDRs(annotated), { ok: true, value: { ipv4: ['10.8.0.0/24', '10.9.0.0/24'], ipv6: ['fd00:8::/64'] } });
  const bad = nodePodCIDRs(node([], { annotations: { 'kube-router.io/pod-cidrs': '10.8.0.0/24,nope' } }));
  assert.ok(!bad.ok && bad.error.includes('"nope"'));
  const empty = nodePodCIDRs(node([]));
  assert.ok(!empty.ok && empty.error.includes('spec.podCIDRs'));
});

test('cidrFamily accepts only address/prefix within the family length', () => {
  assert.equal(cidrFamily('10.0.0.0/8'), 4);
  assert.equal(cidrFamily('fd00::/128'), 6);
  assert.equal(cidrFamily('10.0.0.0/33'), 0);
  assert.equal(cidrFamily('10.0.0.0'), 0);
  assert.equal(cidrFamily('fd00::/'), 0);
});
