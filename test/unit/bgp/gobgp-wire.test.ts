// Every request we build survives protobuf encoding with gobgp's own protos (loaded at run time) unchanged: a
// misspelt field or a wrong Any type would be dropped by the encoder and show up here as a difference.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { gobgpProtoDir, loadGobgpService } from '../../../src/bgp/gobgp-proto.ts';
import { globalToApi, pathToApi, peerToApi } from '../../../src/bgp/gobgp-messages.ts';
import { definedSetToApi, globalAssignmentToApi, policyToApi } from '../../../src/bgp/gobgp-policy-messages.ts';
import { WATCH_REQUEST } from '../../../src/bgp/gobgp-watch.ts';
import type { Result } from '../../../src/result.ts';

const skip = existsSync(join(gobgpProtoDir(), 'gobgp.proto')) ? false : 'gobgp protos not installed (golang-github-osrg-gobgp-dev)';

interface MethodDefinition {
  requestSerialize(value: unknown): Buffer;
  requestDeserialize(bytes: Buffer): unknown;
}

function value<T>(parsed: Result<T>): T {
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.value;
}

/** uint64 fields come back as strings (longs: String); compare numbers as strings. */
function normalise(message: unknown): unknown {
  return JSON.parse(JSON.stringify(message, (_k, v: unknown) => (typeof v === 'number' ? String(v) : v)));
}

describe('requests encode with the gobgp 3.10 protos', { skip }, () => {
  const requests: [string, unknown][] = [
    ['StartBgp', { global: globalToApi({ asn: 64512, routerId: '198.51.100.1', listenAddresses: ['198.51.100.1'], listenPort: 179, gracefulRestart: { restartTimeSec: 90, deferralTimeSec: 360, localRestarting: true } }) }],
    ['AddPeer', { peer: value(peerToApi({
      neighborAddress: '198.51.100.2', peerAsn: 65000, localAddress: '198.51.100.1', remotePort: 1790, authPassword: 'pw', holdTimeSec: 9, keepaliveSec: 3,
      connectRetrySec: 1, multihopTtl: 2, routeReflectorClient: true, clusterId: '198.51.100.1', gracefulRestart: { restartTimeSec: 90, deferralTimeSec: 360 },
      families: ['ipv4', 'ipv6'], passive: true, description: 'node-2',
    })) }],
    ['UpdatePeer', { peer: value(peerToApi({ neighborAddress: '2001:db8::2', peerAsn: 0, families: ['ipv6'] })), doSoftResetIn: true }],
    ['DeletePeer', { address: '198.51.100.2' }],
    ['ListPeer', { enableAdvertised: true }],
    ['ResetPeer', { address: '198.51.100.2', soft: true, direction: 'OUT' }],
    ['AddPath', { tableType: 'GLOBAL', path: value(pathToApi({ prefix: '198.18.1.0/24', nextHop: '198.51.100.1', family: 'ipv4', origin: 'egp', communities: ['1:2'], asPathPrepend: { asn: 64512, repeat: 2 } })) }],
    ['AddPath', { tableType: 'GLOBAL', path: value(pathToApi({ prefix: '2001:db8:1::/64', nextHop: '2001:db8::1', family: 'ipv6', origin: 'igp' })) }],
    ['DeletePath', { tableType: 'GLOBAL', family: { afi: 'AFI_IP', safi: 'SAFI_UNICAST' }, path: value(pathToApi({ prefix: '198.18.1.0/24', nextHop: '198.51.100.1', family: 'ipv4', origin: 'igp' })) }],
    ['ListPath', { tableType: 'GLOBAL', family: { afi: 'AFI_IP6', safi: 'SAFI_UNICAST' } }],
    ['WatchEvent', WATCH_REQUEST],
    ['AddDefinedSet', { definedSet: value(definedSetToApi({ kind: 'prefix', name: 'p', prefixes: [{ prefix: '198.18.0.0/16', maskLengthMax: 32 }] })) }],
    ['AddDefinedSet', { definedSet: value(definedSetToApi({ kind: 'neighbor', name: 'n', neighbors: ['198.51.100.2'] })) }],
    ['DeleteDefinedSet', { definedSet: value(definedSetToApi({ kind: 'community', name: 'c', communities: ['1:2'] })), all: false }],
    ['ListDefinedSet', { definedType: 'NEIGHBOR', name: 'n' }],
    ['AddPolicy', { policy: value(policyToApi({
      name: 'kube_router_export1',
      statements: [{
        name: 's', conditions: { prefixSet: { name: 'p' }, neighborSet: { name: 'n', match: 'invert' }, communitySet: { name: 'c', match: 'all' } },
        actions: { route: 'accept', addCommunities: ['64999:100'], asPathPrepend: { asn: 64512, repeat: 1 }, nextHopSelf: true },
      }],
    })), referExistingStatements: false }],
    ['DeletePolicy', { policy: { name: 'kube_router_export1' }, preserveStatements: false, all: true }],
    ['SetPolicyAssignment', { assignment: globalAssignmentToApi('export', { policies: ['kube_router_export1'], defaultAction: 'reject' }) }],
    ['ListPolicyAssignment', { name: 'global', direction: 'IMPORT' }],
  ];

  const service = loadGobgpService();
  for (const [method, request] of requests) {
    it(`${method} ${JSON.stringify(request).slice(0, 70)}…`, () => {
      assert.ok(service.ok, !service.ok ? service.error : '');
      const definition = (service.value as unknown as { service: Record<string, MethodDefinition> }).service[method];
      assert.ok(definition, `no method ${method}`);
      const decoded = definition.requestDeserialize(definition.requestSerialize(request));
      assert.deepEqual(normalise(decoded), normalise(request));
    });
  }

  it('a missing proto directory is reported, not thrown', () => {
    const missing = loadGobgpService('/nonexistent/gobgp/api');
    assert.equal(missing.ok, false);
    assert.match(!missing.ok ? missing.error : '', /not found in \/nonexistent/);
  });
});
