// Overlay planning: upstream's tunnel names, subnet vs full mode, overlay off, fou ports, rules per pod CIDR,
// and the tunnel/fou diffs (orphans, encapsulation or remote changes recreate, foreign fou receivers kept).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  diffFouPorts, diffTunnels, planOverlay, tunnelCreateCommands, tunnelMatches, tunnelName,
  type ObservedTunnel, type OverlayNode, type OverlayOptions,
} from '../../../src/controllers/routing/overlay-plan.ts';

const SUBNETS = ['198.51.100.0/26', '2001:db8::/64'];
const NODE: OverlayNode = { ipv4: '198.51.100.11', ipv6: '2001:db8::11', podCidrs: ['198.18.11.0/24', '2001:db8:11::/64'] };
const IPIP: OverlayOptions = { enabled: true, type: 'subnet', encap: 'ipip', encapPort: 5555 };
const FOU: OverlayOptions = { ...IPIP, encap: 'fou', encapPort: 6000 };
const LEARNED = new Map([
  ['198.18.12.0/24', '198.51.100.12'], // same subnet
  ['198.18.70.0/24', '198.51.100.70'], // other subnet
  ['198.18.71.0/24', '198.51.100.70'], // other subnet, same node
]);

function observed(spec: Partial<ObservedTunnel> & { name: string }): ObservedTunnel {
  return { ifindex: 9, kind: 'ipip', up: true, local: '198.51.100.11', remote: '198.51.100.70', ...spec };
}

describe('tunnel names', () => {
  it('are tun- plus 11 hex digits of sha256 of the IP without dots or colons (as `sha256sum` gives)', () => {
    assert.equal(tunnelName('198.51.100.12'), 'tun-e44f6148d50');
    assert.equal(tunnelName('2001:db8::12'), 'tun-dc69032cf2b');
    assert.ok(tunnelName('2001:db8::12').length <= 15, 'fits IFNAMSIZ');
  });
});

describe('planOverlay', () => {
  it('subnet mode tunnels only next hops outside every local subnet, one tunnel per next hop', () => {
    const plan = planOverlay(LEARNED, SUBNETS, NODE, IPIP);
    const name = tunnelName('198.51.100.70');
    assert.deepEqual([...plan.tunnels.values()], [{ name, family: 4, local: '198.51.100.11', remote: '198.51.100.70', encap: 'ipip' }]);
    assert.deepEqual([...plan.tunnelOfPrefix], [['198.18.70.0/24', name], ['198.18.71.0/24', name]]);
  });

  it('full mode tunnels every next hop, same subnet included', () => {
    const plan = planOverlay(LEARNED, SUBNETS, NODE, { ...IPIP, type: 'full' });
    assert.deepEqual([...plan.tunnels.keys()].sort(), [tunnelName('198.51.100.12'), tunnelName('198.51.100.70')].sort());
    assert.equal(plan.tunnelOfPrefix.size, 3);
  });

  it('adds a from-pod-CIDR rule per pod CIDR of each family', () => {
    const plan = planOverlay(LEARNED, SUBNETS, NODE, IPIP);
    assert.deepEqual(plan.rules, [{ family: 4, src: '198.18.11.0/24' }, { family: 6, src: '2001:db8:11::/64' }]);
    assert.deepEqual(plan.fouPorts, [], 'no fou port with ipip');
  });

  it('overlay off plans nothing at all, so applying it removes our tunnels and rules', () => {
    const plan = planOverlay(LEARNED, SUBNETS, NODE, { ...FOU, enabled: false });
    assert.equal(plan.tunnels.size + plan.tunnelOfPrefix.size + plan.rules.length + plan.fouPorts.length, 0);
  });

  it('without this node identity (before the first sync) nothing is planned', () => {
    assert.equal(planOverlay(LEARNED, SUBNETS, undefined, IPIP).tunnels.size, 0);
  });

  it('fou tunnels carry the port and a gue receiver exists per family this node has an IP of', () => {
    const plan = planOverlay(LEARNED, SUBNETS, { ipv4: '198.51.100.11', podCidrs: [] }, FOU);
    assert.equal([...plan.tunnels.values()][0]?.encapPort, 6000);
    assert.deepEqual(plan.fouPorts, [{ family: 4, port: 6000, gue: true }]);
  });

  it('an IPv6 next hop gets an ip6tnl tunnel from our IPv6 address, and none when we have no IPv6 address', () => {
    const learned = new Map([['2001:db8:70::/64', '2001:db8:1::70']]);
    const spec = [...planOverlay(learned, SUBNETS, NODE, IPIP).tunnels.values()][0];
    assert.deepEqual(spec, { name: tunnelName('2001:db8:1::70'), family: 6, local: '2001:db8::11', remote: '2001:db8:1::70', encap: 'ipip' });
    assert.equal(planOverlay(learned, SUBNETS, { ipv4: '198.51.100.11', podCidrs: [] }, IPIP).tunnels.size, 0);
  });
});

describe('diffTunnels', () => {
  const desired = planOverlay(LEARNED, SUBNETS, NODE, IPIP).tunnels;
  const name = tunnelName('198.51.100.70');

  it('creates missing tunnels and removes orphans whose remote is no longer a next hop', () => {
    const orphan = tunnelName('198.51.100.99');
    const diff = diffTunnels([observed({ name: orphan, remote: '198.51.100.99' })], desired);
    assert.deepEqual(diff.remove, [orphan]);
    assert.deepEqual(diff.create.map((t) => t.name), [name]);
  });

  it('leaves a matching tunnel alone and only brings it up when down', () => {
    assert.deepEqual(diffTunnels([observed({ name })], desired), { create: [], remove: [], setUp: [] });
    assert.deepEqual(diffTunnels([observed({ name, up: false })], desired).setUp, [name]);
  });

  it('recreates a tunnel whose encapsulation changed (ipip <-> fou, or another fou port)', () => {
    const fouDesired = planOverlay(LEARNED, SUBNETS, NODE, FOU).tunnels;
    const plain = diffTunnels([observed({ name })], fouDesired);
    assert.deepEqual([plain.remove, plain.create.map((t) => t.name)], [[name], [name]]);
    const gue = observed({ name, encapType: 'gue', encapDport: 5555 });
    assert.deepEqual(diffTunnels([gue], desired).remove, [name], 'fou -> ipip');
    assert.deepEqual(diffTunnels([gue], fouDesired).remove, [name], 'fou port 5555 -> 6000');
    assert.ok(tunnelMatches({ ...gue, encapDport: 6000 }, fouDesired.get(name)!));
  });

  it('recreates a tunnel whose local end moved', () => {
    assert.deepEqual(diffTunnels([observed({ name, local: '198.51.100.20' })], desired).remove, [name]);
  });
});

describe('diffFouPorts', () => {
  it('adds the desired gue port and removes only gue ports we used, never ipproto or other gue ports', () => {
    const diff = diffFouPorts(
      [{ family: 4, port: 5555, gue: true }, { family: 4, port: 7777, gue: true }, { family: 4, port: 6000, gue: false }],
      [{ family: 4, port: 6000, gue: true }],
      new Set([5555, 6000]),
    );
    assert.deepEqual(diff.add, [{ family: 4, port: 6000, gue: true }]);
    assert.deepEqual(diff.remove, [{ family: 4, port: 5555, gue: true }]);
  });
});

describe('tunnelCreateCommands', () => {
  it('ipip: plain tunnel; fou: gue encapsulation with TTL 225; IPv6: ip6tnl in ip6ip6 mode', () => {
    const [v4] = [...planOverlay(LEARNED, SUBNETS, NODE, FOU).tunnels.values()];
    assert.deepEqual(tunnelCreateCommands(v4!), [
      `link add name ${v4!.name} type ipip local 198.51.100.11 remote 198.51.100.70 ttl 225 encap gue encap-sport auto encap-dport 6000`,
      `link set ${v4!.name} up`,
    ]);
    const v6 = { name: 'tun-00000000000', family: 6 as const, local: '2001:db8::11', remote: '2001:db8:1::70', encap: 'ipip' as const };
    assert.equal(tunnelCreateCommands(v6)[0], 'link add name tun-00000000000 type ip6tnl local 2001:db8::11 remote 2001:db8:1::70 mode ip6ip6');
  });
});
