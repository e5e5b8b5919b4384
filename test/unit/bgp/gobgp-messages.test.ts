// Our global/peer/path types translate to the gobgp v3 API JSON gobgpd expects, and its answers translate back.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  bestPathFromApi, globalToApi, prefixParts, pathToApi, peerFromApi, peerStateEventFromApi, peerToApi,
} from '../../../src/bgp/gobgp-messages.ts';
import type { ApiFamily, ApiPath, ApiPeer } from '../../../src/bgp/gobgp-api-types.ts';

const T = 'type.googleapis.com/apipb.';
const V4: ApiFamily = { afi: 'AFI_IP', safi: 'SAFI_UNICAST' };
const V6: ApiFamily = { afi: 'AFI_IP6', safi: 'SAFI_UNICAST' };

describe('global and peer messages', () => {
  it('global config carries ASN, router id, listen addresses/port and graceful restart', () => {
    assert.deepEqual(globalToApi({ asn: 64512, routerId: '198.51.100.1', listenAddresses: ['198.51.100.1'], listenPort: 179 }),
      { asn: 64512, routerId: '198.51.100.1', listenPort: 179, listenAddresses: ['198.51.100.1'] });
    assert.deepEqual(globalToApi({
      asn: 65001, routerId: '198.51.100.1', listenAddresses: [], listenPort: -1, gracefulRestart: { restartTimeSec: 90, deferralTimeSec: 360, localRestarting: true },
    }).gracefulRestart, { enabled: true, restartTime: 90, deferralTime: 360, localRestarting: true });
  });

  const peerCases: [string, Parameters<typeof peerToApi>[0], ApiPeer][] = [
    [
      "upstream's full-mesh iBGP peer (peer ASN 0, both families, graceful restart)",
      { neighborAddress: '198.51.100.2', peerAsn: 0, localAddress: '198.51.100.1', remotePort: 179, families: ['ipv4', 'ipv6'], gracefulRestart: { restartTimeSec: 90, deferralTimeSec: 360 } },
      {
        conf: { neighborAddress: '198.51.100.2', peerAsn: 0 },
        afiSafis: [
          { config: { family: V4, enabled: true }, mpGracefulRestart: { config: { enabled: true } } },
          { config: { family: V6, enabled: true }, mpGracefulRestart: { config: { enabled: true } } },
        ],
        transport: { localAddress: '198.51.100.1', remotePort: 179 },
        gracefulRestart: { enabled: true, restartTime: 90, deferralTime: 360 },
      },
    ],
    [
      'external peer with MD5 password, timers, multihop and passive mode',
      { neighborAddress: '198.18.0.1', peerAsn: 65000, authPassword: 'pw', holdTimeSec: 30, keepaliveSec: 10, connectRetrySec: 2, multihopTtl: 3, passive: true, families: ['ipv4'] },
      {
        conf: { neighborAddress: '198.18.0.1', peerAsn: 65000, authPassword: 'pw' },
        afiSafis: [{ config: { family: V4, enabled: true } }],
        timers: { config: { connectRetry: 2, holdTime: 30, keepaliveInterval: 10 } },
        transport: { passiveMode: true },
        ebgpMultihop: { enabled: true, multihopTtl: 3 },
      },
    ],
    [
      'route-reflector client with a cluster id',
      { neighborAddress: '2001:db8::2', peerAsn: 64512, routeReflectorClient: true, clusterId: '10.0.0.1', families: ['ipv6'] },
      {
        conf: { neighborAddress: '2001:db8::2', peerAsn: 64512 },
        afiSafis: [{ config: { family: V6, enabled: true } }],
        routeReflector: { routeReflectorClient: true, routeReflectorClusterId: '10.0.0.1' },
      },
    ],
  ];
  for (const [name, input, expected] of peerCases) {
    it(`peer: ${name}`, () => assert.deepEqual(peerToApi(input), { ok: true, value: expected }));
  }

  it('rejects a peer with a bad address or without families', () => {
    assert.equal(peerToApi({ neighborAddress: 'node-2', peerAsn: 1, families: ['ipv4'] }).ok, false);
    assert.equal(peerToApi({ neighborAddress: '198.51.100.2', peerAsn: 1, families: [] }).ok, false);
  });

  it('ListPeer output becomes state, uptime and prefix counts summed over families', () => {
    const listed: ApiPeer = {
      conf: { neighborAddress: '198.51.100.2', peerAsn: 0 },
      state: { neighborAddress: '198.51.100.2', peerAsn: 64512, sessionState: 'ESTABLISHED', adminState: 'UP' },
      timers: { state: { uptime: { seconds: '1000' } } },
      afiSafis: [{ state: { received: '3', accepted: '2', advertised: '1' } }, { state: { received: '1', accepted: '1' } }],
    };
    assert.deepEqual(peerFromApi(listed, 1042.5), {
      address: '198.51.100.2', asn: 64512, type: 'internal', state: 'established', adminDown: false, uptimeSec: 42, received: 4, accepted: 3, advertised: 1,
    });
    const down = peerFromApi({ conf: { neighborAddress: '198.18.0.1', peerAsn: 65000 }, state: { type: 'EXTERNAL', sessionState: 'ACTIVE', adminState: 'DOWN' }, timers: { state: { uptime: { seconds: '1000' } } } }, 2000);
    assert.deepEqual([down.state, down.type, down.adminDown, down.uptimeSec, down.asn], ['active', 'external', true, 0, 65000]);
    assert.deepEqual(peerStateEventFromApi({ state: { neighborAddress: '198.51.100.2', sessionState: 'OPENCONFIRM' } }),
      { address: '198.51.100.2', asn: 0, state: 'openconfirm', adminDown: false });
  });
});

describe('path messages', () => {
  it('an IPv4 path carries origin, NEXT_HOP, AS-path prepend and communities', () => {
    const built = pathToApi({ prefix: '198.18.1.0/24', nextHop: '198.51.100.1', family: 'ipv4', origin: 'igp', communities: ['64512:10', 'no-export'], asPathPrepend: { asn: 64512, repeat: 2 } });
    assert.deepEqual(built, {
      ok: true,
      value: {
        family: V4,
        nlri: { '@type': `${T}IPAddressPrefix`, prefixLen: 24, prefix: '198.18.1.0' },
        pattrs: [
          { '@type': `${T}OriginAttribute`, origin: 0 },
          { '@type': `${T}NextHopAttribute`, nextHop: '198.51.100.1' },
          { '@type': `${T}AsPathAttribute`, segments: [{ type: 'AS_SEQUENCE', numbers: [64512, 64512] }] },
          { '@type': `${T}CommunitiesAttribute`, communities: [64512 * 65536 + 10, 0xffffff01] },
        ],
      },
    });
  });

  it('an IPv6 path carries its next hop and NLRI in MP_REACH_NLRI', () => {
    const built = pathToApi({ prefix: '2001:DB8:1::/64', nextHop: '2001:db8::1', family: 'ipv6', origin: 'incomplete' });
    const nlri = { '@type': `${T}IPAddressPrefix`, prefixLen: 64, prefix: '2001:db8:1::' };
    assert.deepEqual(built, {
      ok: true,
      value: {
        family: V6,
        nlri,
        pattrs: [
          { '@type': `${T}OriginAttribute`, origin: 2 },
          { '@type': `${T}MpReachNLRIAttribute`, family: V6, nextHops: ['2001:db8::1'], nlris: [nlri] },
        ],
      },
    });
  });

  const invalid: [string, Parameters<typeof pathToApi>[0]][] = [
    ['a prefix of the other family', { prefix: '2001:db8::/64', nextHop: '198.51.100.1', family: 'ipv4', origin: 'igp' }],
    ['a next hop of the other family', { prefix: '198.18.1.0/24', nextHop: '2001:db8::1', family: 'ipv4', origin: 'igp' }],
    ['a prefix without length', { prefix: '198.18.1.0', nextHop: '198.51.100.1', family: 'ipv4', origin: 'igp' }],
    ['a prefix length over 32', { prefix: '198.18.1.0/33', nextHop: '198.51.100.1', family: 'ipv4', origin: 'igp' }],
    ['an unparsable community', { prefix: '198.18.1.0/24', nextHop: '198.51.100.1', family: 'ipv4', origin: 'igp', communities: ['x'] }],
  ];
  for (const [name, path] of invalid) {
    it(`rejects a path with ${name}`, () => assert.equal(pathToApi(path).ok, false));
  }

  it('parses CIDRs of both families', () => {
    assert.deepEqual(prefixParts('0.0.0.0/0'), { ok: true, value: { address: '0.0.0.0', length: 0, family: 'ipv4' } });
    assert.deepEqual(prefixParts('::/0'), { ok: true, value: { address: '::', length: 0, family: 'ipv6' } });
    assert.deepEqual(prefixParts('2001:DB8:0:0::/64'), { ok: true, value: { address: '2001:db8::', length: 64, family: 'ipv6' } });
    assert.equal(prefixParts('::/129').ok, false);
    assert.equal(prefixParts('198.18.1.0/x').ok, false);
  });
});

describe('best-path events', () => {
  const learned: ApiPath = {
    family: V4,
    nlri: { '@type': `${T}IPAddressPrefix`, prefixLen: 24, prefix: '198.18.2.0' },
    pattrs: [
      { '@type': `${T}OriginAttribute`, origin: 0 },
      { '@type': `${T}NextHopAttribute`, nextHop: '198.51.100.2' },
      { '@type': `${T}CommunitiesAttribute`, communities: [64999 * 65536 + 100] },
    ],
    neighborIp: '198.51.100.2',
  };

  it('a path learned from a peer names the peer, next hop and communities', () => {
    assert.deepEqual(bestPathFromApi(learned), {
      prefix: '198.18.2.0/24', nextHop: '198.51.100.2', family: 'ipv4', withdrawal: false, fromPeer: '198.51.100.2', isLocal: false, communities: ['64999:100'],
    });
  });

  it("a locally originated path (gobgp's '<nil>' source) is local", () => {
    const local = bestPathFromApi({ ...learned, neighborIp: '<nil>' });
    assert.deepEqual([local?.isLocal, local?.fromPeer], [true, '']);
  });

  it('an IPv6 path takes its next hop from MP_REACH_NLRI; a withdrawal may carry no attributes', () => {
    const nlri = { '@type': `${T}IPAddressPrefix`, prefixLen: 64, prefix: '2001:db8:2::' };
    const v6 = bestPathFromApi({ family: V6, nlri, pattrs: [{ '@type': `${T}MpReachNLRIAttribute`, nextHops: ['2001:db8::2', 'fe80::2'], nlris: [nlri] }], neighborIp: '2001:db8::2' });
    assert.deepEqual([v6?.prefix, v6?.nextHop, v6?.family], ['2001:db8:2::/64', '2001:db8::2', 'ipv6']);
    const gone = bestPathFromApi({ family: V4, nlri: learned.nlri, pattrs: [], isWithdraw: true, neighborIp: '198.51.100.2' });
    assert.deepEqual([gone?.withdrawal, gone?.nextHop], [true, '']);
  });

  it('ignores NLRI types other than IP prefixes', () => {
    assert.equal(bestPathFromApi({ family: V4, nlri: { '@type': `${T}FlowSpecNLRI` }, pattrs: [] }), undefined);
  });
});
