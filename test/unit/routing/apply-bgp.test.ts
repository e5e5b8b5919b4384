// BgpApplier against a recording speaker: only differences are sent, a changed policy is installed under the next
// version and the old one removed, a global change restarts BGP and re-sends everything, reset() re-sends all.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BgpApplier, type OriginatedPath } from '../../../src/controllers/routing/apply-bgp.ts';
import { planPolicies, type PolicyInput } from '../../../src/controllers/routing/plan-policies.ts';
import type { BgpResult, BgpSpeaker, PeerConfig } from '../../../src/bgp/speaker.ts';

function recordingSpeaker(): { speaker: BgpSpeaker; calls: string[] } {
  const calls: string[] = [];
  const okay = async (): Promise<BgpResult<void>> => ({ ok: true, value: undefined });
  const record = (name: string, describe: (arg: never) => string = () => '') => async (arg?: unknown) => {
    calls.push(`${name}${arg === undefined ? '' : ` ${describe(arg as never)}`}`.trim());
    return okay();
  };
  const speaker = {
    start: record('start', (g: { asn: number }) => String(g.asn)),
    stop: record('stop'),
    addPeer: record('addPeer', (p: PeerConfig) => p.neighborAddress),
    updatePeer: record('updatePeer', (p: PeerConfig) => p.neighborAddress),
    deletePeer: record('deletePeer', (a: string) => a),
    addPath: record('addPath', (p: { prefix: string }) => p.prefix),
    deletePath: record('deletePath', (p: { prefix: string }) => p.prefix),
    addDefinedSet: record('addDefinedSet', (s: { name: string }) => s.name),
    replaceDefinedSet: record('replaceDefinedSet', (s: { name: string }) => s.name),
    deleteDefinedSet: async (_k: string, name: string) => { calls.push(`deleteDefinedSet ${name}`); return okay(); },
    addPolicy: record('addPolicy', (p: { name: string }) => p.name),
    deletePolicy: record('deletePolicy', (n: string) => n),
    setGlobalPolicy: async (dir: string, a: { policies: string[] }) => { calls.push(`setGlobalPolicy ${dir} ${a.policies.join(',')}`); return okay(); },
    softResetPeer: async (a: string, d: string) => { calls.push(`softReset ${a} ${d}`); return okay(); },
  } as unknown as BgpSpeaker;
  return { speaker, calls };
}

const GLOBAL = { asn: 64512, routerId: '198.51.100.11', listenAddresses: ['198.51.100.11'], listenPort: 179 };
const peer = (ip: string, asn = 0): PeerConfig => ({ neighborAddress: ip, peerAsn: asn, families: ['ipv4'] });
const path = (prefix: string, kind: OriginatedPath['kind'] = 'pod-route'): OriginatedPath => ({ prefix, nextHop: '198.51.100.11', family: 'ipv4', origin: 'igp', kind });
const POLICY: PolicyInput = {
  families: ['ipv4'],
  podCidrs: ['198.18.1.0/24'], vips: ['10.96.0.10'], ibgpPeers: ['198.51.100.12'], externalPeers: ['198.51.100.1'],
  customImportRejects: [], communities: [], advertisePodCidr: true, overrideNextHop: false, routeReflectorServer: false,
};

describe('BgpApplier', () => {
  it('sends only differences for peers and paths', async () => {
    const { speaker, calls } = recordingSpeaker();
    const a = new BgpApplier(speaker);
    await a.applyGlobal(GLOBAL);
    await a.applyPeers(new Map([['198.51.100.12', peer('198.51.100.12')], ['198.51.100.13', peer('198.51.100.13')]]));
    await a.applyPaths([path('198.18.1.0/24'), path('10.96.0.10/32', 'vip')]);
    calls.length = 0;
    await a.applyGlobal(GLOBAL);
    await a.applyPeers(new Map([['198.51.100.12', peer('198.51.100.12', 64512)]]));
    await a.applyPaths([path('198.18.1.0/24')]);
    assert.deepEqual(calls, ['deletePeer 198.51.100.13', 'updatePeer 198.51.100.12', 'deletePath 10.96.0.10/32']);
  });

  it('replaces sets in place, versions a changed policy, assigns it, then deletes the old one and unused sets', async () => {
    const { speaker, calls } = recordingSpeaker();
    const a = new BgpApplier(speaker);
    await a.applyGlobal(GLOBAL);
    await a.applyPolicies(planPolicies(POLICY));
    assert.ok(calls.includes('addPolicy kube_router_export1'));
    assert.ok(calls.includes('setGlobalPolicy export kube_router_export1'));
    calls.length = 0;
    await a.applyPolicies(planPolicies({ ...POLICY, vips: ['10.96.0.10', '10.96.0.11'] }));
    assert.deepEqual(calls, ['replaceDefinedSet servicevipsdefinedset'], 'same statements: only the set changes');
    calls.length = 0;
    await a.applyPolicies(planPolicies({ ...POLICY, externalPeers: [] }));
    assert.deepEqual(calls.filter((c) => !c.startsWith('softReset')), [
      // the VIP set stays: the import policy still rejects VIPs from the remaining peers
      'replaceDefinedSet servicevipsdefinedset', 'replaceDefinedSet allpeerset',
      'addPolicy kube_router_export3', 'setGlobalPolicy export kube_router_export3', 'deletePolicy kube_router_export1',
      'deleteDefinedSet externalpeerset',
    ]);
  });

  it('a changed custom import reject set is replaced in place and received routes are re-judged (soft reset in)', async () => {
    const { speaker, calls } = recordingSpeaker();
    const a = new BgpApplier(speaker);
    await a.applyGlobal(GLOBAL);
    await a.applyPeers(new Map([['198.51.100.12', peer('198.51.100.12')]]));
    await a.applyPolicies(planPolicies({ ...POLICY, customImportRejects: ['192.0.2.0/24'] }));
    calls.length = 0;
    await a.applyPolicies(planPolicies({ ...POLICY, customImportRejects: ['192.0.2.0/25'] }));
    assert.deepEqual(calls, ['replaceDefinedSet customimportrejectdefinedset', 'softReset 198.51.100.12 in']);
  });

  it('a changed global config restarts BGP and re-sends peers and paths; reset() re-sends everything', async () => {
    const { speaker, calls } = recordingSpeaker();
    const a = new BgpApplier(speaker);
    const peers = new Map([['198.51.100.12', peer('198.51.100.12')]]);
    await a.applyGlobal(GLOBAL);
    await a.applyPeers(peers);
    await a.applyPaths([path('198.18.1.0/24')]);
    calls.length = 0;
    await a.applyGlobal({ ...GLOBAL, asn: 65001 });
    await a.applyPeers(peers);
    await a.applyPaths([path('198.18.1.0/24')]);
    assert.deepEqual(calls, ['stop', 'start 65001', 'addPeer 198.51.100.12', 'addPath 198.18.1.0/24']);
    calls.length = 0;
    a.reset();
    await a.applyGlobal({ ...GLOBAL, asn: 65001 });
    await a.applyPeers(peers);
    assert.deepEqual(calls, ['start 65001', 'addPeer 198.51.100.12']);
  });
});
