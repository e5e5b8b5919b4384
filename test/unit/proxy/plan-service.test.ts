// The proxy planner: Service × slices × node → virtual services, dummy addresses, hairpin rules, problems.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planService } from '../../../src/controllers/proxy/plan-service.ts';
import type { ServicePlan } from '../../../src/controllers/proxy/model.ts';
import { CONFIG, NODE, service, slice } from './fixtures.ts';

const keys = (p: ServicePlan) => p.virtualServices.map((v) => v.key);
const dests = (p: ServicePlan, key: string) => p.virtualServices.find((v) => v.key === key)?.destinations.map((d) => `${d.address}:${d.port}`);
const reasons = (p: ServicePlan) => p.problems.map((x) => x.reason);

describe('proxy planner: Service types and frontends', () => {
  it('a ClusterIP Service gets one virtual service per port, sending to the slice port, and its VIP on the dummy link', () => {
    const p = planService(service('web', {}), [slice('web', 'IPv4', [{ ip: '198.18.1.2' }, { ip: '198.18.2.2' }])], NODE, CONFIG);
    assert.deepEqual(keys(p), ['TCP/10.96.0.10:80']);
    assert.deepEqual(dests(p, 'TCP/10.96.0.10:80'), ['198.18.1.2:8080', '198.18.2.2:8080']);
    assert.deepEqual(p.dummyAddresses, ['10.96.0.10']);
    assert.equal(p.virtualServices[0]!.scheduler, 'rr');
    assert.deepEqual(p.problems, []);
  });

  it('a dual-stack Service sends each family only to endpoints of that family', () => {
    const svc = service('web', { clusterIPs: ['10.96.0.10', 'fd00:96::10'], ipFamilies: ['IPv4', 'IPv6'] });
    const p = planService(svc, [slice('web', 'IPv4', [{ ip: '198.18.1.2' }]), slice('web', 'IPv6', [{ ip: '2001:db8:1::2' }])], NODE, CONFIG);
    assert.deepEqual(keys(p), ['TCP/10.96.0.10:80', 'TCP/[fd00:96::10]:80']);
    assert.deepEqual(dests(p, 'TCP/[fd00:96::10]:80'), ['2001:db8:1::2:8080']);
    assert.deepEqual(p.dummyAddresses, ['10.96.0.10', 'fd00:96::10']);
  });

  it('a NodePort listens on the best node IP of each family the Service has a ClusterIP in', () => {
    const svc = service('np', { type: 'NodePort', ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 30080 }] });
    const p = planService(svc, [slice('np', 'IPv4', [{ ip: '198.18.1.2' }])], NODE, CONFIG);
    assert.deepEqual(keys(p), ['TCP/10.96.0.10:80', 'TCP/198.51.100.11:30080']);
    assert.deepEqual(p.dummyAddresses, ['10.96.0.10'], 'node IPs are not put on the dummy link');
  });

  it('--nodeport-bindon-all-ip puts the NodePort on every usable local address', () => {
    const svc = service('np', { type: 'NodePort', ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 30080 }] });
    const p = planService(svc, [], NODE, { ...CONFIG, nodePortBindOnAllIp: true });
    assert.deepEqual(keys(p), ['TCP/10.96.0.10:80', 'TCP/198.51.100.111:30080', 'TCP/198.51.100.11:30080']);
  });

  it('externalIPs are programmed only inside --service-external-ip-range and outside the cluster range (strict)', () => {
    const svc = service('ext', { externalIPs: ['198.18.10.5', '198.18.99.5', '10.96.0.99', 'banana', '198.18.10.5'] });
    const p = planService(svc, [], NODE, { ...CONFIG, externalIpRanges: ['198.18.10.0/24', '10.96.0.0/16'] });
    assert.deepEqual(keys(p), ['TCP/10.96.0.10:80', 'TCP/198.18.10.5:80']);
    assert.deepEqual(reasons(p), ['InvalidExternalIP', 'InvalidExternalIP', 'InvalidExternalIP']);
    assert.deepEqual(p.dummyAddresses, ['10.96.0.10', '198.18.10.5']);
  });

  it('with no external range every externalIP is refused in strict mode, and accepted when validation is off', () => {
    const svc = service('ext', { externalIPs: ['203.0.113.7'] });
    assert.deepEqual(keys(planService(svc, [], NODE, { ...CONFIG, externalIpRanges: [] })), ['TCP/10.96.0.10:80']);
    assert.deepEqual(keys(planService(svc, [], NODE, { ...CONFIG, externalIpRanges: [], strictExternalIpValidation: false })), ['TCP/10.96.0.10:80', 'TCP/203.0.113.7:80']);
  });

  it('load-balancer ingress IPs are programmed unless ipMode is Proxy or the Service says skiplbips', () => {
    const svc = service('lb', { type: 'LoadBalancer', ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 30081 }] },
      { ingress: [{ ip: '198.18.20.1' }, { ip: '198.18.20.2', ipMode: 'Proxy' }] });
    assert.deepEqual(keys(planService(svc, [], NODE, CONFIG)), ['TCP/10.96.0.10:80', 'TCP/198.18.20.1:80', 'TCP/198.51.100.11:30081']);
    const skipped = service('lb', svc.spec!, { annotations: { 'kube-router.io/service.skiplbips': '' }, ingress: [{ ip: '198.18.20.1' }] });
    assert.deepEqual(keys(planService(skipped, [], NODE, CONFIG)), ['TCP/10.96.0.10:80', 'TCP/198.51.100.11:30081']);
  });

  it('ExternalName, headless, clusterIP None and another proxy\'s Services are ignored', () => {
    for (const svc of [
      service('a', { type: 'ExternalName', externalName: 'example.org' }),
      service('b', {}, { labels: { 'service.kubernetes.io/headless': '' } }),
      service('c', { clusterIP: 'None', clusterIPs: ['None'] }),
      service('d', {}, { labels: { 'service.kubernetes.io/service-proxy-name': 'other' } }),
    ]) assert.deepEqual(planService(svc, [], NODE, CONFIG).virtualServices, [], svc.metadata!.name);
    const ours = service('e', {}, { labels: { 'service.kubernetes.io/service-proxy-name': 'kube-router' } });
    assert.equal(planService(ours, [], NODE, CONFIG).virtualServices.length, 1);
  });

  it('UDP and SCTP ports are proxied; ports match slice ports by name and protocol', () => {
    const svc = service('dns', { ports: [{ name: 'dns', protocol: 'UDP', port: 53 }, { name: 'dns-tcp', protocol: 'TCP', port: 53 }, { name: 'sig', protocol: 'SCTP', port: 3868 }] });
    const s = slice('dns', 'IPv4', [{ ip: '198.18.1.2' }], [{ name: 'dns', port: 5353, protocol: 'UDP' }, { name: 'dns-tcp', port: 5354, protocol: 'TCP' }, { name: 'sig', port: 3868, protocol: 'SCTP' }]);
    const p = planService(svc, [s], NODE, CONFIG);
    assert.deepEqual(keys(p), ['SCTP/10.96.0.10:3868', 'TCP/10.96.0.10:53', 'UDP/10.96.0.10:53']);
    assert.deepEqual(dests(p, 'UDP/10.96.0.10:53'), ['198.18.1.2:5353']);
    assert.deepEqual(dests(p, 'TCP/10.96.0.10:53'), ['198.18.1.2:5354']);
  });
});

describe('proxy planner: annotations and affinity', () => {
  it('the scheduler annotation picks rr/lc/dh/sh/mh; an unknown one is reported and rr is used', () => {
    const sh = planService(service('a', {}, { annotations: { 'kube-router.io/service.scheduler': 'sh' } }), [], NODE, CONFIG);
    assert.equal(sh.virtualServices[0]!.scheduler, 'sh');
    const bad = planService(service('a', {}, { annotations: { 'kube-router.io/service.scheduler': 'wrr' } }), [], NODE, CONFIG);
    assert.equal(bad.virtualServices[0]!.scheduler, 'rr');
    assert.deepEqual(reasons(bad), ['InvalidScheduler']);
  });

  it('schedflags apply only with mh; unknown flags are reported and dropped', () => {
    const mh = planService(service('a', {}, { annotations: { 'kube-router.io/service.scheduler': 'mh', 'kube-router.io/service.schedflags': 'flag-2,flag-1,bogus' } }), [], NODE, CONFIG);
    assert.deepEqual(mh.virtualServices[0]!.schedulerFlags, ['flag-1', 'flag-2']);
    assert.deepEqual(reasons(mh), ['InvalidSchedulerFlags']);
    const rr = planService(service('a', {}, { annotations: { 'kube-router.io/service.schedflags': 'flag-1' } }), [], NODE, CONFIG);
    assert.deepEqual(rr.virtualServices[0]!.schedulerFlags, []);
  });

  it('session affinity ClientIP becomes persistence with the Service timeout (default 3 h)', () => {
    const p = planService(service('a', { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 30 } } }), [], NODE, CONFIG);
    assert.equal(p.virtualServices[0]!.persistenceSeconds, 30);
    assert.equal(planService(service('a', { sessionAffinity: 'ClientIP' }), [], NODE, CONFIG).virtualServices[0]!.persistenceSeconds, 10_800);
    assert.equal(planService(service('a', {}), [], NODE, CONFIG).virtualServices[0]!.persistenceSeconds, undefined);
  });
});

describe('proxy planner: traffic policies and endpoint readiness', () => {
  const endpoints = [{ ip: '198.18.1.2', node: 'n1' }, { ip: '198.18.2.2', node: 'n2' }];
  const np = (extra: object = {}, annotations: Record<string, string> = {}) =>
    service('np', { type: 'NodePort', ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 30080 }], ...extra }, { annotations });

  it('externalTrafficPolicy Local narrows NodePort/external frontends to local endpoints; ClusterIP keeps all', () => {
    const p = planService(np({ externalTrafficPolicy: 'Local' }), [slice('np', 'IPv4', endpoints)], NODE, CONFIG);
    assert.deepEqual(dests(p, 'TCP/198.51.100.11:30080'), ['198.18.1.2:8080']);
    assert.deepEqual(dests(p, 'TCP/10.96.0.10:80'), ['198.18.1.2:8080', '198.18.2.2:8080']);
  });

  it('kube-router.io/service.local works like externalTrafficPolicy Local (internal stays Cluster, as upstream)', () => {
    const p = planService(np({}, { 'kube-router.io/service.local': 'true' }), [slice('np', 'IPv4', endpoints)], NODE, CONFIG);
    assert.deepEqual(dests(p, 'TCP/198.51.100.11:30080'), ['198.18.1.2:8080']);
    assert.deepEqual(dests(p, 'TCP/10.96.0.10:80'), ['198.18.1.2:8080', '198.18.2.2:8080']);
  });

  it('internalTrafficPolicy Local narrows the ClusterIP; with no local endpoint the virtual service stays, empty (traffic dropped)', () => {
    const p = planService(np({ internalTrafficPolicy: 'Local' }), [slice('np', 'IPv4', [{ ip: '198.18.2.2', node: 'n2' }])], NODE, CONFIG);
    assert.deepEqual(dests(p, 'TCP/10.96.0.10:80'), []);
    assert.deepEqual(dests(p, 'TCP/198.51.100.11:30080'), ['198.18.2.2:8080']);
  });

  it('ready endpoints are used; serving-terminating ones only when no ready one is left; not-serving never', () => {
    const mixed = [{ ip: '198.18.1.2' }, { ip: '198.18.1.3', ready: false, serving: true, terminating: true }, { ip: '198.18.1.4', ready: false, serving: false }];
    assert.deepEqual(dests(planService(service('web', {}), [slice('web', 'IPv4', mixed)], NODE, CONFIG), 'TCP/10.96.0.10:80'), ['198.18.1.2:8080']);
    const draining = mixed.slice(1);
    assert.deepEqual(dests(planService(service('web', {}), [slice('web', 'IPv4', draining)], NODE, CONFIG), 'TCP/10.96.0.10:80'), ['198.18.1.3:8080']);
  });

  it('an unusable endpoint address is reported on its slice and the other endpoints are used', () => {
    const p = planService(service('web', {}), [slice('web', 'IPv4', [{ ip: '198.18.1.2' }, { ip: '2001:db8::1' }, { ip: '1.2.3' }])], NODE, CONFIG);
    assert.deepEqual(dests(p, 'TCP/10.96.0.10:80'), ['198.18.1.2:8080']);
    assert.deepEqual(p.problems.map((x) => `${x.kind} ${x.key} ${x.reason}`), ['EndpointSlice default/web-ipv4 InvalidEndpointAddress', 'EndpointSlice default/web-ipv4 InvalidEndpointAddress']);
  });

  it('the same endpoint in two slices is one destination', () => {
    const p = planService(service('web', {}), [slice('web', 'IPv4', [{ ip: '198.18.1.2' }], undefined, 'a'), slice('web', 'IPv4', [{ ip: '198.18.1.2' }], undefined, 'b')], NODE, CONFIG);
    assert.deepEqual(dests(p, 'TCP/10.96.0.10:80'), ['198.18.1.2:8080']);
  });
});

describe('proxy planner: hairpin', () => {
  const endpoints = [{ ip: '198.18.1.2', node: 'n1' }, { ip: '198.18.2.2', node: 'n2' }];
  it('hairpin rules exist only with the annotation or --hairpin-mode, only for local endpoints, externalIPs only when asked', () => {
    const svc = (a: Record<string, string>) => service('web', { type: 'NodePort', externalIPs: ['198.18.10.5'], ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 30080 }] }, { annotations: a });
    const s = [slice('web', 'IPv4', endpoints)];
    assert.deepEqual(planService(svc({}), s, NODE, CONFIG).hairpin, []);
    const rules = (p: ServicePlan) => p.hairpin.map((h) => `${h.endpoint}->${h.address}:${h.port}`).sort();
    assert.deepEqual(rules(planService(svc({ 'kube-router.io/service.hairpin': '' }), s, NODE, CONFIG)), ['198.18.1.2->10.96.0.10:80', '198.18.1.2->198.51.100.11:30080']);
    assert.deepEqual(rules(planService(svc({}), s, NODE, { ...CONFIG, hairpinAll: true })), ['198.18.1.2->10.96.0.10:80', '198.18.1.2->198.51.100.11:30080']);
    assert.deepEqual(rules(planService(svc({ 'kube-router.io/service.hairpin': '', 'kube-router.io/service.hairpin.externalips': '' }), s, NODE, CONFIG)),
      ['198.18.1.2->10.96.0.10:80', '198.18.1.2->198.18.10.5:80', '198.18.1.2->198.51.100.11:30080']);
  });
});
