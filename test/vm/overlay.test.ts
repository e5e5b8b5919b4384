// Runs INSIDE the test VM (lab/vm; host wrapper test/root/vm/overlay-vm.test.ts): the overlay for learned paths
// whose next hop is in another subnet. Nodes n1 (198.51.100.11) and n3 (.12) share subnet A (198.51.100.0/26), n2
// (.75) is in subnet B (.64/26); a router namespace joins the subnets and has no route to any pod CIDR, so pod
// traffic between A and B only flows encapsulated. Each node runs the real RouteInjector + OverlayApplier, fed the
// best paths its BGP watch would deliver; "pods" are addresses on a dummy link, probed with `ping -I <pod IP>`.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { BestPathEvent } from '../../src/bgp/speaker.ts';
import { processExec } from '../../src/kernel/exec.ts';
import { RouteInjector } from '../../src/controllers/routing/apply-routes.ts';
import { OverlayApplier } from '../../src/controllers/routing/overlay-apply.ts';
import { tunnelName, type OverlayOptions } from '../../src/controllers/routing/overlay-plan.ts';
import { openRtnetlink } from '../../src/kernel/netlink/rtnetlink.ts';
import type { NetlinkSocket } from '../../src/kernel/netlink/socket.ts';
import { TestNetns } from '../helpers/netns.ts';

const IN_VM = process.env['KUBE_ROUTER_IN_VM'] === '1';
const IPIP: OverlayOptions = { enabled: true, type: 'subnet', encap: 'ipip', encapPort: 5555 };

interface SimNode { ns: TestNetns; ip: string; pod: string; cidr: string; sock: NetlinkSocket; injector?: RouteInjector }
interface LinkJson {
  ifname: string;
  linkinfo?: { info_kind?: string; info_data?: { local?: string; remote?: string; encap?: { type?: string; dport?: number } } };
  stats64?: { rx?: { packets?: number }; tx?: { packets?: number } };
}

interface RouteJson { dst: string; gateway?: string; dev?: string; prefsrc?: string }
interface RuleJson { src?: string; srclen?: number; table?: string | number }
interface NodeState { links: LinkJson[]; podRoutes: RouteJson[]; table77: RouteJson[]; rules: RuleJson[]; fou: Array<{ port?: number; gue?: unknown }> }

/** Everything the assertions look at, read with one `ip -batch` (each exec of `ip` costs 0.1-0.3 s under TCG). */
function state(n: SimNode): NodeState {
  const out = n.ns.exec('ip', ['-j', '-d', '-s', '-batch', '-'], 'link show\nroute show proto 17\nroute show table 77\nrule show\nfou show\n');
  const [links, podRoutes, table77, rules, fou] = out.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as unknown);
  return { links, podRoutes, table77, rules, fou } as NodeState;
}
function tunnels(s: NodeState): string[] {
  return s.links.filter((l) => l.ifname.startsWith('tun-')).map((l) => l.ifname).sort();
}
function counters(s: NodeState, dev: string): { rx: number; tx: number } {
  const l = s.links.find((x) => x.ifname === dev);
  return { rx: l?.stats64?.rx?.packets ?? 0, tx: l?.stats64?.tx?.packets ?? 0 };
}
function route(routes: RouteJson[], dst: string): RouteJson | undefined {
  return routes.find((r) => r.dst === dst);
}
function hasRule(s: NodeState, cidr: string): boolean {
  const [src, len] = cidr.split('/');
  return s.rules.some((r) => r.src === src && String(r.srclen) === len && String(r.table) === '77');
}
function ping(from: SimNode, to: SimNode, count = 2): boolean {
  try {
    from.ns.exec('busybox', ['ping', '-c', String(count), '-i', '0.2', '-W', count === 1 ? '1' : '2', '-I', from.pod, to.pod]);
    return true;
  } catch {
    return false;
  }
}
function path(prefix: string, nextHop: string, withdrawal = false): BestPathEvent {
  return { prefix, nextHop, family: 'ipv4', withdrawal, fromPeer: nextHop, isLocal: false, communities: [] };
}
/** Packets the router forwarded that matched the FORWARD accounting rule with this comment. */
function forwarded(router: TestNetns, comment: 'krtov-ipip' | 'krtov-fou'): number {
  const out = router.exec('iptables', ['-w', '-nvxL', 'FORWARD']);
  const line = out.split('\n').find((l) => l.includes(`/* ${comment} */`));
  assert.ok(line, `accounting rule ${comment} present`);
  return Number(line.trim().split(/\s+/)[0]);
}

describe('overlay tunnels between nodes in different subnets', { skip: IN_VM ? false : 'runs inside the test VM: see test/root/vm/overlay-vm.test.ts' }, () => {
  let router: TestNetns;
  const nodes: SimNode[] = [];
  let n1: SimNode;
  let n2: SimNode;
  let n3: SimNode;

  /** (Re)starts each node's injector with these options, as a daemon restart with other flags would. */
  async function start(options: OverlayOptions, peers: Array<[SimNode, SimNode]>): Promise<void> {
    for (const n of nodes) {
      n.injector?.close();
      const overlay = new OverlayApplier({ sock: n.sock, exec: processExec(n.ns.name), options });
      n.injector = new RouteInjector({ sock: n.sock, adoptExistingForMs: 0, overlay });
      n.injector.setOverlayNode({ ipv4: n.ip, podCidrs: [n.cidr] });
    }
    for (const [at, from] of peers) at.injector?.onBestPath(path(from.cidr, from.ip));
    await Promise.all(nodes.map(async (n) => {
      await n.injector?.drain();
      await n.injector?.reconcile();
    }));
  }

  before(() => {
    router = new TestNetns('krt-ov');
    router.exec('ip', ['-batch', '-'], [
      'link add brA type bridge', 'addr add 198.51.100.1/26 dev brA', 'link set brA up',
      'link add brB type bridge', 'addr add 198.51.100.65/26 dev brB', 'link set brB up',
    ].join('\n') + '\n');
    router.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    // accounting only: which encapsulation the router saw between the subnets
    router.exec('sh', ['-c', 'iptables -w -A FORWARD -p 4 -m comment --comment krtov-ipip && '
      + 'iptables -w -A FORWARD -p udp --dport 5555 -m comment --comment krtov-fou']);
    const specs = [['198.51.100.11', 'brA', '198.51.100.1', 1], ['198.51.100.75', 'brB', '198.51.100.65', 2], ['198.51.100.12', 'brA', '198.51.100.1', 3]] as const;
    for (const [ip, bridge, gw, i] of specs) {
      const ns = new TestNetns('krt-ov');
      const node: SimNode = { ns, ip, pod: `198.18.${i}.1`, cidr: `198.18.${i}.0/24`, sock: openRtnetlink({ netns: ns.path }) };
      nodes.push(node);
      router.ip('link', 'add', `n${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns.name);
      router.exec('ip', ['-batch', '-'], `link set n${i} master ${bridge}\nlink set n${i} up\n`);
      ns.exec('ip', ['-batch', '-'], [
        `addr add ${ip}/26 dev eth0`, 'link set eth0 up', `route add default via ${gw}`,
        'link add pods type dummy', `addr add ${node.pod}/24 dev pods`, 'link set pods up',
      ].join('\n') + '\n');
    }
    [n1, n2, n3] = nodes as [SimNode, SimNode, SimNode];
  });

  after(() => {
    for (const n of nodes) {
      n.injector?.close();
      n.sock.close();
      n.ns.delete();
    }
    router?.delete();
  });

  test('on start, a stale tun-* tunnel and table-77 state of an earlier run are removed and a foreign ipip link is kept', async () => {
    const stale = tunnelName('198.51.100.99');
    n1.ns.exec('ip', ['-batch', '-'], [
      `link add name ${stale} type ipip local 198.51.100.11 remote 198.51.100.99`, `link set ${stale} up`,
      'link add name krtov-foreign type ipip local 198.51.100.11 remote 198.51.100.98',
      `route add 198.51.100.99/32 dev ${stale} table 77`, 'rule add from 198.18.9.0/24 lookup 77',
    ].join('\n') + '\n');
    await start(IPIP, [[n1, n2], [n2, n1], [n1, n3], [n3, n1]]);
    const s = state(n1);
    assert.deepEqual(tunnels(s), [tunnelName('198.51.100.75')]);
    assert.ok(s.links.some((l) => l.ifname === 'krtov-foreign' && l.linkinfo?.info_kind === 'ipip'), 'foreign ipip link kept');
    assert.ok(!hasRule(s, '198.18.9.0/24'), 'stale rule removed');
    assert.equal(route(s.table77, '198.51.100.99'), undefined, 'stale table-77 route removed');
  });

  test('ipip: a next hop in another subnet gets a tunnel, table-77 host route, pod CIDR route and source rule', () => {
    const tun = tunnelName('198.51.100.75');
    const s = state(n1);
    const link = s.links.find((l) => l.ifname === tun);
    assert.equal(link?.linkinfo?.info_kind, 'ipip');
    assert.deepEqual([link?.linkinfo?.info_data?.local, link?.linkinfo?.info_data?.remote], ['198.51.100.11', '198.51.100.75']);
    assert.equal(link?.linkinfo?.info_data?.encap, undefined);
    const podRoute = route(s.podRoutes, '198.18.2.0/24');
    assert.deepEqual([podRoute?.dev, podRoute?.prefsrc, podRoute?.gateway], [tun, '198.51.100.11', undefined]);
    assert.equal(route(s.table77, '198.51.100.75')?.dev, tun);
    assert.ok(hasRule(s, '198.18.1.0/24'), 'from <pod CIDR> lookup 77');
    assert.deepEqual(tunnels(state(n2)), [tunnelName('198.51.100.11')]);
  });

  test('subnet mode: a next hop in the same subnet is routed directly, without a tunnel', () => {
    const podRoute = route(state(n1).podRoutes, '198.18.3.0/24');
    assert.deepEqual([podRoute?.gateway, podRoute?.dev], ['198.51.100.12', 'eth0']);
    assert.deepEqual(tunnels(state(n3)), []);
    assert.ok(ping(n1, n3), 'same-subnet pods reach each other');
  });

  test('ipip: pod traffic between subnets flows through the tunnel (router sees only IPIP)', () => {
    const [tun1, tun2] = [tunnelName('198.51.100.75'), tunnelName('198.51.100.11')];
    const before = { tx: counters(state(n1), tun1).tx, rx: counters(state(n2), tun2).rx, ipip: forwarded(router, 'krtov-ipip') };
    assert.ok(ping(n1, n2), 'pod on n1 reaches pod on n2');
    assert.ok(counters(state(n1), tun1).tx >= before.tx + 2, 'n1 sent through its tunnel');
    assert.ok(counters(state(n2), tun2).rx >= before.rx + 2, 'n2 received through its tunnel');
    assert.ok(forwarded(router, 'krtov-ipip') >= before.ipip + 4, 'the router forwarded IPIP packets (requests and replies)');
  });

  test('a restart keeps the tunnels and routes of paths not re-learned yet during the adoption window', async () => {
    const overlay = new OverlayApplier({ sock: n1.sock, exec: processExec(n1.ns.name), options: IPIP });
    const restarted = new RouteInjector({ sock: n1.sock, adoptExistingForMs: 60_000, overlay });
    restarted.setOverlayNode({ ipv4: n1.ip, podCidrs: [n1.cidr] });
    await restarted.reconcile();
    restarted.close();
    const s = state(n1);
    const tun = tunnelName('198.51.100.75');
    assert.deepEqual(tunnels(s), [tun]);
    assert.equal(route(s.podRoutes, '198.18.2.0/24')?.dev, tun);
    assert.equal(route(s.table77, '198.51.100.75')?.dev, tun);
    assert.ok(ping(n1, n2, 1), 'pod traffic still flows');
  });

  test('withdrawal removes the pod CIDR route, the table-77 route and the now unused tunnel', async () => {
    n1.injector?.onBestPath(path(n2.cidr, n2.ip, true));
    await n1.injector?.drain();
    const s = state(n1);
    assert.deepEqual(tunnels(s), []);
    assert.equal(route(s.podRoutes, '198.18.2.0/24'), undefined);
    assert.deepEqual(s.table77, []);
    assert.ok(!ping(n1, n2, 1), 'no path without the tunnel: the router has no pod routes');
  });

  test('fou: a restart with --overlay-encap=fou recreates the tunnels as GUE on the fou port and pods talk over UDP', async () => {
    await start({ ...IPIP, encap: 'fou' }, [[n1, n2], [n2, n1]]);
    const tun = tunnelName('198.51.100.75');
    const s = state(n1);
    const data = s.links.find((l) => l.ifname === tun)?.linkinfo?.info_data;
    assert.deepEqual([data?.encap?.type, data?.encap?.dport], ['gue', 5555]);
    assert.ok(s.fou.some((p) => p.port === 5555 && 'gue' in p), 'gue receiver on port 5555');
    const before = { udp: forwarded(router, 'krtov-fou'), tx: counters(s, tun).tx };
    assert.ok(ping(n1, n2), 'pod on n1 reaches pod on n2 through FoU');
    assert.ok(counters(state(n1), tun).tx >= before.tx + 2, 'n1 sent through its tunnel');
    assert.ok(forwarded(router, 'krtov-fou') >= before.udp + 4, 'the router forwarded UDP to port 5555');
  });

  test('--enable-overlay=false removes our tunnels, table-77 routes, rules and fou port; the foreign link stays', async () => {
    await start({ ...IPIP, enabled: false }, [[n1, n2], [n1, n3]]);
    const s = state(n1);
    assert.deepEqual(tunnels(s), []);
    assert.deepEqual(s.table77, []);
    assert.ok(!hasRule(s, '198.18.1.0/24'), 'rule removed');
    assert.deepEqual(s.fou, []);
    assert.ok(s.links.some((l) => l.ifname === 'krtov-foreign'), 'foreign ipip link kept');
    assert.equal(route(s.podRoutes, '198.18.2.0/24'), undefined, 'no route for the other subnet without overlay');
    assert.equal(route(s.podRoutes, '198.18.3.0/24')?.gateway, '198.51.100.12');
  });
});
