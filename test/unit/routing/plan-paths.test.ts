// Path planning: pod CIDRs with the best node IP as next hop, and per-service VIP
// selection: flags and annotations, traffic policy Local, LB ipMode/skiplbips, strict validation, shared VIPs,
// and a broken or endpoint-less service affecting only itself.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isIgnoredSlice, planPodCidrPaths, planServiceVips, planVipPaths, unionVips } from '../../../src/controllers/routing/plan-paths.ts';
import type { LocalBgp } from '../../../src/controllers/routing/model.ts';
import { configFromFlags, node, service, slice } from './fixtures.ts';

const LOCAL: LocalBgp = { asn: 64512, routerId: '198.51.100.11', listenAddresses: [], primaryIp: '198.51.100.11', ipv4: '198.51.100.11', ipv6: '2001:db8::11' };
const NODE_IPS = new Set(['198.51.100.11', '198.51.100.12']);
const ALL = configFromFlags('--advertise-cluster-ip=true', '--advertise-external-ip=true', '--advertise-loadbalancer-ip=true',
  '--service-external-ip-range=203.0.113.0/24', '--loadbalancer-ip-range=198.18.200.0/24');

function vips(svc: ReturnType<typeof service>, slices = [slice(svc.metadata!.name!, [{ ip: '198.18.1.5', nodeName: 'n1' }])], opts = ALL) {
  return planServiceVips(svc, slices, 'n1', NODE_IPS, opts);
}

describe('pod CIDR paths', () => {
  it('next hop is the best node IP of the prefix family; a family without a node IP is left out', () => {
    const paths = planPodCidrPaths(['198.18.1.0/24', '2001:db8:1::/64'], LOCAL);
    assert.deepEqual(paths.map((p) => [p.prefix, p.nextHop, p.family]), [['198.18.1.0/24', '198.51.100.11', 'ipv4'], ['2001:db8:1::/64', '2001:db8::11', 'ipv6']]);
    const { ipv6: _, ...v4only } = LOCAL;
    assert.deepEqual(planPodCidrPaths(['2001:db8:1::/64'], v4only), []);
    assert.deepEqual(planVipPaths(['10.96.0.10', '2001:db8:96::a'], LOCAL).map((p) => p.prefix), ['10.96.0.10/32', '2001:db8:96::a/128']);
  });
});

describe('service VIP selection', () => {
  const lb = service('lb', { type: 'LoadBalancer', clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10'], externalIPs: ['203.0.113.7'] }, {},
    { loadBalancer: { ingress: [{ ip: '198.18.200.1' }, { ip: '198.18.200.2', ipMode: 'Proxy' }] } });

  it('advertises cluster, external and LB IPs when the flags say so; ipMode Proxy is ignored', () => {
    assert.deepEqual(vips(lb).vips, ['10.96.0.10', '198.18.200.1', '203.0.113.7']);
    assert.deepEqual(vips(lb, undefined, configFromFlags()).vips, [], 'nothing is advertised by default');
  });

  it('per-service annotations override the flags (both ways); a bad value falls back to the flag and is reported', () => {
    const off = service('a', { ...lb.spec, }, { 'kube-router.io/service.advertise.clusterip': 'false', 'kube-router.io/service.advertise.loadbalancerip': 'false' }, lb.status);
    assert.deepEqual(vips(off).vips, ['203.0.113.7']);
    const on = service('b', { clusterIP: '10.96.0.11' }, { 'kube-router.io/service.advertise.clusterip': 'true' });
    assert.deepEqual(vips(on, [], configFromFlags()).vips, ['10.96.0.11']);
    const bad = service('c', { clusterIP: '10.96.0.12' }, { 'kube-router.io/service.advertise.clusterip': 'yes please' });
    const planned = vips(bad, [], ALL);
    assert.deepEqual(planned.vips, ['10.96.0.12']);
    assert.deepEqual(planned.problems.map((p) => p.reason), ['BadAdvertiseAnnotation']);
  });

  it('skiplbips drops the LB IPs; headless and ExternalName services have nothing', () => {
    assert.deepEqual(vips(service('s', lb.spec, { 'kube-router.io/service.skiplbips': '' }, lb.status)).vips, ['10.96.0.10', '203.0.113.7']);
    assert.deepEqual(vips(service('h', { clusterIP: 'None', clusterIPs: ['None'] })).vips, []);
    assert.deepEqual(vips(service('e', { type: 'ExternalName', externalName: 'example.org' })).vips, []);
  });

  it('externalTrafficPolicy Local (or service.local) advertises external/LB IPs only with a local endpoint', () => {
    const local = service('l', { ...lb.spec, externalTrafficPolicy: 'Local' }, {}, lb.status);
    assert.deepEqual(vips(local).vips, ['10.96.0.10', '198.18.200.1', '203.0.113.7']);
    assert.deepEqual(vips(local, [slice('l', [{ ip: '198.18.2.5', nodeName: 'n2' }])]).vips, ['10.96.0.10']);
    const annotated = service('m', lb.spec, { 'kube-router.io/service.local': 'true' }, lb.status);
    assert.deepEqual(vips(annotated, [slice('m', [{ ip: '198.18.2.5', nodeName: 'n2' }])]).vips, ['10.96.0.10']);
    assert.deepEqual(vips(local, [slice('l', [{ ip: '198.18.1.5', nodeName: 'n1', ready: false }])]).vips, ['10.96.0.10'], 'a not-ready endpoint is not local');
    assert.deepEqual(vips(local, [slice('l', [{ ip: '198.51.100.11' }])]).vips.length, 3, 'an endpoint on a node IP (host network) is local');
  });

  it('the headless label drops a service; headless-labelled and leader-election slices never count as local endpoints', () => {
    const headless = service('hl', lb.spec, {}, lb.status);
    headless.metadata!.labels = { 'service.kubernetes.io/headless': '' };
    assert.deepEqual(vips(headless).vips, []);
    const local = service('l', { ...lb.spec, externalTrafficPolicy: 'Local' }, {}, lb.status);
    const leader = slice('l', [{ ip: '198.18.1.5', nodeName: 'n1' }]);
    leader.metadata!.annotations = { 'control-plane.alpha.kubernetes.io/leader': '{"holderIdentity":"n1"}' };
    assert.deepEqual(vips(local, [leader]).vips, ['10.96.0.10']);
    const headlessSlice = slice('l', [{ ip: '198.18.1.5', nodeName: 'n1' }]);
    headlessSlice.metadata!.labels = { ...headlessSlice.metadata!.labels, 'service.kubernetes.io/headless': '' };
    assert.deepEqual(vips(local, [headlessSlice]).vips, ['10.96.0.10']);
    assert.equal(isIgnoredSlice(slice('l', [])), false);
  });

  it('internalTrafficPolicy Local advertises the cluster IP only with a local endpoint; no slice at all means none', () => {
    const itp = service('i', { clusterIP: '10.96.0.20', internalTrafficPolicy: 'Local' });
    assert.deepEqual(vips(itp).vips, ['10.96.0.20']);
    assert.deepEqual(vips(itp, []).vips, []);
  });

  it('strict validation: external IPs outside the range or inside a cluster-IP range are not advertised and reported', () => {
    const svc = service('x', { clusterIP: '10.96.0.30', externalIPs: ['203.0.113.9', '192.0.2.1', '10.96.5.5'] });
    const planned = vips(svc, [], configFromFlags('--advertise-external-ip=true', '--service-external-ip-range=203.0.113.0/24', '--service-external-ip-range=10.96.0.0/12'));
    assert.deepEqual(planned.vips, ['203.0.113.9']);
    assert.equal(planned.problems.length, 2);
    const lax = vips(svc, [], configFromFlags('--advertise-external-ip=true', '--strict-external-ip-validation=false'));
    assert.deepEqual(lax.vips, ['10.96.5.5', '192.0.2.1', '203.0.113.9']);
  });

  it('a shared VIP stays advertised while any service still wants it; a broken service leaves the others alone', () => {
    const a = service('a', { clusterIP: '10.96.0.40', externalIPs: ['203.0.113.50'] });
    const b = service('b', { clusterIP: '10.96.0.41', externalIPs: ['203.0.113.50'] });
    const broken = service('z', { clusterIP: '10.96.0.42', externalIPs: ['not-an-ip'] }, { 'kube-router.io/service.advertise.externalip': '??' });
    const per = new Map<string, string[]>();
    for (const svc of [a, b, broken]) per.set(svc.metadata!.name!, vips(svc, []).vips);
    assert.deepEqual([...unionVips(per)].sort(), ['10.96.0.40', '10.96.0.41', '10.96.0.42', '203.0.113.50']);
    per.delete('a');
    assert.ok(unionVips(per).has('203.0.113.50'), 'still wanted by b');
    per.delete('b');
    assert.equal(unionVips(per).has('203.0.113.50'), false);
  });
});
