// The pure parts of the host apply layers: CNI file patching/creation, the egress ipset restore script and
// MASQUERADE rule, and which learned paths become kernel routes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planCniConf } from '../../../src/controllers/routing/plan-cni.ts';
import { masqueradeRule, renderEgressIpsets } from '../../../src/controllers/routing/apply-egress.ts';
import { tmpSetName } from '../../../src/kernel/ipset.ts';
import { routeForPath } from '../../../src/controllers/routing/apply-routes.ts';
import { egressSets } from '../../../src/controllers/routing/host-setup.ts';
import { nodePodCidrs } from '../../../src/kube/pod-cidrs.ts';
import type { Result } from '../../../src/result.ts';
import { node } from './fixtures.ts';

function value<T>(r: Result<T>): T {
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

describe('planCniConf', () => {
  it('creates upstream\'s default conflist with the pod CIDRs as ranges and the mtu', () => {
    const conf = JSON.parse(value(planCniConf(undefined, '10-kuberouter.conflist', ['198.18.1.0/24', '2001:db8:1::/64'], 1450))!);
    assert.equal(conf.cniVersion, '0.3.0');
    assert.equal(conf.name, 'mynet');
    assert.deepEqual(conf.plugins[0], {
      name: 'kubernetes', type: 'bridge', bridge: 'kube-bridge', isDefaultGateway: true, hairpinMode: true, mtu: 1450,
      ipam: { type: 'host-local', ranges: [[{ subnet: '198.18.1.0/24' }], [{ subnet: '2001:db8:1::/64' }]] },
    });
    assert.equal(conf.plugins[1].type, 'portmap');
  });

  it('a .conf file gets a single bridge plugin', () => {
    const conf = JSON.parse(value(planCniConf(undefined, '10-kuberouter.conf', ['198.18.1.0/24']))!);
    assert.equal(conf.type, 'bridge');
    assert.equal(conf.plugins, undefined);
    assert.equal(conf.mtu, undefined, 'no mtu without --auto-mtu');
  });

  it('moves a legacy ipam.subnet into ranges, adds missing CIDRs, keeps everything else, and is then stable', () => {
    const legacy = JSON.stringify({ cniVersion: '0.4.0', name: 'x', type: 'bridge', bridge: 'kube-bridge', ipam: { type: 'host-local', subnet: '198.18.1.0/24', dataDir: '/d' }, extra: 1 });
    const patched = value(planCniConf(legacy, 'a.conf', ['198.18.1.0/24', '2001:db8:1::/64']))!;
    const conf = JSON.parse(patched);
    assert.deepEqual(conf.ipam, { type: 'host-local', dataDir: '/d', ranges: [[{ subnet: '198.18.1.0/24' }], [{ subnet: '2001:db8:1::/64' }]] });
    assert.equal(conf.extra, 1);
    assert.equal(value(planCniConf(patched, 'a.conf', ['198.18.1.0/24', '2001:db8:1::/64'])), undefined, 'nothing to change the second time');
  });

  it('refuses files that are not JSON or have no bridge plugin', () => {
    assert.equal(planCniConf('{', 'a.conflist', []).ok, false);
    assert.equal(planCniConf(JSON.stringify({ plugins: [{ type: 'ptp' }] }), 'a.conflist', []).ok, false);
  });
});

describe('egress', () => {
  it('egress sets hold every node\'s pod CIDRs (a bad annotation falls back to the spec) and IPs', () => {
    const nodes = [node('a', ['198.51.100.11'], {}, ['198.18.1.0/24']), node('b', ['198.51.100.12'], { 'kube-router.io/pod-cidr': 'bad' }, ['198.18.2.0/24'])];
    const sets = egressSets(nodes, (n) => nodePodCidrs(n).cidrs);
    assert.deepEqual(sets.podSubnets, ['198.18.1.0/24', '198.18.2.0/24']);
    assert.deepEqual([...new Set(sets.nodeIps)].sort(), ['198.51.100.11', '198.51.100.12']);
  });

  it('the restore script fills a temporary set and swaps it with ours, per family, naming no other set', () => {
    const script = renderEgressIpsets({ podSubnets: ['198.18.1.0/24', '2001:db8:1::/64'], nodeIps: ['198.51.100.11'] }, [4, 6]);
    const lines = script.trim().split('\n');
    const named = new Set(lines.map((l) => l.split(' ')[1]));
    for (const name of named) assert.match(name!, /^(KUBE-TMP-[0-9a-f]{16}|kube-router-pod-subnets|kube-router-node-ips|inet6:kube-router-pod-subnets|inet6:kube-router-node-ips)$/);
    assert.ok(lines.includes('create inet6:kube-router-pod-subnets hash:net family inet6 hashsize 1024 maxelem 65536 timeout 0'));
    const v4tmp = lines.find((l) => l.startsWith('add ') && l.endsWith(' 198.18.1.0/24'))!.split(' ')[1];
    assert.ok(lines.indexOf(`swap ${v4tmp} kube-router-pod-subnets`) > lines.indexOf(`add ${v4tmp} 198.18.1.0/24`));
    assert.ok(!lines.some((l) => l.startsWith(`add ${v4tmp} 2001`)), 'v6 members never go into v4 sets');
    for (const n of named) assert.ok(n!.length <= 31);
  });

  it('a temporary left behind by a failed restore is destroyed before its name is used again', () => {
    const tmp = tmpSetName('kube-router-pod-subnets');
    const lines = renderEgressIpsets({ podSubnets: [], nodeIps: [] }, [4]).split('\n');
    assert.ok(lines.indexOf(`destroy ${tmp}`) >= 0 && lines.indexOf(`destroy ${tmp}`) < lines.findIndex((l) => l.startsWith(`create ${tmp} `)));
  });

  it('the MASQUERADE rule matches upstream\'s', () => {
    assert.equal(masqueradeRule(6).join(' '),
      '-m set --match-set inet6:kube-router-pod-subnets src -m set ! --match-set inet6:kube-router-pod-subnets dst -m set ! --match-set inet6:kube-router-node-ips dst -j MASQUERADE --random-fully');
  });
});

describe('routeForPath', () => {
  it('a next hop on a local subnet gives `dst via nexthop proto 17`; elsewhere nothing is installed', () => {
    const route = routeForPath('198.18.2.0/24', '198.51.100.12', ['198.51.100.11/24']);
    assert.deepEqual({ dst: route?.dst, gw: route?.gateway, proto: route?.protocol, table: route?.table }, { dst: '198.18.2.0/24', gw: '198.51.100.12', proto: 17, table: 254 });
    assert.equal(routeForPath('198.18.2.0/24', '192.0.2.1', ['198.51.100.11/24']), undefined);
    assert.equal(routeForPath('2001:db8:2::/64', '2001:db8::12', ['2001:db8::11/64'])?.gateway, '2001:db8::12');
  });
});
