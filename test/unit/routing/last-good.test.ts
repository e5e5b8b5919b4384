// Per-node routing annotations that turn bad keep their last valid value (or the default when they never had
// one), are reported as a Problem on their Node, and disable nothing else; a later valid value applies.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Node } from 'kubernetes-types/core/v1.js';
import { err, ok } from '../../../src/result.ts';
import { ANNOTATION, nodeCommunities } from '../../../src/controllers/routing/annotations.ts';
import { LastGoodSettings } from '../../../src/controllers/routing/last-good.ts';
import type { Problem } from '../../../src/controllers/routing/model.ts';
import { planLocalBgp, planPeers } from '../../../src/controllers/routing/plan-peers.ts';
import { configFromFlags as options, node } from './fixtures.ts';

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const reasons = (problems: Problem[]): string[] => problems.map((p) => `${p.subject.metadata?.name}:${p.reason}`);

/** n1 planned again and again with its annotations changing, as the controller does on each Node update. */
function n1Planner(opts = options()): (annotations: Record<string, string>, others?: Node[]) => { peers: Map<string, number>; problems: Problem[]; asn: number } {
  const lastGood = new LastGoodSettings();
  return (annotations, others = []) => {
    const self = node('n1', ['198.51.100.11'], annotations);
    const planned = planLocalBgp(self, opts, lastGood);
    if (!planned.ok) throw new Error(planned.error);
    const plan = planPeers(self, [self, ...others], planned.value.local, opts, lastGood);
    return {
      peers: new Map([...plan.peers].map(([ip, p]) => [ip, p.config.peerAsn])),
      problems: [...planned.value.problems, ...plan.problems],
      asn: planned.value.local.asn,
    };
  };
}

describe('LastGoodSettings', () => {
  const n1 = node('n1', ['198.51.100.11']);

  it('uses a valid value, keeps it when the next one is bad, and uses the default when there never was a valid one', () => {
    const lastGood = new LastGoodSettings();
    const problems: Problem[] = [];
    assert.equal(lastGood.settle(n1, 'x', err('bad'), 7, 'BadX', problems), 7);
    assert.match(problems[0]!.message, /^bad; the default is used$/);
    assert.equal(lastGood.settle(n1, 'x', ok(1), 7, 'BadX', problems), 1);
    assert.equal(lastGood.settle(n1, 'x', err('worse'), 7, 'BadX', problems), 1);
    assert.match(problems[1]!.message, /^worse; the last valid value is kept$/);
    assert.deepEqual(reasons(problems), ['n1:BadX', 'n1:BadX']);
    assert.equal(lastGood.settle(n1, 'y', err('other'), 9, 'BadY', problems), 9, 'settings are independent');
  });

  it('an annotation removed (valid: absent) replaces the remembered value', () => {
    const lastGood = new LastGoodSettings();
    lastGood.settle(n1, 'x', ok<number | undefined>(1), undefined, 'BadX', []);
    lastGood.settle(n1, 'x', ok<number | undefined>(undefined), undefined, 'BadX', []);
    assert.equal(lastGood.settle<number | undefined>(n1, 'x', err('bad'), undefined, 'BadX', []), undefined);
  });

  it('values are per node, and a node that is gone is forgotten', () => {
    const lastGood = new LastGoodSettings();
    const n2 = node('n2', ['198.51.100.12']);
    lastGood.settle(n1, 'x', ok(1), 0, 'BadX', []);
    lastGood.settle(n2, 'x', ok(2), 0, 'BadX', []);
    lastGood.retainNodes(new Set(['n2']));
    assert.equal(lastGood.settle(n1, 'x', err('bad'), 0, 'BadX', []), 0);
    assert.equal(lastGood.settle(n2, 'x', err('bad'), 0, 'BadX', []), 2);
  });

  it('communities that turn bad keep the last valid communities', () => {
    const lastGood = new LastGoodSettings();
    const communities = (text: string): string[] =>
      lastGood.settle(n1, ANNOTATION.communities, nodeCommunities(node('n1', [], { [ANNOTATION.communities]: text })), [], 'BadCommunitiesAnnotation', []);
    assert.deepEqual(communities('65000:100'), ['65000:100']);
    assert.deepEqual(communities('65000:100,banana'), ['65000:100']);
    assert.deepEqual(communities('no-export'), ['65535:65281']);
  });
});

describe('external peers from annotations keep their last valid set', () => {
  const valid = { [ANNOTATION.peerIps]: '198.51.100.1', [ANNOTATION.peerAsns]: '65100' };

  it('peer.ips edited to "999.1.1.1,banana": the previous peer stays, the edit is reported, a later valid edit applies', () => {
    const plan = n1Planner(options('--enable-ibgp=false'));
    assert.deepEqual([...plan(valid).peers], [['198.51.100.1', 65100]]);
    const bad = plan({ [ANNOTATION.peerIps]: '999.1.1.1,banana', [ANNOTATION.peerAsns]: '65100,65100' });
    assert.deepEqual([...bad.peers], [['198.51.100.1', 65100]]);
    assert.deepEqual(reasons(bad.problems), ['n1:BadPeerAnnotation']);
    assert.match(bad.problems[0]!.message, /999\.1\.1\.1.*last valid value is kept/);
    const next = plan({ [ANNOTATION.peerIps]: '198.51.100.1,198.51.100.2', [ANNOTATION.peerAsns]: '65100,65200' });
    assert.deepEqual([...next.peers], [['198.51.100.1', 65100], ['198.51.100.2', 65200]]);
    assert.deepEqual(next.problems, []);
  });

  for (const [what, edit] of [
    ['peer.asns', { [ANNOTATION.peerAsns]: 'sixty' }],
    ['peer.passwords', { [ANNOTATION.peerPasswords]: '%%' }],
    ['peer.localips', { [ANNOTATION.peerLocalIps]: 'here' }],
    ['peer.ports', { [ANNOTATION.peerPorts]: '70000' }],
    ['kube-router.io/peers YAML', { [ANNOTATION.peers]: '- remoteip: 198.51.100.2\n' }],
  ] as const) {
    it(`a bad ${what} edit keeps the last valid peer set`, () => {
      const plan = n1Planner(options('--enable-ibgp=false'));
      plan({ ...valid, [ANNOTATION.peerPasswords]: b64('pw') });
      const bad = plan({ ...valid, [ANNOTATION.peerPasswords]: b64('pw'), ...edit });
      assert.deepEqual([...bad.peers], [['198.51.100.1', 65100]]);
      assert.deepEqual(reasons(bad.problems), ['n1:BadPeerAnnotation']);
    });
  }

  it('a bad peers annotation that never was valid gives no external peers and leaves the iBGP mesh alone', () => {
    const plan = n1Planner();
    const bad = plan({ [ANNOTATION.peerIps]: 'banana', [ANNOTATION.peerAsns]: '65100' }, [node('n2', ['198.51.100.12'])]);
    assert.deepEqual([...bad.peers.keys()], ['198.51.100.12']);
    assert.deepEqual(reasons(bad.problems), ['n1:BadPeerAnnotation']);
  });
});

describe('this node\'s BGP identity keeps its last valid annotations', () => {
  it('node.asn "abc" in full mesh is ignored: cluster ASN, no problem, peers still applied', () => {
    const plan = n1Planner();
    const r = plan({ [ANNOTATION.nodeAsn]: 'abc', [ANNOTATION.peerIps]: '198.51.100.1', [ANNOTATION.peerAsns]: '65100' }, [node('n2', ['198.51.100.12'])]);
    assert.equal(r.asn, 64512);
    assert.deepEqual([...r.peers.keys()].sort(), ['198.51.100.1', '198.51.100.12']);
    assert.deepEqual(r.problems, []);
  });

  it('without full mesh a node.asn that turns bad keeps the last valid ASN and its same-ASN peers', () => {
    const plan = n1Planner(options('--nodes-full-mesh=false'));
    const n2 = node('n2', ['198.51.100.12'], { [ANNOTATION.nodeAsn]: '65001' });
    assert.equal(plan({ [ANNOTATION.nodeAsn]: '65001' }, [n2]).asn, 65001);
    const bad = plan({ [ANNOTATION.nodeAsn]: 'abc' }, [n2]);
    assert.equal(bad.asn, 65001);
    assert.deepEqual([...bad.peers], [['198.51.100.12', 65001]]);
    assert.deepEqual(reasons(bad.problems), ['n1:BadNodeAsn']);
  });

  it('a bad bgp-local-addresses keeps the last valid list, or the node\'s best address when there was none', () => {
    const opts = options();
    const lastGood = new LastGoodSettings();
    const listen = (text: string): string[] => {
      const r = planLocalBgp(node('n1', ['198.51.100.11'], { [ANNOTATION.bgpLocalAddresses]: text }), opts, lastGood);
      if (!r.ok) throw new Error(r.error);
      return r.value.local.listenAddresses;
    };
    assert.deepEqual(listen('nowhere'), ['198.51.100.11']);
    assert.deepEqual(listen('198.51.100.11,127.0.0.1'), ['198.51.100.11', '127.0.0.1']);
    assert.deepEqual(listen('198.51.100.11,nowhere'), ['198.51.100.11', '127.0.0.1']);
  });

  it('rr.server / rr.client that turn bad keep the node\'s route-reflector role, here and as seen by other nodes', () => {
    const opts = options();
    const lastGood = new LastGoodSettings();
    const plan = (server: string, client: string) => {
      const s = node('s', ['198.51.100.20'], { [ANNOTATION.rrServer]: server });
      const c = node('c', ['198.51.100.21'], { [ANNOTATION.rrClient]: client });
      const plain = node('p', ['198.51.100.22']);
      const sLocal = planLocalBgp(s, opts, lastGood);
      const cLocal = planLocalBgp(c, opts, lastGood);
      if (!sLocal.ok || !cLocal.ok) throw new Error('planLocalBgp failed');
      return {
        server: sLocal.value, client: cLocal.value,
        fromClient: planPeers(c, [s, c, plain], cLocal.value.local, opts, lastGood),
        fromServer: planPeers(s, [s, c, plain], sLocal.value.local, opts, lastGood),
      };
    };
    plan('42', '42');
    const bad = plan('forty-two', 'x');
    assert.equal(bad.server.local.rrServerClusterId, '42');
    assert.equal(bad.client.local.rrClientClusterId, '42');
    assert.deepEqual(reasons(bad.server.problems), ['s:BadRouteReflectorAnnotation']);
    assert.deepEqual([...bad.fromClient.peers.keys()], ['198.51.100.20'], 'the client still sees s as a server');
    assert.equal(bad.fromServer.peers.get('198.51.100.21')?.config.routeReflectorClient, true, 'the server still sees c as a client');
  });
});
