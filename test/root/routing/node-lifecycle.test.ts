// Nodes coming and going, with the real controller in namespace nodes: a node added later is peered and its pod
// CIDR routed on the existing nodes (and theirs on it) within seconds, measured; on its first start the new node's
// controller removes proto-17 routes it does not learn, corrects a wrong one and leaves other protocols alone;
// deleting the Node removes the peering (gobgpd neighbors and the bgp_peer_info metric) and its route everywhere.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { haveCommand, isRoot } from '../../helpers/netns.ts';
import { createRoutingController, type RoutingControllerHandle } from '../../../src/controllers/routing/index.ts';
import { registry } from '../../../src/observe/metrics.ts';
import { RouteInjector } from '../../../src/controllers/routing/apply-routes.ts';
import { openRtnetlink } from '../../../src/kernel/netlink/rtnetlink.ts';
import { eventually, nodeObject, routingOptions, RoutingLab, type LabNode } from './routing-lab.ts';

const skip = !isRoot || !haveCommand('gobgpd') || !haveCommand('ipset') || !haveCommand('iptables') ? 'needs root, gobgpd, ipset and iptables' : false;

const STALE = '198.18.99.0/24';
const FOREIGN = '198.18.98.0/24';

describe('routes controller as nodes join and leave the cluster', { skip }, () => {
  let lab: RoutingLab;
  const handles = new Map<string, RoutingControllerHandle>();
  const proto17 = (node: LabNode): Map<string, string | undefined> =>
    new Map((JSON.parse(node.ns.ip('-j', 'route', 'show', 'proto', '17')) as Array<{ dst: string; gateway?: string }>).map((r) => [r.dst, r.gateway]));
  const start = async (node: LabNode): Promise<RoutingControllerHandle> => {
    const options = routingOptions(node.name, node.cniConfFile, ['--enable-pod-egress=false']);
    const handle = await createRoutingController(lab.context(node, options), { netns: node.ns.name, socketPath: join(lab.dir, `${node.name}.sock`) });
    handles.set(node.name, handle);
    await handle.controller.fullSync();
    return handle;
  };
  const notify = async (names: string[], key: string): Promise<void> => {
    for (const name of names) await handles.get(name)!.controller.handleChanges([{ kind: 'Node', key }]);
  };

  before(async () => {
    lab = new RoutingLab(2, 'krt-re');
    for (const node of lab.nodes) lab.cache.store('nodes').upsert(nodeObject(node));
    for (const node of lab.nodes) await start(node);
    const [n1, n2] = [lab.node('n1'), lab.node('n2')];
    await eventually('n1 and n2 route each other', 30_000, () => proto17(n1).get(n2.podCidr) === n2.ip && proto17(n2).get(n1.podCidr) === n1.ip);
  });

  after(async () => {
    for (const h of handles.values()) await h.shutdown?.();
    lab?.destroy();
  });

  it('a node added later is peered with the existing nodes and pod CIDRs are routed both ways within seconds', async () => {
    const n3 = lab.addNode();
    // Left over from an earlier run on this host: ours but unknown, ours but wrong, and someone else's.
    n3.ns.ip('route', 'add', STALE, 'via', '198.51.100.11', 'proto', '17');
    n3.ns.ip('route', 'add', lab.node('n1').podCidr, 'via', '198.51.100.12', 'proto', '17');
    n3.ns.ip('route', 'add', FOREIGN, 'via', '198.51.100.11', 'proto', 'static');
    const joined = Date.now();
    lab.cache.store('nodes').upsert(nodeObject(n3));
    await notify(['n1', 'n2'], 'n3');
    await start(n3);
    const others = [lab.node('n1'), lab.node('n2')];
    await eventually('every node routes every other pod CIDR', 20_000, () =>
      others.every((o) => proto17(o).get(n3.podCidr) === n3.ip && proto17(n3).get(o.podCidr) === o.ip));
    const elapsed = Date.now() - joined;
    console.log(`node n3 peered and routed ${elapsed} ms after its Node object appeared`);
    assert.ok(elapsed < 15_000, `took ${elapsed} ms`);
  });

  it('on its first start a node removes stale proto 17 routes, corrects a wrong one, and keeps routes of other protocols', async () => {
    const n3 = lab.node('n3');
    await eventually('stale route removed', 5_000, () => !proto17(n3).has(STALE));
    assert.equal(proto17(n3).get(lab.node('n1').podCidr), lab.node('n1').ip, 'wrong next hop replaced by the learned one');
    const foreign = JSON.parse(n3.ns.ip('-j', 'route', 'show', FOREIGN)) as Array<{ dst: string; protocol?: string }>;
    assert.deepEqual(foreign.map((r) => [r.dst, r.protocol]), [[FOREIGN, 'static']]);
  });

  it('deleting a Node removes its peering from gobgpd and bgp_peer_info, and withdraws its pod CIDR everywhere', async () => {
    const n3 = lab.node('n3');
    const h1 = handles.get('n1')!;
    await h1.controller.updatePeerMetrics();
    assert.match(await registry.metrics(), /kube_router_bgp_peer_info\{address="198\.51\.100\.13",[^}]*state="established"\} 1/);
    const deleted = Date.now();
    lab.cache.store('nodes').remove('n3');
    await notify(['n1', 'n2'], 'n3');
    for (const name of ['n1', 'n2']) {
      await eventually(`${name} withdraws n3's pod CIDR`, 10_000, () => !proto17(lab.node(name)).has(n3.podCidr));
      const peers = await handles.get(name)!.speaker.listPeers();
      assert.ok(peers.ok);
      assert.deepEqual(peers.value.map((p) => p.address), [name === 'n1' ? '198.51.100.12' : '198.51.100.11']);
    }
    console.log(`n3's pod CIDR withdrawn on both nodes ${Date.now() - deleted} ms after the Node was deleted`);
    await h1.controller.updatePeerMetrics();
    assert.doesNotMatch(await registry.metrics(), /kube_router_bgp_peer_info\{address="198\.51\.100\.13"/);
    assert.equal(proto17(lab.node('n1')).get(lab.node('n2').podCidr), lab.node('n2').ip, 'the remaining nodes still route each other');
  });

  it('the adoption window starts at the first reconcile, so a start slower than the window keeps the routes found in the kernel', async () => {
    const ns = lab.netns();
    ns.ip('link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth1'); // no dummy module on the host kernel
    ns.ip('link', 'set', 'eth1', 'up');
    ns.ip('addr', 'add', '198.51.100.50/24', 'dev', 'eth0');
    ns.ip('link', 'set', 'eth0', 'up');
    ns.ip('route', 'add', STALE, 'via', '198.51.100.11', 'proto', '17');
    let clock = 1_000_000;
    const sock = openRtnetlink({ netns: ns.path });
    try {
      const injector = new RouteInjector({ sock, adoptExistingForMs: 1000, now: () => clock });
      clock += 5000; // host setup and the daemon's start took longer than the window
      await injector.reconcile();
      assert.ok(ns.ip('route', 'show', 'proto', '17').includes('198.18.99.0/24'), 'adopted by the first reconcile');
      clock += 1001;
      await injector.reconcile();
      assert.equal(ns.ip('route', 'show', 'proto', '17').trim(), '', 'stale once the window has passed');
    } finally {
      await sock.close();
    }
  });
});
