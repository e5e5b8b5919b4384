// Dual-stack pod routing with real packets: two namespace nodes with IPv4 and IPv6 addresses and a pod CIDR of
// each family, --enable-ipv6. One iBGP session per node pair carries both families; each node installs the
// other's IPv6 pod CIDR as a proto 17 route via the other's IPv6 address, and a ping to an address inside that
// CIDR is answered. The IPv4 side keeps working next to it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Node } from 'kubernetes-types/core/v1.js';
import { haveCommand, isRoot } from '../../helpers/netns.ts';
import { createRoutingController, type RoutingControllerHandle } from '../../../src/controllers/routing/index.ts';
import { eventually, routingOptions, RoutingLab, type LabNode } from './routing-lab.ts';

const skip = !isRoot || !haveCommand('gobgpd') || !haveCommand('ipset') || !haveCommand('iptables') || !haveCommand('busybox') ? 'needs root, gobgpd, ipset, iptables and busybox' : false;

const v6Of = (node: LabNode): string => `2001:db8:100::${node.name.slice(1)}`;
const v6PodCidr = (node: LabNode): string => `2001:db8:${node.name.slice(1)}::/64`;

function dualStackNode(node: LabNode): Node {
  return {
    apiVersion: 'v1', kind: 'Node', metadata: { name: node.name },
    spec: { podCIDR: node.podCidr, podCIDRs: [node.podCidr, v6PodCidr(node)] },
    status: { addresses: [{ type: 'InternalIP', address: node.ip }, { type: 'InternalIP', address: v6Of(node) }, { type: 'Hostname', address: node.name }] },
  };
}

function proto17(node: LabNode, family: '-4' | '-6'): Map<string, string | undefined> {
  const routes = JSON.parse(node.ns.ip('-j', family, 'route', 'show', 'proto', '17')) as { dst: string; gateway?: string }[];
  return new Map(routes.map((r) => [r.dst, r.gateway]));
}

describe('dual-stack pod routing over one BGP session per node pair', { skip }, () => {
  let lab: RoutingLab;
  const handles: RoutingControllerHandle[] = [];

  before(async () => {
    lab = new RoutingLab(2, 'krt-ds');
    for (const node of lab.nodes) {
      node.ns.ip('-6', 'addr', 'add', `${v6Of(node)}/64`, 'dev', 'eth0', 'nodad');
      lab.cache.store('nodes').upsert(dualStackNode(node));
    }
    for (const node of lab.nodes) {
      const options = routingOptions(node.name, node.cniConfFile, ['--enable-ipv6=true', '--enable-pod-egress=false']);
      const ctx = { ...lab.context(node, options), node: { name: node.name, primaryIp: node.ip, ipv4: node.ip, ipv6: v6Of(node) } };
      const handle = await createRoutingController(ctx, { netns: node.ns.name, socketPath: join(lab.dir, `${node.name}.sock`) });
      handles.push(handle);
      await handle.controller.fullSync();
    }
  });

  after(async () => {
    for (const h of handles) await h.shutdown?.();
    lab?.destroy();
  });

  it('each node routes the other\'s IPv4 and IPv6 pod CIDRs via the other\'s address of that family', async () => {
    const [n1, n2] = lab.nodes as [LabNode, LabNode];
    for (const [self, other] of [[n1, n2], [n2, n1]] as const) {
      await eventually(`${self.name} learns ${other.name}'s pod CIDRs`, 30_000, () =>
        proto17(self, '-4').get(other.podCidr) === other.ip && proto17(self, '-6').get(v6PodCidr(other)) === v6Of(other));
      assert.equal(proto17(self, '-6').has(v6PodCidr(self)), false);
    }
  });

  it('an IPv6 address inside the other node\'s pod CIDR answers pings across the learned route', () => {
    const [n1, n2] = lab.nodes as [LabNode, LabNode];
    // Stand-in for a pod: an address of n2's IPv6 pod CIDR on n2 itself.
    n2.ns.ip('-6', 'addr', 'add', '2001:db8:2::10/128', 'dev', 'lo');
    const out = n1.ns.exec('busybox', ['ping', '-6', '-c', '2', '-W', '2', '2001:db8:2::10']);
    assert.match(out, /2 packets received/);
  });
});
