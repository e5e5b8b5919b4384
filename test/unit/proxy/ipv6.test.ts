// The proxy over IPv6 and dual-stack, without a kernel: the planner's frontends and destinations per family, the
// IPv6 netfilter rules and sets, and the IPv6 local route pinning (test/vm/proxy-ipv6.test.ts sends the packets).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pinnedLocalRoutes } from '../../../src/controllers/proxy/apply-addresses.ts';
import type { ServicePlan } from '../../../src/controllers/proxy/model.ts';
import { firewallRules, masqueradeRules, proxySets, servicePortEntry } from '../../../src/controllers/proxy/netfilter-rules.ts';
import { planService } from '../../../src/controllers/proxy/plan-service.ts';
import { ROUTE_PROTOCOL_KUBE_ROUTER, RT_TABLE_LOCAL, RTN_LOCAL, RTPROT_KERNEL } from '../../../src/kernel/netlink/rtnetlink.ts';
import { CONFIG, NODE, service, slice } from './fixtures.ts';

const keys = (p: ServicePlan) => p.virtualServices.map((v) => v.key);
const dests = (p: ServicePlan, key: string) => p.virtualServices.find((v) => v.key === key)?.destinations.map((d) => `${d.address}:${d.port}`);
const v6Only = (ip: string) => ({ clusterIP: ip, clusterIPs: [ip], ipFamilies: ['IPv6'] });
const np = (nodePort: number) => [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 8080, nodePort }];
const both6 = [{ ip: '2001:db8:1::2', node: 'n1' }, { ip: '2001:db8:2::2', node: 'n2' }];

describe('proxy planner over IPv6 and dual-stack', () => {
  it('an IPv6-only NodePort listens on the node IPv6 address only, with the IPv6 endpoints', () => {
    const p = planService(service('np6', { ...v6Only('fd00:96::20'), type: 'NodePort', ports: np(30080) }), [slice('np6', 'IPv6', both6)], NODE, CONFIG);
    assert.deepEqual(keys(p), ['TCP/[2001:db8::11]:30080', 'TCP/[fd00:96::20]:80']);
    assert.deepEqual(dests(p, 'TCP/[2001:db8::11]:30080'), ['2001:db8:1::2:8080', '2001:db8:2::2:8080']);
    assert.deepEqual(p.dummyAddresses, ['fd00:96::20'], 'the node address is not put on the dummy link');
  });

  it('a dual-stack NodePort listens on the node address of each family, each sending to its own family', () => {
    const svc = service('dual', { clusterIP: '10.96.0.50', clusterIPs: ['10.96.0.50', 'fd00:96::50'], ipFamilies: ['IPv4', 'IPv6'], type: 'NodePort', ports: np(30090) });
    const p = planService(svc, [slice('dual', 'IPv4', [{ ip: '198.18.1.2', node: 'n1' }]), slice('dual', 'IPv6', both6)], NODE, CONFIG);
    assert.deepEqual(keys(p), ['TCP/10.96.0.50:80', 'TCP/198.51.100.11:30090', 'TCP/[2001:db8::11]:30090', 'TCP/[fd00:96::50]:80']);
    assert.deepEqual(dests(p, 'TCP/198.51.100.11:30090'), ['198.18.1.2:8080']);
    assert.deepEqual(dests(p, 'TCP/[2001:db8::11]:30090'), ['2001:db8:1::2:8080', '2001:db8:2::2:8080']);
  });

  it('externalTrafficPolicy Local over IPv6 narrows NodePort and externalIP frontends to local endpoints, not the ClusterIP', () => {
    const svc = service('loc6', { ...v6Only('fd00:96::21'), type: 'NodePort', externalTrafficPolicy: 'Local', externalIPs: ['2001:db8:10::5'], ports: np(30081) });
    const p = planService(svc, [slice('loc6', 'IPv6', both6)], NODE, CONFIG);
    assert.deepEqual(dests(p, 'TCP/[fd00:96::21]:80'), ['2001:db8:1::2:8080', '2001:db8:2::2:8080']);
    assert.deepEqual(dests(p, 'TCP/[2001:db8::11]:30081'), ['2001:db8:1::2:8080']);
    assert.deepEqual(dests(p, 'TCP/[2001:db8:10::5]:80'), ['2001:db8:1::2:8080']);
  });

  it('IPv6 externalIPs are validated against the IPv6 ranges, in canonical form', () => {
    const svc = service('ext6', { ...v6Only('fd00:96::30'), externalIPs: ['2001:DB8:10:0::5', '2001:db8:ffff::9', 'fd00:96::99'] });
    const p = planService(svc, [], NODE, { ...CONFIG, externalIpRanges: ['2001:db8:10::/64', 'fd00:96::/64'] });
    assert.deepEqual(keys(p), ['TCP/[2001:db8:10::5]:80', 'TCP/[fd00:96::30]:80']);
    assert.deepEqual(p.problems.map((x) => x.reason), ['InvalidExternalIP', 'InvalidExternalIP']);
  });

  it('without --enable-ipv6 a dual-stack Service gets its IPv4 frontends only, and an IPv6 externalIP is reported', () => {
    const svc = service('dual', { clusterIP: '10.96.0.50', clusterIPs: ['10.96.0.50', 'fd00:96::50'], ipFamilies: ['IPv4', 'IPv6'], type: 'NodePort', externalIPs: ['2001:db8:10::5'], ports: np(30090) });
    const p = planService(svc, [slice('dual', 'IPv6', both6)], NODE, { ...CONFIG, families: ['ipv4'] });
    assert.deepEqual(keys(p), ['TCP/10.96.0.50:80', 'TCP/198.51.100.11:30090']);
    assert.deepEqual(p.dummyAddresses, ['10.96.0.50']);
    assert.deepEqual(p.problems.map((x) => x.reason), ['InvalidExternalIP']);
  });

  it('session affinity and hairpin carry over to IPv6 virtual services', () => {
    const svc = service('aff6', { ...v6Only('fd00:96::40'), sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } } },
      { annotations: { 'kube-router.io/service.hairpin': '' } });
    const p = planService(svc, [slice('aff6', 'IPv6', both6)], NODE, CONFIG);
    assert.equal(p.virtualServices[0]!.persistenceSeconds, 60);
    assert.deepEqual(p.hairpin, [{ family: 'ipv6', endpoint: '2001:db8:1::2', address: 'fd00:96::40', port: 80, protocol: 'TCP' }]);
  });
});

describe('proxy netfilter rules and local routes over IPv6', () => {
  it('IPv6 sets are inet6-prefixed sets of family inet6, and a service port entry carries the bare address', () => {
    const sets = proxySets(6);
    assert.deepEqual([sets.localIps.name, sets.serviceIps.name, sets.servicePorts.name], ['inet6:kube-router-local-ips', 'inet6:kube-router-svip', 'inet6:kube-router-svip-prt']);
    assert.equal(sets.servicePorts.family, 6);
    const [vs] = planService(service('web6', v6Only('fd00:96::10')), [], NODE, CONFIG).virtualServices;
    assert.equal(servicePortEntry(vs!), 'fd00:96::10,tcp:80');
  });

  it('the IPv6 firewall rejects with icmp6 and lets neighbour discovery through', () => {
    const rules = firewallRules(6).map((r) => r.join(' '));
    assert.ok(rules.some((r) => r.includes('--icmpv6-type neighbour-solicitation -j ACCEPT')));
    assert.match(rules.at(-1)!, /! --match-set inet6:kube-router-local-ips dst -j REJECT --reject-with icmp6-port-unreachable$/);
  });

  it('IPv6 masquerade SNATs to the node IPv6 address, sparing the IPv6 pod CIDR unless --masquerade-all', () => {
    assert.deepEqual(masqueradeRules(6, '2001:db8::11', ['2001:db8:1::/64'], false).map((r) => r.join(' ')),
      ['-m comment --comment masquerade IPVS NAT traffic ! -s 2001:db8:1::/64 ! -d 2001:db8:1::/64 -j SNAT --to-source 2001:db8::11 --random-fully']);
    assert.deepEqual(masqueradeRules(6, '2001:db8::11', ['2001:db8:1::/64'], true).map((r) => r.join(' ')),
      ['-m comment --comment masquerade IPVS NAT traffic -j SNAT --to-source 2001:db8::11 --random-fully']);
  });

  it('an IPv4 service address pins the kernel local route itself; an IPv6 one gets our own route and deletes the kernel one', () => {
    const v4 = pinnedLocalRoutes('10.96.0.10', 7, '198.51.100.11');
    assert.deepEqual([v4.route.dst, v4.route.table, v4.route.type, v4.route.protocol, v4.route.src, v4.route.priority, v4.shadowing],
      ['10.96.0.10/32', RT_TABLE_LOCAL, RTN_LOCAL, RTPROT_KERNEL, '198.51.100.11', undefined, undefined]);
    const v6 = pinnedLocalRoutes('fd00:96::10', 7, '2001:db8::11');
    // The kernel's own IPv6 local route has metric 0, which no user route can have: it must go, by its protocol.
    assert.deepEqual([v6.route.dst, v6.route.table, v6.route.type, v6.route.protocol, v6.route.src], ['fd00:96::10/128', RT_TABLE_LOCAL, RTN_LOCAL, ROUTE_PROTOCOL_KUBE_ROUTER, '2001:db8::11']);
    assert.deepEqual([v6.shadowing?.dst, v6.shadowing?.protocol, v6.shadowing?.oif, v6.shadowing?.src], ['fd00:96::10/128', RTPROT_KERNEL, 7, undefined]);
  });
});
