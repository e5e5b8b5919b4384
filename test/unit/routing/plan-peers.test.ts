// Peer planning: the iBGP full mesh, same-ASN meshes without full mesh, route reflectors, external peers from
// flags vs annotations, and bad annotations reported without stopping the rest.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Node } from 'kubernetes-types/core/v1.js';
import { fnv32a, planLocalBgp as planLocalBgpWith, planPeers as planPeersWith } from '../../../src/controllers/routing/plan-peers.ts';
import { LastGoodSettings } from '../../../src/controllers/routing/last-good.ts';
import type { LocalBgp } from '../../../src/controllers/routing/model.ts';
import { configFromFlags, node } from './fixtures.ts';

// Each plan here starts with no remembered annotations (last-good.test.ts covers what is remembered).
const planLocalBgp = (self: Node, opts: ReturnType<typeof configFromFlags>) => planLocalBgpWith(self, opts, new LastGoodSettings());
const planPeers = (self: Node, nodes: Node[], l: LocalBgp, opts: ReturnType<typeof configFromFlags>) => planPeersWith(self, nodes, l, opts, new LastGoodSettings());

function local(self: ReturnType<typeof node>, opts = configFromFlags()): LocalBgp {
  const r = planLocalBgp(self, opts);
  if (!r.ok) throw new Error(r.error);
  return r.value.local;
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

describe('planLocalBgp', () => {
  it('uses the cluster ASN and the node IPv4 as router id by default', () => {
    const l = local(node('n1', ['198.51.100.11']));
    assert.equal(l.asn, 64512);
    assert.equal(l.routerId, '198.51.100.11');
    assert.deepEqual(l.listenAddresses, ['198.51.100.11']);
  });

  it('generates the router id from FNV-32a of the primary IP', () => {
    const l = local(node('n1', ['2001:db8::11']), configFromFlags('--router-id=generate', '--enable-ipv6=true'));
    const h = fnv32a('2001:db8::11');
    assert.equal(l.routerId, [h >>> 24, (h >>> 16) & 255, (h >>> 8) & 255, h & 255].join('.'));
    assert.equal(fnv32a(''), 0x811c9dc5);
    assert.equal(fnv32a('a'), 0xe40c292c);
  });

  it('requires a router id when the node has no IPv4 address', () => {
    const r = planLocalBgp(node('n1', ['2001:db8::11']), configFromFlags('--enable-ipv6=true'));
    assert.equal(r.ok, false);
  });

  it('requires kube-router.io/node.asn on this node without full mesh, and uses it', () => {
    const missing = planLocalBgp(node('n1', ['198.51.100.11']), configFromFlags('--nodes-full-mesh=false'));
    assert.equal(missing.ok, false);
    if (!missing.ok) assert.match(missing.error, /node\.asn/);
    assert.equal(local(node('n1', ['198.51.100.11'], { 'kube-router.io/node.asn': '65001' }), configFromFlags('--nodes-full-mesh=false')).asn, 65001);
    const bad = planLocalBgp(node('n1', ['198.51.100.11'], { 'kube-router.io/node.asn': 'x' }), configFromFlags('--nodes-full-mesh=false'));
    assert.equal(bad.ok, false);
    if (!bad.ok) assert.match(bad.error, /"x" is not an ASN/);
  });

  it('ignores kube-router.io/node.asn in full mesh, even a bad one (as upstream)', () => {
    const r = planLocalBgp(node('n1', ['198.51.100.11'], { 'kube-router.io/node.asn': 'abc' }), configFromFlags());
    assert.ok(r.ok);
    assert.equal(r.value.local.asn, 64512);
    assert.deepEqual(r.value.problems, []);
  });

  it('listens on kube-router.io/bgp-local-addresses when set', () => {
    const l = local(node('n1', ['198.51.100.11'], { 'kube-router.io/bgp-local-addresses': '198.51.100.11, 127.0.0.1' }));
    assert.deepEqual(l.listenAddresses, ['198.51.100.11', '127.0.0.1']);
  });
});

describe('planPeers: iBGP', () => {
  const self = node('n1', ['198.51.100.11']);
  const n2 = node('n2', ['198.51.100.12']);
  const n3 = node('n3', ['198.51.100.13']);

  it('full mesh: every other node of the same family, peer ASN 0, bgp port and local primary IP', () => {
    const v6only = node('n4', ['2001:db8::14']);
    const opts = configFromFlags('--bgp-port=1790');
    const plan = planPeers(self, [self, n2, n3, v6only], local(self, opts), opts);
    assert.deepEqual([...plan.peers.keys()].sort(), ['198.51.100.12', '198.51.100.13']);
    const p = plan.peers.get('198.51.100.12')!;
    assert.equal(p.kind, 'internal');
    assert.deepEqual({ asn: p.config.peerAsn, port: p.config.remotePort, local: p.config.localAddress, fam: p.config.families },
      { asn: 0, port: 1790, local: '198.51.100.11', fam: ['ipv4'] });
    assert.equal(p.config.gracefulRestart, undefined);
  });

  it('graceful restart settings go on every peer when enabled', () => {
    const opts = configFromFlags('--bgp-graceful-restart=true', '--bgp-graceful-restart-time=2m', '--bgp-graceful-restart-deferral-time=30s');
    const plan = planPeers(self, [self, n2], local(self, opts), opts);
    assert.deepEqual(plan.peers.get('198.51.100.12')!.config.gracefulRestart, { restartTimeSec: 120, deferralTimeSec: 30 });
  });

  it('--enable-ibgp=false: no internal peers', () => {
    const opts = configFromFlags('--enable-ibgp=false');
    assert.equal(planPeers(self, [self, n2, n3], local(self, opts), opts).peers.size, 0);
  });

  it('without full mesh: only nodes with the same node.asn; a bad node.asn is reported and skipped', () => {
    const opts = configFromFlags('--nodes-full-mesh=false');
    const me = node('n1', ['198.51.100.11'], { 'kube-router.io/node.asn': '65001' });
    const same = node('n2', ['198.51.100.12'], { 'kube-router.io/node.asn': '65001' });
    const other = node('n3', ['198.51.100.13'], { 'kube-router.io/node.asn': '65002' });
    const broken = node('n4', ['198.51.100.14'], { 'kube-router.io/node.asn': 'sixty' });
    const plan = planPeers(me, [me, same, other, broken], local(me, opts), opts);
    assert.deepEqual([...plan.peers.keys()], ['198.51.100.12']);
    assert.equal(plan.peers.get('198.51.100.12')!.config.peerAsn, 65001);
    assert.deepEqual(plan.problems.map((p) => [p.subject.metadata?.name, p.reason]), [['n4', 'BadNodeAsn']]);
  });

  it('route-reflector client peers only with servers; a server marks its clients with its cluster id', () => {
    const server = node('s', ['198.51.100.20'], { 'kube-router.io/rr.server': '42' });
    const client = node('c', ['198.51.100.21'], { 'kube-router.io/rr.client': '42' });
    const plain = node('p', ['198.51.100.22']);
    const all = [server, client, plain];
    const fromClient = planPeers(client, all, local(client), configFromFlags());
    assert.deepEqual([...fromClient.peers.keys()], ['198.51.100.20']);
    const fromServer = planPeers(server, all, local(server), configFromFlags());
    assert.deepEqual([...fromServer.peers.keys()].sort(), ['198.51.100.21', '198.51.100.22']);
    assert.equal(fromServer.peers.get('198.51.100.21')!.config.routeReflectorClient, true);
    assert.equal(fromServer.peers.get('198.51.100.21')!.config.clusterId, '42');
    assert.equal(fromServer.peers.get('198.51.100.22')!.config.routeReflectorClient, undefined);
  });
});

describe('planPeers: external', () => {
  it('global flag peers win over node annotations and carry password, hold time and multihop', () => {
    const opts = configFromFlags('--peer-router-ips=198.51.100.1', '--peer-router-asns=65100', '--peer-router-passwords=' + b64('s3cret'),
      '--peer-router-multihop-ttl=3', '--bgp-holdtime=30s', '--enable-ibgp=false');
    const self = node('n1', ['198.51.100.11'], { 'kube-router.io/peers': '- remoteip: 198.51.100.2\n  remoteasn: 65200\n' });
    const plan = planPeers(self, [self], local(self, opts), opts);
    assert.deepEqual([...plan.peers.keys()], ['198.51.100.1']);
    const c = plan.peers.get('198.51.100.1')!.config;
    assert.deepEqual({ asn: c.peerAsn, pw: c.authPassword, ttl: c.multihopTtl, hold: c.holdTimeSec, port: c.remotePort },
      { asn: 65100, pw: 's3cret', ttl: 3, hold: 30, port: 179 });
  });

  it('kube-router.io/peers YAML: required fields, base64 password, localip and port', () => {
    const opts = configFromFlags('--enable-ibgp=false');
    const yaml = `- remoteip: 198.51.100.2\n  remoteasn: 65200\n  password: ${b64('pw')}\n  localip: 198.51.100.50\n  port: 1179\n`;
    const self = node('n1', ['198.51.100.11'], { 'kube-router.io/peers': yaml });
    const c = planPeers(self, [self], local(self, opts), opts).peers.get('198.51.100.2')!.config;
    assert.deepEqual({ asn: c.peerAsn, pw: c.authPassword, la: c.localAddress, port: c.remotePort }, { asn: 65200, pw: 'pw', la: '198.51.100.50', port: 1179 });
  });

  it('deprecated peer.* CSV annotations are used when kube-router.io/peers is absent', () => {
    const opts = configFromFlags('--enable-ibgp=false');
    const self = node('n1', ['198.51.100.11'], {
      'kube-router.io/peer.ips': '198.51.100.2,198.51.100.3', 'kube-router.io/peer.asns': '65200,65300', 'kube-router.io/peer.ports': '179,1179',
    });
    const plan = planPeers(self, [self], local(self, opts), opts);
    assert.deepEqual([...plan.peers.values()].map((p) => [p.config.neighborAddress, p.config.peerAsn, p.config.remotePort]),
      [['198.51.100.2', 65200, 179], ['198.51.100.3', 65300, 1179]]);
  });

  for (const [what, annotations] of [
    ['YAML without remoteasn', { 'kube-router.io/peers': '- remoteip: 198.51.100.2\n' }],
    ['YAML with a bad password', { 'kube-router.io/peers': '- remoteip: 198.51.100.2\n  remoteasn: 65200\n  password: "%%"\n' }],
    ['YAML that is not a list', { 'kube-router.io/peers': 'remoteip: 198.51.100.2' }],
    ['CSV lists of different lengths', { 'kube-router.io/peer.ips': '198.51.100.2,198.51.100.3', 'kube-router.io/peer.asns': '65200' }],
  ] as const) {
    it(`a bad peers annotation (${what}) is reported on the node and the iBGP mesh is still planned`, () => {
      const self = node('n1', ['198.51.100.11'], annotations);
      const n2 = node('n2', ['198.51.100.12']);
      const plan = planPeers(self, [self, n2], local(self), configFromFlags());
      assert.deepEqual([...plan.peers.keys()], ['198.51.100.12']);
      assert.deepEqual(plan.problems.map((p) => p.reason), ['BadPeerAnnotation']);
    });
  }

  it('an external peer of another family than its local address is skipped and reported', () => {
    const opts = configFromFlags('--peer-router-ips=2001:db8::1', '--peer-router-asns=65100', '--enable-ibgp=false');
    const self = node('n1', ['198.51.100.11']);
    const plan = planPeers(self, [self], local(self, opts), opts);
    assert.equal(plan.peers.size, 0);
    assert.deepEqual(plan.problems.map((p) => p.reason), ['PeerFamilyMismatch']);
  });
});
