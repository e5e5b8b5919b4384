// Upstream kube-router's policy model (defined sets, export/import policies, global assignments) expressed in our
// vocabulary translates to gobgp API JSON and back; replacing a set becomes the right add/remove deltas.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  assignmentFromApi, definedSetDelta, definedSetFromApi, definedSetToApi, globalAssignmentToApi, policyFromApi, policyToApi,
} from '../../../src/bgp/gobgp-policy-messages.ts';
import type { ApiDefinedSet } from '../../../src/bgp/gobgp-api-types.ts';
import type { DefinedSet, Policy } from '../../../src/bgp/speaker.ts';

describe('defined sets', () => {
  const cases: [string, DefinedSet, ApiDefinedSet][] = [
    [
      'pod CIDR set: exact-length matches by default',
      { kind: 'prefix', name: 'podcidrdefinedset', prefixes: [{ prefix: '198.18.1.0/24' }] },
      { definedType: 'PREFIX', name: 'podcidrdefinedset', prefixes: [{ ipPrefix: '198.18.1.0/24', maskLengthMin: 24, maskLengthMax: 24 }] },
    ],
    [
      'custom import-reject set: mask length up to the family maximum',
      { kind: 'prefix', name: 'customimportrejectdefinedsetv6', prefixes: [{ prefix: '2001:DB8::/32', maskLengthMax: 128 }] },
      { definedType: 'PREFIX', name: 'customimportrejectdefinedsetv6', prefixes: [{ ipPrefix: '2001:db8::/32', maskLengthMin: 32, maskLengthMax: 128 }] },
    ],
    [
      'default-route set',
      { kind: 'prefix', name: 'defaultroutedefinedset', prefixes: [{ prefix: '0.0.0.0/0' }] },
      { definedType: 'PREFIX', name: 'defaultroutedefinedset', prefixes: [{ ipPrefix: '0.0.0.0/0', maskLengthMin: 0, maskLengthMax: 0 }] },
    ],
    [
      'neighbor set: bare addresses become host prefixes',
      { kind: 'neighbor', name: 'iBGPpeerset', neighbors: ['198.51.100.2', '2001:db8::2', '198.18.0.0/16'] },
      { definedType: 'NEIGHBOR', name: 'iBGPpeerset', list: ['198.51.100.2/32', '2001:db8::2/128', '198.18.0.0/16'] },
    ],
    [
      'community set',
      { kind: 'community', name: 'tagged', communities: ['64999:100', '^65000:.*$'] },
      { definedType: 'COMMUNITY', name: 'tagged', list: ['64999:100', '^65000:.*$'] },
    ],
  ];
  for (const [name, set, expected] of cases) {
    it(name, () => assert.deepEqual(definedSetToApi(set), { ok: true, value: expected }));
  }

  it('rejects bad prefixes, bad mask ranges, bad neighbors and nameless sets', () => {
    assert.equal(definedSetToApi({ kind: 'prefix', name: 'x', prefixes: [{ prefix: 'pods' }] }).ok, false);
    assert.equal(definedSetToApi({ kind: 'prefix', name: 'x', prefixes: [{ prefix: '198.18.0.0/16', maskLengthMin: 24, maskLengthMax: 20 }] }).ok, false);
    assert.equal(definedSetToApi({ kind: 'prefix', name: 'x', prefixes: [{ prefix: '198.18.0.0/16', maskLengthMax: 33 }] }).ok, false);
    assert.equal(definedSetToApi({ kind: 'neighbor', name: 'x', neighbors: ['node-2'] }).ok, false);
    assert.equal(definedSetToApi({ kind: 'community', name: '', communities: [] }).ok, false);
  });

  it('reads listed sets back, including PREFIX sets whose zero-valued type gobgp leaves out', () => {
    assert.deepEqual(definedSetFromApi({ name: 'p', prefixes: [{ ipPrefix: '0.0.0.0/0' }] }, 'prefix'),
      { kind: 'prefix', name: 'p', prefixes: [{ prefix: '0.0.0.0/0', maskLengthMin: 0, maskLengthMax: 0 }] });
    assert.deepEqual(definedSetFromApi({ definedType: 'NEIGHBOR', name: 'n', list: ['198.51.100.2/32'] }, 'neighbor'),
      { kind: 'neighbor', name: 'n', neighbors: ['198.51.100.2/32'] });
  });

  it('replacing a set adds only missing elements and removes only extra ones', () => {
    const current: ApiDefinedSet = { name: 'svc', prefixes: [
      { ipPrefix: '198.18.0.10/32', maskLengthMin: 32, maskLengthMax: 32 },
      { ipPrefix: '198.18.0.11/32', maskLengthMin: 32, maskLengthMax: 32 },
    ] };
    const desired: ApiDefinedSet = { definedType: 'PREFIX', name: 'svc', prefixes: [
      { ipPrefix: '198.18.0.11/32', maskLengthMin: 32, maskLengthMax: 32 },
      { ipPrefix: '198.18.0.12/32', maskLengthMin: 32, maskLengthMax: 32 },
    ] };
    assert.deepEqual(definedSetDelta(current, desired), {
      add: { definedType: 'PREFIX', name: 'svc', prefixes: [{ ipPrefix: '198.18.0.12/32', maskLengthMin: 32, maskLengthMax: 32 }] },
      remove: { definedType: 'PREFIX', name: 'svc', prefixes: [{ ipPrefix: '198.18.0.10/32', maskLengthMin: 32, maskLengthMax: 32 }] },
    });
    assert.deepEqual(definedSetDelta(desired, desired), {});
    const neighbors = definedSetDelta({ definedType: 'NEIGHBOR', name: 'n', list: ['198.51.100.2/32'] }, { definedType: 'NEIGHBOR', name: 'n', list: [] });
    assert.deepEqual(neighbors, { remove: { definedType: 'NEIGHBOR', name: 'n', list: ['198.51.100.2/32'] } });
  });
});

describe('policies and assignments', () => {
  // The shape of upstream's kube_router_export<N>: pod CIDRs to iBGP peers; VIPs and pod CIDRs to external peers
  // with AS-path prepend, communities and next-hop self.
  const exportPolicy: Policy = {
    name: 'kube_router_export1',
    statements: [
      { name: 'pods-ibgp', conditions: { prefixSet: { name: 'podcidrdefinedset' }, neighborSet: { name: 'iBGPpeerset' } }, actions: { route: 'accept' } },
      {
        name: 'vips-external',
        conditions: { prefixSet: { name: 'servicevipsdefinedset' }, neighborSet: { name: 'externalpeerset' } },
        actions: { route: 'accept', asPathPrepend: { asn: 64512, repeat: 3 }, addCommunities: ['64999:100', 'no-export'], nextHopSelf: true },
      },
      { name: 'not-tagged', conditions: { communitySet: { name: 'tagged', match: 'invert' } }, actions: { route: 'reject' } },
    ],
  };

  it('an export policy becomes gobgp statements with conditions and actions', () => {
    assert.deepEqual(policyToApi(exportPolicy), {
      ok: true,
      value: {
        name: 'kube_router_export1',
        statements: [
          { name: 'pods-ibgp', conditions: { prefixSet: { type: 'ANY', name: 'podcidrdefinedset' }, neighborSet: { type: 'ANY', name: 'iBGPpeerset' } }, actions: { routeAction: 'ACCEPT' } },
          {
            name: 'vips-external',
            conditions: { prefixSet: { type: 'ANY', name: 'servicevipsdefinedset' }, neighborSet: { type: 'ANY', name: 'externalpeerset' } },
            actions: { routeAction: 'ACCEPT', community: { type: 'ADD', communities: ['64999:100', '65535:65281'] }, asPrepend: { asn: 64512, repeat: 3 }, nexthop: { self: true } },
          },
          { name: 'not-tagged', conditions: { communitySet: { type: 'INVERT', name: 'tagged' } }, actions: { routeAction: 'REJECT' } },
        ],
      },
    });
  });

  it('a listed policy reads back as the policy we added (communities in canonical form, zero enums left out)', () => {
    const built = policyToApi(exportPolicy);
    assert.ok(built.ok);
    // gobgp omits proto3 zero values: MatchSet type ANY and CommunityAction type ADD.
    const listed = JSON.parse(JSON.stringify(built.value).replaceAll('"type":"ANY",', '').replaceAll('"type":"ADD",', ''));
    const back = policyFromApi(listed);
    const expected = structuredClone(exportPolicy);
    expected.statements[1]!.actions.addCommunities = ['64999:100', '65535:65281'];
    for (const s of expected.statements) for (const c of Object.values(s.conditions)) c.match ??= 'any';
    assert.deepEqual(back, expected);
  });

  it('rejects a policy with an unparsable community', () => {
    assert.equal(policyToApi({ name: 'p', statements: [{ name: 's', conditions: {}, actions: { route: 'accept', addCommunities: ['nope'] } }] }).ok, false);
  });

  it('global assignments name the policies and the default action', () => {
    assert.deepEqual(globalAssignmentToApi('export', { policies: ['kube_router_export2'], defaultAction: 'reject' }),
      { name: 'global', direction: 'EXPORT', policies: [{ name: 'kube_router_export2' }], defaultAction: 'REJECT' });
    assert.deepEqual(globalAssignmentToApi('import', { policies: [], defaultAction: 'accept' }),
      { name: 'global', direction: 'IMPORT', policies: [], defaultAction: 'ACCEPT' });
    assert.deepEqual(assignmentFromApi({ name: 'global', direction: 'EXPORT', policies: [{ name: 'a' }], defaultAction: 'REJECT' }), { policies: ['a'], defaultAction: 'reject' });
    assert.deepEqual(assignmentFromApi(undefined), { policies: [], defaultAction: 'accept' });
  });
});
