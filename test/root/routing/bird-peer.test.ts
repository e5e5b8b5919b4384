// The routes controller against a real bird2 router: three namespace nodes (real controllers, supervised gobgpd)
// peer over eBGP with TCP-MD5 with bird2 in its own namespace, configured as a global peer by the flags. bird's own
// CLI shows what it learned (pod CIDRs and service VIPs with the node's communities and AS-path prepend); what bird
// originates lands in the nodes' kernels unless the import policy rejects it; a wrong MD5 key gives no session; a
// per-node peer from the kube-router.io/peers annotation (with its own key) comes up; the metrics follow; annotation
// changes apply live; an internalTrafficPolicy=Local VIP is advertised only where its endpoint is.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { haveCommand, isRoot, type TestNetns } from '../../helpers/netns.ts';
import { createRoutingController, type RoutingControllerHandle } from '../../../src/controllers/routing/index.ts';
import { registry } from '../../../src/observe/metrics.ts';
import { BirdRouter, eventually, nodeObject, routingOptions, RoutingLab, type LabNode } from './routing-lab.ts';

const skip = !isRoot || !haveCommand('gobgpd') || !haveCommand('bird') || !haveCommand('birdc') || !haveCommand('ipset') || !haveCommand('iptables')
  ? 'needs root, gobgpd, bird2, ipset and iptables' : false;

const ROUTER_IP = '198.51.100.1';
const ROUTER_ASN = 65100;
const KEY = 'md5-key-of-the-cluster';
const N3_KEY = 'n3-own-md5-key';
const VIP = '198.19.0.10';
const ACCEPTED = '198.18.77.0/24';
const REJECTED = '198.18.66.0/24';

function birdConfig(): string {
  return `router id ${ROUTER_IP};
protocol device { }
protocol direct { ipv4; interface "eth0"; }
protocol static originated { ipv4; route 0.0.0.0/0 blackhole; route ${ACCEPTED} blackhole; route ${REJECTED} blackhole; }
template bgp node {
  local ${ROUTER_IP} as ${ROUTER_ASN};
  hold time 9; keepalive time 3; connect retry time 1; connect delay time 1;
  ipv4 { import all; export where proto = "originated"; next hop self; };
}
protocol bgp n1 from node { neighbor 198.51.100.11 as 64512; password "${KEY}"; }
protocol bgp n2 from node { neighbor 198.51.100.12 as 64512; password "${KEY}"; }
protocol bgp n3 from node { neighbor 198.51.100.13 as 64512; password "${N3_KEY}"; }
`;
}

/** The paths of a `show route all` answer, keyed by the bird protocol they came from, each with its attribute lines. */
function birdPaths(text: string): Map<string, string> {
  const paths = new Map<string, string>();
  let current: string | undefined;
  for (const line of text.split('\n')) {
    const head = /unicast \[(\w+) /.exec(line);
    if (head) {
      current = head[1]!;
      paths.set(current, '');
    } else if (current) paths.set(current, `${paths.get(current)}${line.trim()}\n`);
  }
  return paths;
}

function tcpMd5Failures(ns: TestNetns): number {
  const lines = ns.exec('cat', ['/proc/net/netstat']).split('\n');
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const keys = lines[i]!.split(/\s+/);
    const idx = keys.indexOf('TCPMD5Failure');
    if (keys[0] === 'TcpExt:' && idx > 0) return Number(lines[i + 1]!.split(/\s+/)[idx]);
  }
  throw new Error('no TcpExt TCPMD5Failure counter');
}

function service(): Service {
  return { apiVersion: 'v1', kind: 'Service', metadata: { namespace: 'default', name: 'web' }, spec: { type: 'ClusterIP', clusterIP: VIP, clusterIPs: [VIP], ports: [{ port: 80, protocol: 'TCP' }] } };
}

function slice(): EndpointSlice {
  return {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4',
    metadata: { namespace: 'default', name: 'web-abc', labels: { 'kubernetes.io/service-name': 'web' } },
    endpoints: [{ addresses: ['198.18.1.5'], nodeName: 'n1', conditions: { ready: true } }],
    ports: [{ port: 8080, protocol: 'TCP' }],
  };
}

function metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    return Number(line.split(' ').pop());
  }
  return undefined;
}

/**
 * The registry text right after `handle` refreshed bgp_peer_info. Every controller in this process shares the one
 * registry and refreshes it when its own sessions change state, so a read that another refresh overtook (seen by
 * its other set of peer addresses) is retried.
 */
async function peerInfoOf(handle: RoutingControllerHandle, ownPeers: string[]): Promise<string> {
  return eventually('bgp_peer_info written by one controller', 10_000, async () => {
    await handle.controller.updatePeerMetrics();
    const text = await registry.metrics();
    const addresses = text.split('\n').filter((l) => l.startsWith('kube_router_bgp_peer_info{')).map((l) => /address="([^"]+)"/.exec(l)?.[1]);
    return JSON.stringify(addresses.sort()) === JSON.stringify([...ownPeers].sort()) && text;
  });
}

describe('routes controller peering with a bird2 router over TCP-MD5', { skip }, () => {
  let lab: RoutingLab;
  let bird: BirdRouter;
  let routerNs: TestNetns;
  const handles = new Map<string, RoutingControllerHandle>();
  const proto17 = (node: LabNode): Map<string, string | undefined> =>
    new Map((JSON.parse(node.ns.ip('-j', 'route', 'show', 'proto', '17')) as Array<{ dst: string; gateway?: string }>).map((r) => [r.dst, r.gateway]));
  const globalPeerFlags = [
    `--peer-router-ips=${ROUTER_IP}`, `--peer-router-asns=${ROUTER_ASN}`, `--peer-router-passwords=${Buffer.from(KEY).toString('base64')}`,
  ];
  const commonFlags = ['--advertise-pod-cidr=true', '--advertise-cluster-ip=true', '--service-cluster-ip-range=198.19.0.0/16', '--enable-pod-egress=false'];

  before(async () => {
    lab = new RoutingLab(3, 'krt-re');
    routerNs = lab.host(1);
    bird = new BirdRouter(routerNs, lab.dir, 'bird');
    bird.start(birdConfig());
    const annotations: Record<string, Record<string, string>> = {
      n1: {
        'kube-router.io/node.bgp.communities': '65000:100,65000:200',
        'kube-router.io/path-prepend.as': '64512', 'kube-router.io/path-prepend.repeat-n': '2',
        'kube-router.io/node.bgp.customimportreject': REJECTED,
      },
      n2: { 'kube-router.io/node.bgp.customimportreject': REJECTED },
      n3: {},
    };
    for (const node of lab.nodes) lab.cache.store('nodes').upsert(nodeObject(node, annotations[node.name]));
    lab.cache.store('services').upsert(service());
    lab.cache.store('endpointslices').upsert(slice());
    for (const node of lab.nodes) {
      // Metrics are one registry per process: only n1 re-syncs its routes periodically, so host_routes_synced is n1's.
      const period = node.name === 'n1' ? [] : ['--injected-routes-sync-period=1h'];
      const options = routingOptions(node.name, node.cniConfFile, [...globalPeerFlags, ...commonFlags, ...period]);
      handles.set(node.name, await createRoutingController(lab.context(node, options), { netns: node.ns.name, socketPath: join(lab.dir, `${node.name}.sock`) }));
    }
    await Promise.all([...handles.values()].map((h) => h.controller.fullSync()));
  });

  after(async () => {
    for (const h of handles.values()) await h.shutdown?.();
    await bird?.stop();
    lab?.destroy();
  });

  it('bird learns each node\'s pod CIDR and the service VIP, with the node\'s communities and AS-path prepend', async () => {
    const started = Date.now();
    await eventually('bird has n1 and n2 established', 30_000, () => bird.established('n1') && bird.established('n2'));
    const n1 = lab.node('n1');
    const n2 = lab.node('n2');
    await eventually('bird learns both pod CIDRs', 15_000, () => bird.route(n1.podCidr) !== '' && bird.route(n2.podCidr) !== '');
    await eventually('bird learns the VIP from both nodes', 15_000, () => birdPaths(bird.route(`${VIP}/32`)).size === 2);
    console.log(`bird sessions up and routes learned ${Date.now() - started} ms after the controllers' first sync`);
    const fromN1 = birdPaths(bird.route(n1.podCidr)).get('n1') ?? '';
    assert.match(fromN1, /BGP\.as_path: 64512 64512 64512\n/, 'two prepends plus the eBGP hop');
    assert.match(fromN1, /BGP\.next_hop: 198\.51\.100\.11\n/);
    assert.match(fromN1, /BGP\.community: \(65000,100\) \(65000,200\)\n/);
    const fromN2 = birdPaths(bird.route(n2.podCidr)).get('n2') ?? '';
    assert.match(fromN2, /BGP\.as_path: 64512\n/, 'no prepend without the annotations');
    assert.doesNotMatch(fromN2, /BGP\.community/);
    const vip = birdPaths(bird.route(`${VIP}/32`));
    assert.match(vip.get('n1') ?? '', /BGP\.community: \(65000,100\) \(65000,200\)\n/);
    assert.match(vip.get('n1') ?? '', /BGP\.as_path: 64512 64512 64512\n/);
    assert.match(vip.get('n2') ?? '', /BGP\.next_hop: 198\.51\.100\.12\n/);
  });

  it('installs what bird originates in the nodes\' kernels, except the default route and the custom-rejected prefix', async () => {
    for (const name of ['n1', 'n2']) {
      const node = lab.node(name);
      await eventually(`${name} installs ${ACCEPTED}`, 15_000, () => proto17(node).get(ACCEPTED) === ROUTER_IP);
      const routes = proto17(node);
      assert.equal(routes.has('default'), false, 'default route rejected on import');
      assert.equal(routes.has(REJECTED), false, 'customimportreject prefix rejected on import');
      const gobgpRib = handles.get(name)!.injector.learnedPaths();
      assert.equal(gobgpRib.has(REJECTED), false);
    }
  });

  it('a wrong MD5 key gives no session: bird never learns n3\'s pod CIDR and the kernel counts MD5 failures', async () => {
    const n3 = lab.node('n3');
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(bird.established('n3'), false);
    assert.equal(bird.route(n3.podCidr), '');
    assert.ok(tcpMd5Failures(routerNs) + tcpMd5Failures(n3.ns) > 0, 'segments with the wrong key were dropped by TCP-MD5');
  });

  it('with the iBGP mesh up, learned routes go no further; the metrics show the peers, advertisements and host_routes_synced = installed routes', async () => {
    const h1 = handles.get('n1')!;
    await eventually('n1\'s three sessions established', 30_000, async () => {
      const peers = await h1.speaker.listPeers();
      return peers.ok && peers.value.length === 3 && peers.value.every((p) => p.state === 'established');
    });
    await eventually('n1 routes the other pod CIDRs', 10_000, () => proto17(lab.node('n1')).size === 3);
    await eventually('n3 routes n1\'s pod CIDR', 10_000, () => proto17(lab.node('n3')).get(lab.node('n1').podCidr) === lab.node('n1').ip);
    await new Promise((r) => setTimeout(r, 1000)); // time for anything wrongly re-advertised to show up
    // iBGP-learned routes go no further: bird has each pod CIDR only from its own node, n3 nothing of bird's.
    for (const name of ['n1', 'n2']) assert.deepEqual([...birdPaths(bird.route(lab.node(name).podCidr)).keys()], [name]);
    assert.equal(proto17(lab.node('n3')).has(ACCEPTED), false, 'routes from the external peer are not passed on over iBGP');
    await h1.injector.reconcile();
    let text = await peerInfoOf(h1, [ROUTER_IP, '198.51.100.12', '198.51.100.13']);
    assert.equal(metricValue(text, 'kube_router_bgp_peer_info', { address: ROUTER_IP, type: 'external', asn: String(ROUTER_ASN), state: 'established' }), 1);
    for (const peer of ['198.51.100.12', '198.51.100.13']) {
      assert.equal(metricValue(text, 'kube_router_bgp_peer_info', { address: peer, type: 'internal', state: 'established' }), 1, peer);
    }
    assert.equal(metricValue(text, 'kube_router_host_routes_synced'), proto17(lab.node('n1')).size);
    assert.equal(proto17(lab.node('n1')).size, 3, 'n2, n3 pod CIDRs and the route from bird');
    assert.ok((metricValue(text, 'kube_router_controller_bgp_advertisements_sent', { type: 'pod-route' }) ?? 0) >= 3);
    assert.ok((metricValue(text, 'kube_router_controller_bgp_advertisements_sent', { type: 'advertise-vip' }) ?? 0) >= 3);
    assert.ok((metricValue(text, 'kube_router_controller_bgp_advertisements_received') ?? 0) >= 4);
    assert.ok((metricValue(text, 'kube_router_host_routes_added') ?? 0) >= 3, 'at least n1\'s own three');
    for (const histogram of ['controller_routes_sync_time', 'controller_bgp_internal_peers_sync_time', 'host_routes_sync_time']) {
      assert.ok((metricValue(text, `kube_router_${histogram}_count`) ?? 0) >= 3, histogram);
    }
    text = await peerInfoOf(handles.get('n3')!, [ROUTER_IP, '198.51.100.11', '198.51.100.12']);
    assert.equal(metricValue(text, 'kube_router_bgp_peer_info', { address: ROUTER_IP, state: 'established' }), undefined, 'n3 has no session with bird');
    assert.equal(metricValue(text, 'kube_router_bgp_peer_info', { address: ROUTER_IP, asn: String(ROUTER_ASN) }), 1);
  });

  it('a per-node peer from the kube-router.io/peers annotation, with its own MD5 key, is peered and learns and advertises routes', async () => {
    const n3 = lab.node('n3');
    await handles.get('n3')!.shutdown?.();
    handles.delete('n3');
    const peers = `- remoteip: ${ROUTER_IP}\n  remoteasn: ${ROUTER_ASN}\n  password: ${Buffer.from(N3_KEY).toString('base64')}\n`;
    lab.cache.store('nodes').upsert(nodeObject(n3, { 'kube-router.io/peers': peers }));
    for (const name of ['n1', 'n2']) await handles.get(name)!.controller.handleChanges([{ kind: 'Node', key: 'n3' }]);
    const options = routingOptions('n3', n3.cniConfFile, [...commonFlags, '--injected-routes-sync-period=1h']);
    const started = Date.now();
    const h3 = await createRoutingController(lab.context(n3, options), { netns: n3.ns.name, socketPath: join(lab.dir, 'n3-annotated.sock') });
    handles.set('n3', h3);
    await h3.controller.fullSync();
    await eventually('bird learns n3\'s pod CIDR from n3', 30_000, () => birdPaths(bird.route(n3.podCidr)).has('n3'));
    await eventually('n3 installs the route bird originates', 15_000, () => proto17(n3).get(ACCEPTED) === ROUTER_IP);
    console.log(`annotated peer established and routes exchanged in ${Date.now() - started} ms`);
    assert.equal(proto17(n3).has('default'), false);
    assert.equal(proto17(n3).get(REJECTED), ROUTER_IP, 'n3 has no customimportreject annotation, so it accepts the prefix n1 and n2 reject');
  });

  it('changed own-node annotations apply live: new communities reach bird and a dropped import reject lets the prefix in', async () => {
    const n1 = lab.node('n1');
    lab.cache.store('nodes').upsert(nodeObject(n1, { 'kube-router.io/node.bgp.communities': '65000:300' }));
    const changed = Date.now();
    await handles.get('n1')!.controller.handleChanges([{ kind: 'Node', key: 'n1' }]);
    await eventually('bird sees the new community on n1\'s pod CIDR', 15_000, () => /BGP\.community: \(65000,300\)\n/.test(birdPaths(bird.route(n1.podCidr)).get('n1') ?? ''));
    const path = birdPaths(bird.route(n1.podCidr)).get('n1') ?? '';
    assert.match(path, /BGP\.as_path: 64512\n/, 'prepend gone with its annotations');
    await eventually(`n1 installs ${REJECTED} once it is no longer rejected`, 15_000, () => proto17(n1).get(REJECTED) === ROUTER_IP);
    console.log(`annotation change applied at bird and in the kernel within ${Date.now() - changed} ms`);
  });

  it('a ClusterIP with internalTrafficPolicy Local is advertised only by the node with the endpoint, and follows it', async () => {
    const localVip = '198.19.0.20';
    const endpointOn = (nodeName: string): EndpointSlice => ({
      ...slice(), metadata: { namespace: 'default', name: 'local-abc', labels: { 'kubernetes.io/service-name': 'local' } },
      endpoints: [{ addresses: ['198.18.2.7'], nodeName, conditions: { ready: true } }],
    });
    lab.cache.store('services').upsert({ ...service(), metadata: { namespace: 'default', name: 'local' }, spec: { ...service().spec, clusterIP: localVip, clusterIPs: [localVip], internalTrafficPolicy: 'Local' } });
    lab.cache.store('endpointslices').upsert(endpointOn('n2'));
    const notifyAll = async (): Promise<void> => {
      for (const h of handles.values()) await h.controller.handleChanges([{ kind: 'Service', key: 'default/local' }, { kind: 'EndpointSlice', key: 'default/local-abc' }]);
    };
    await notifyAll();
    await eventually('bird learns the local VIP from n2', 15_000, () => birdPaths(bird.route(`${localVip}/32`)).has('n2'));
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual([...birdPaths(bird.route(`${localVip}/32`)).keys()], ['n2'], 'nodes without a local endpoint do not advertise it');
    lab.cache.store('endpointslices').upsert(endpointOn('n1'));
    await notifyAll();
    await eventually('the VIP moves to n1', 15_000, () => {
      const from = [...birdPaths(bird.route(`${localVip}/32`)).keys()];
      return from.length === 1 && from[0] === 'n1';
    });
    assert.equal(birdPaths(bird.route(`${VIP}/32`)).size, 3, 'the cluster-wide VIP is still advertised by every node');
  });
});
