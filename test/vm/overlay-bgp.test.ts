// Runs INSIDE the test VM (host wrapper test/root/vm/overlay-vm.test.ts): the real routes controller with
// --enable-overlay on two nodes in different subnets (n1 198.51.100.11/26, n2 198.51.100.75/26) joined only by a
// router namespace that has no pod routes. The nodes learn each other's pod CIDRs over iBGP through the router,
// the controller builds the IPIP tunnels, and pods made by the real CNI bridge plugin reach each other through them.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { join } from 'node:path';
import { createRoutingController, type RoutingControllerHandle } from '../../src/controllers/routing/index.ts';
import { tunnelName } from '../../src/controllers/routing/overlay-plan.ts';
import { cniPod, eventually, nodeObject, routingOptions, RoutingLab, writeNodeConflist, type LabNode } from '../root/routing/routing-lab.ts';
import { TestNetns } from '../helpers/netns.ts';

const IN_VM = process.env['KUBE_ROUTER_IN_VM'] === '1';

interface RouteJson { dst: string; dev?: string; gateway?: string }
interface LinkJson { ifname: string; linkinfo?: { info_kind?: string }; stats64?: { tx?: { packets?: number } } }

function podRoute(node: LabNode, dst: string): RouteJson | undefined {
  return (JSON.parse(node.ns.ip('-j', 'route', 'show', 'proto', '17')) as RouteJson[]).find((r) => r.dst === dst);
}
function link(node: LabNode, name: string): LinkJson | undefined {
  return (JSON.parse(node.ns.ip('-j', '-d', '-s', 'link', 'show')) as LinkJson[]).find((l) => l.ifname === name);
}

describe('routes controller with overlay across a router (real gobgpd, real CNI pods)', { skip: IN_VM ? false : 'runs inside the test VM: see test/root/vm/overlay-vm.test.ts' }, () => {
  let lab: RoutingLab;
  const handles: RoutingControllerHandle[] = [];
  let n1: LabNode;
  let n2: LabNode;

  before(async () => {
    // no nodes on the lab's switch: its namespace is the router between subnet A (brA) and subnet B (brB)
    lab = new RoutingLab(0, 'krt-ov');
    const router = lab.sw;
    router.exec('ip', ['-batch', '-'], [
      'link add brA type bridge', 'addr add 198.51.100.1/26 dev brA', 'link set brA up',
      'link add brB type bridge', 'addr add 198.51.100.65/26 dev brB', 'link set brB up',
    ].join('\n') + '\n');
    router.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    for (const [i, ip, bridge, gw] of [[1, '198.51.100.11', 'brA', '198.51.100.1'], [2, '198.51.100.75', 'brB', '198.51.100.65']] as const) {
      const ns = new TestNetns('krt-ov');
      const node: LabNode = { name: `n${i}`, ns, ip, podCidr: `198.18.${i}.0/24`, cniConfFile: join(lab.dir, `n${i}`, '10-kuberouter.conflist') };
      lab.nodes.push(node);
      router.ip('link', 'add', `n${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns.name);
      router.exec('ip', ['-batch', '-'], `link set n${i} master ${bridge}\nlink set n${i} up\n`);
      ns.exec('ip', ['-batch', '-'], `addr add ${ip}/26 dev eth0\nlink set eth0 up\nroute add default via ${gw}\n`);
      writeNodeConflist(lab, node);
      lab.cache.store('nodes').upsert(nodeObject(node));
    }
    [n1, n2] = lab.nodes as [LabNode, LabNode];
    for (const node of lab.nodes) {
      const options = routingOptions(node.name, node.cniConfFile, [
        '--enable-overlay=true', '--overlay-type=subnet', '--overlay-encap=ipip',
        // fewer iptables/ipset runs (0.1-0.3 s each under TCG); egress is not what this test is about
        '--enable-pod-egress=false',
      ]);
      handles.push(await createRoutingController(lab.context(node, options), { netns: node.ns.name, socketPath: join(lab.dir, `${node.name}.sock`) }));
    }
    await Promise.all(handles.map((h) => h.controller.fullSync()));
  });

  after(async () => {
    await Promise.all(handles.map((h) => h.shutdown?.()));
    lab?.destroy();
  });

  test('each node learns the other pod CIDR over iBGP and routes it through an IPIP tunnel to the other node', async () => {
    const tun1 = tunnelName(n2.ip);
    await eventually('n1 routes n2\'s pod CIDR through its tunnel', 60_000, () => podRoute(n1, n2.podCidr)?.dev === tun1);
    await eventually('n2 routes n1\'s pod CIDR through its tunnel', 30_000, () => podRoute(n2, n1.podCidr)?.dev === tunnelName(n1.ip));
    assert.equal(link(n1, tun1)?.linkinfo?.info_kind, 'ipip');
    assert.match(n1.ns.ip('rule', 'show'), /from 198\.18\.1\.0\/24 lookup 77/);
  });

  test('a pod on n1 reaches a pod on n2 in the other subnet, through the tunnel', async () => {
    const [p1, p2] = [await cniPod(lab, n1, 'ov-p1'), await cniPod(lab, n2, 'ov-p2')];
    const before = link(n1, tunnelName(n2.ip))?.stats64?.tx?.packets ?? 0;
    p1.ns.exec('busybox', ['ping', '-c', '2', '-i', '0.2', '-W', '3', p2.ip]);
    assert.ok((link(n1, tunnelName(n2.ip))?.stats64?.tx?.packets ?? 0) >= before + 2, 'n1 sent the pings through its tunnel');
  });
});
