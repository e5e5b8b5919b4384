// The routes controller end to end in namespaces: three "nodes" on one L2 segment, each running the real
// controller (supervised gobgpd inside its namespace, route injector, CNI file, bridge, FORWARD rules, egress
// ipsets). Pod CIDRs are exchanged over iBGP and installed as proto 17 routes; pods made with the real CNI
// bridge plugin from the written conflist reach each other across nodes. Sessions take 5-10 s to come up.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { haveCommand, isRoot } from '../../helpers/netns.ts';
import { createRoutingController, type RoutingControllerHandle } from '../../../src/controllers/routing/index.ts';
import { cniAdd, readConflist } from '../../../lab/pods/cni.ts';
import { eventually, nodeObject, routingOptions, RoutingLab, type LabNode } from './routing-lab.ts';

const skip = !isRoot || !haveCommand('gobgpd') || !haveCommand('ipset') || !haveCommand('iptables') || !haveCommand('busybox') || !existsSync('/usr/lib/cni/bridge')
  ? 'needs root, gobgpd, ipset, iptables, busybox and the CNI plugins' : false;

interface KernelRoute { dst: string; gateway?: string; protocol?: string }

function routes(node: LabNode, ...selector: string[]): KernelRoute[] {
  return JSON.parse(node.ns.ip('-j', 'route', 'show', ...selector)) as KernelRoute[];
}

function proto17(node: LabNode): Map<string, string | undefined> {
  return new Map(routes(node, 'proto', '17').map((r) => [r.dst, r.gateway]));
}

describe('routes controller across three namespace nodes', { skip }, () => {
  let lab: RoutingLab;
  const handles = new Map<string, RoutingControllerHandle>();

  before(async () => {
    lab = new RoutingLab(3);
    const [n1, n2] = [lab.node('n1'), lab.node('n2')];
    // n1: a legacy bridge conf (ipam.subnet) to be patched; n2: ranges without its pod CIDR; n3: no file at all.
    for (const [node, ipam] of [[n1, { type: 'host-local', subnet: n1.podCidr }], [n2, { type: 'host-local', ranges: [] }]] as const) {
      mkdirSync(join(lab.dir, node.name), { recursive: true });
      writeFileSync(node.cniConfFile, JSON.stringify({
        cniVersion: '0.3.0', name: 'mynet',
        plugins: [{ name: 'kubernetes', type: 'bridge', bridge: 'kube-bridge', isDefaultGateway: true, ipam: { ...ipam, dataDir: join(lab.dir, node.name, 'ipam') } }],
      }));
    }
    n1.ns.ip('link', 'set', 'eth0', 'mtu', '1400');
    // A rule of someone else's that must survive untouched.
    n1.ns.exec('iptables', ['-w', '-A', 'FORWARD', '-s', '198.51.100.99', '-j', 'DROP']);
    for (const node of lab.nodes) lab.cache.store('nodes').upsert(nodeObject(node));
    for (const node of lab.nodes) {
      const ctx = lab.context(node, routingOptions(node.name, node.cniConfFile));
      handles.set(node.name, await createRoutingController(ctx, { netns: node.ns.name, socketPath: join(lab.dir, `${node.name}.sock`) }));
    }
    await Promise.all([...handles.values()].map((h) => h.controller.fullSync()));
  });

  after(async () => {
    for (const h of handles.values()) await h.shutdown?.();
    lab?.destroy();
  });

  it('installs every other node\'s pod CIDR as a proto 17 route via that node\'s IP', async () => {
    for (const node of lab.nodes) {
      const others = lab.nodes.filter((n) => n !== node);
      await eventually(`${node.name} learns the other pod CIDRs`, 30_000, () => others.every((o) => proto17(node).get(o.podCidr) === o.ip));
      assert.equal(proto17(node).has(node.podCidr), false, 'a node never routes its own pod CIDR via BGP');
    }
  });

  it('patches an existing conflist: legacy subnet moved into ranges, mtu from the node interface, other fields kept', () => {
    const n1 = lab.node('n1');
    const conf = JSON.parse(readFileSync(n1.cniConfFile, 'utf8'));
    const bridge = conf.plugins[0];
    assert.equal(bridge.ipam.subnet, undefined);
    assert.deepEqual(bridge.ipam.ranges, [[{ subnet: n1.podCidr }]]);
    assert.equal(bridge.ipam.dataDir, join(lab.dir, 'n1', 'ipam'));
    assert.equal(bridge.mtu, 1400);
    const n2 = JSON.parse(readFileSync(lab.node('n2').cniConfFile, 'utf8'));
    assert.deepEqual(n2.plugins[0].ipam.ranges, [[{ subnet: lab.node('n2').podCidr }]]);
    const created = JSON.parse(readFileSync(lab.node('n3').cniConfFile, 'utf8'));
    assert.equal(created.name, 'mynet');
    assert.equal(created.plugins[0].bridge, 'kube-bridge');
    assert.equal(created.plugins[0].isDefaultGateway, true);
    assert.equal(created.plugins[0].hairpinMode, true);
    assert.deepEqual(created.plugins[0].ipam.ranges, [[{ subnet: lab.node('n3').podCidr }]]);
    const link = JSON.parse(n1.ns.ip('-j', 'link', 'show', 'kube-bridge'))[0];
    assert.equal(link.mtu, 1400);
  });

  it('pods on different nodes, attached by the CNI bridge plugin from the written conflist, reach each other', async () => {
    const ips: string[] = [];
    const pods: string[] = [];
    for (const name of ['n1', 'n2']) {
      const node = lab.node(name);
      const pod = lab.netns();
      mkdirSync(join(lab.dir, name, 'cni-cache'), { recursive: true });
      const added = await cniAdd(readConflist(node.cniConfFile), { containerId: `c-${name}`, netnsPath: pod.path, ifName: 'eth0', args: [] },
        { execNetns: node.ns.name, cacheDir: join(lab.dir, name, 'cni-cache') });
      assert.ok(added.ok, JSON.stringify(added));
      const ip = added.value.ips?.[0]?.address.split('/')[0];
      assert.ok(ip);
      ips.push(ip);
      pods.push(pod.name);
    }
    const ping = spawnSync('ip', ['netns', 'exec', pods[0]!, 'busybox', 'ping', '-c', '2', '-W', '2', ips[1]!], { encoding: 'utf8' });
    assert.equal(ping.status, 0, ping.stdout + ping.stderr);
  });

  it('inserts the FORWARD accept rules once each and leaves other rules alone', async () => {
    const n1 = lab.node('n1');
    await handles.get('n1')!.controller.fullSync();
    const rules = n1.ns.exec('iptables', ['-w', '-S', 'FORWARD']).split('\n');
    for (const needle of ['-i kube-bridge', '-o kube-bridge', '-o eth0']) {
      assert.equal(rules.filter((r) => r.includes(needle) && r.includes('-j ACCEPT')).length, 1, needle);
    }
    assert.ok(rules.some((r) => r.includes('-s 198.51.100.99/32') && r.includes('-j DROP')));
    assert.ok(rules[1]?.includes('-j ACCEPT'), 'our rules come first');
  });

  it('keeps the pod egress ipsets in sync with every node and installs the MASQUERADE rule', () => {
    const n1 = lab.node('n1');
    const pods = n1.ns.exec('ipset', ['list', 'kube-router-pod-subnets']);
    const ips = n1.ns.exec('ipset', ['list', 'kube-router-node-ips']);
    for (const node of lab.nodes) {
      assert.match(pods, new RegExp(`^${node.podCidr.replace(/\./g, '\\.')}( timeout 0)?$`, 'm'));
      assert.match(ips, new RegExp(`^${node.ip.replace(/\./g, '\\.')}( timeout 0)?$`, 'm'));
    }
    const nat = n1.ns.exec('iptables', ['-w', '-t', 'nat', '-S', 'POSTROUTING']);
    assert.match(nat, /--match-set kube-router-pod-subnets src -m set ! --match-set kube-router-pod-subnets dst -m set ! --match-set kube-router-node-ips dst -j MASQUERADE --random-fully/);
  });

  it('reconcile removes a stale proto 17 route, restores a missing one, and never touches other protocols', async () => {
    const n1 = lab.node('n1');
    const injector = handles.get('n1')!.injector;
    n1.ns.ip('route', 'add', '198.18.99.0/24', 'via', '198.51.100.12', 'proto', '17');
    n1.ns.ip('route', 'add', '198.18.98.0/24', 'via', '198.51.100.12', 'proto', 'static');
    n1.ns.ip('route', 'del', lab.node('n2').podCidr, 'proto', '17');
    await new Promise((r) => setTimeout(r, 1100)); // past the 1 s adoption window
    await injector.reconcile();
    const ours = proto17(n1);
    assert.equal(ours.has('198.18.99.0/24'), false);
    assert.equal(ours.get(lab.node('n2').podCidr), lab.node('n2').ip);
    assert.ok(routes(n1, 'proto', 'static').some((r) => r.dst === '198.18.98.0/24'));
  });

  it('a node removed from the cluster loses its peering and its pod CIDR route on the others at once', async () => {
    lab.cache.store('nodes').remove('n3');
    for (const name of ['n1', 'n2']) await handles.get(name)!.controller.handleChanges([{ kind: 'Node', key: 'n3' }]);
    const n3Cidr = lab.node('n3').podCidr;
    for (const name of ['n1', 'n2']) {
      await eventually(`${name} withdraws ${n3Cidr}`, 15_000, () => !proto17(lab.node(name)).has(n3Cidr));
      assert.equal(proto17(lab.node(name)).has(name === 'n1' ? lab.node('n2').podCidr : lab.node('n1').podCidr), true);
    }
  });
});
