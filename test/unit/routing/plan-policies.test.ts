// Policy planning: upstream's set names and statements, external-peer actions from node annotations, families
// kept apart, empty sets left out with their statements, and route-reflector servers getting no policy.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planPolicies, type PolicyInput } from '../../../src/controllers/routing/plan-policies.ts';
import { nodeCommunities, nodeCustomImportRejects, nodePathPrepend } from '../../../src/controllers/routing/annotations.ts';
import { node } from './fixtures.ts';

const BASE: PolicyInput = {
  families: ['ipv4'], podCidrs: ['198.18.1.0/24'], vips: ['10.96.0.10', '203.0.113.7'], ibgpPeers: ['198.51.100.12'], externalPeers: ['198.51.100.1'],
  customImportRejects: ['192.0.2.0/24'], communities: [], advertisePodCidr: true, overrideNextHop: false, routeReflectorServer: false,
};

describe('planPolicies', () => {
  it('uses upstream set names and exports pod CIDRs to iBGP, VIPs and pod CIDRs to external peers', () => {
    const plan = planPolicies(BASE);
    assert.deepEqual(plan.sets.map((s) => s.name).sort(),
      ['allpeerset', 'customimportrejectdefinedset', 'defaultroutedefinedset', 'externalpeerset', 'iBGPpeerset', 'podcidrdefinedset', 'servicevipsdefinedset']);
    const byName = new Map(plan.sets.map((s) => [s.name, s]));
    assert.deepEqual(byName.get('servicevipsdefinedset'), { kind: 'prefix', name: 'servicevipsdefinedset', prefixes: [{ prefix: '10.96.0.10/32' }, { prefix: '203.0.113.7/32' }] });
    assert.deepEqual(byName.get('customimportrejectdefinedset'), { kind: 'prefix', name: 'customimportrejectdefinedset', prefixes: [{ prefix: '192.0.2.0/24', maskLengthMin: 24, maskLengthMax: 32 }] });
    assert.deepEqual(byName.get('allpeerset'), { kind: 'neighbor', name: 'allpeerset', neighbors: ['198.51.100.1', '198.51.100.12'] });
    assert.equal(plan.exportPolicy?.name, 'kube_router_export');
    assert.deepEqual(plan.exportPolicy?.statements.map((s) => [s.conditions.prefixSet?.name, s.conditions.neighborSet?.name, s.actions.route]), [
      ['podcidrdefinedset', 'iBGPpeerset', 'accept'], ['servicevipsdefinedset', 'externalpeerset', 'accept'], ['podcidrdefinedset', 'externalpeerset', 'accept'],
    ]);
    assert.deepEqual(plan.importPolicy?.statements.map((s) => [s.conditions.prefixSet?.name, s.actions.route]), [
      ['servicevipsdefinedset', 'reject'], ['defaultroutedefinedset', 'reject'], ['customimportrejectdefinedset', 'reject'],
    ]);
  });

  it('--advertise-pod-cidr=false keeps pod CIDRs away from external peers', () => {
    const plan = planPolicies({ ...BASE, advertisePodCidr: false });
    assert.equal(plan.exportPolicy?.statements.some((s) => s.conditions.prefixSet?.name === 'podcidrdefinedset' && s.conditions.neighborSet?.name === 'externalpeerset'), false);
  });

  it('external statements carry prepend, communities and next-hop self; iBGP ones never do', () => {
    const plan = planPolicies({ ...BASE, communities: ['65000:100'], pathPrepend: { asn: 65000, repeat: 2 }, overrideNextHop: true });
    for (const s of plan.exportPolicy!.statements) {
      if (s.conditions.neighborSet?.name === 'externalpeerset') {
        assert.deepEqual(s.actions, { route: 'accept', asPathPrepend: { asn: 65000, repeat: 2 }, addCommunities: ['65000:100'], nextHopSelf: true });
      } else assert.deepEqual(s.actions, { route: 'accept' });
    }
  });

  it('IPv6 prefixes go to the v6 sets, whose peer sets hold every peer (an IPv4 session carries IPv6 paths); empty sets are left out', () => {
    const plan = planPolicies({ ...BASE, families: ['ipv4', 'ipv6'], podCidrs: ['2001:db8:1::/64'], vips: [], externalPeers: [], ibgpPeers: ['198.51.100.12', '2001:db8::12'], customImportRejects: [] });
    assert.deepEqual(plan.sets.map((s) => s.name).sort(),
      ['allpeerset', 'allpeersetv6', 'defaultroutedefinedset', 'defaultroutedefinedsetv6', 'iBGPpeersetv6', 'podcidrdefinedsetv6']);
    assert.deepEqual(plan.sets.find((s) => s.name === 'iBGPpeersetv6'), { kind: 'neighbor', name: 'iBGPpeersetv6', neighbors: ['198.51.100.12', '2001:db8::12'] });
    assert.deepEqual(plan.exportPolicy?.statements.map((s) => s.name), ['podcidrs_to_ibgp_v6']);
    // A family that is not enabled gets nothing, not even its default-route reject.
    assert.equal(planPolicies({ ...BASE, podCidrs: ['2001:db8:1::/64'] }).sets.some((s) => s.name.endsWith('v6')), false);
  });

  it('route-reflector servers install no policy', () => {
    assert.deepEqual(planPolicies({ ...BASE, routeReflectorServer: true }), { sets: [] });
  });
});

describe('policy annotations', () => {
  it('communities accept numbers, a:b and well-known names; garbage is an error', () => {
    assert.deepEqual(nodeCommunities(node('n', [], { 'kube-router.io/node.bgp.communities': '65000:100, 4259840100,no-export' })),
      { ok: true, value: ['65000:100', '65000:100', '65535:65281'] });
    assert.equal(nodeCommunities(node('n', [], { 'kube-router.io/node.bgp.communities': 'x:y' })).ok, false);
  });

  it('path prepend needs both annotations; repeat 0 means no prepend', () => {
    assert.deepEqual(nodePathPrepend(node('n', [], { 'kube-router.io/path-prepend.as': '65000', 'kube-router.io/path-prepend.repeat-n': '3' })),
      { ok: true, value: { asn: 65000, repeat: 3 } });
    assert.equal(nodePathPrepend(node('n', [], { 'kube-router.io/path-prepend.as': '65000' })).ok, false);
    assert.equal(nodePathPrepend(node('n', [], { 'kube-router.io/path-prepend.as': '65000', 'kube-router.io/path-prepend.repeat-n': '256' })).ok, false);
    assert.deepEqual(nodePathPrepend(node('n', [], { 'kube-router.io/path-prepend.as': '65000', 'kube-router.io/path-prepend.repeat-n': '0' })), { ok: true, value: undefined });
  });

  it('custom import rejects must all be CIDRs', () => {
    assert.deepEqual(nodeCustomImportRejects(node('n', [], { 'kube-router.io/node.bgp.customimportreject': '192.0.2.0/24,2001:db8::/32' })),
      { ok: true, value: ['192.0.2.0/24', '2001:db8::/32'] });
    assert.equal(nodeCustomImportRejects(node('n', [], { 'kube-router.io/node.bgp.customimportreject': '192.0.2.0' })).ok, false);
  });
});
