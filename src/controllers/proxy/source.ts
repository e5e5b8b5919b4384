// The proxy's view of the cluster and of this node: Services and their EndpointSlices from the shared cache,
// and the node's addresses (the best per family from the Node object; with --nodeport-bindon-all-ip every
// usable local address, read from the kernel at each full sync).
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { INDEX } from '../../kube/cluster-cache.ts';
import { bestNodeIP } from '../../kube/node-identity.ts';
import { LastGoodPodCidrs } from '../../kube/pod-cidrs.ts';
import { listAddresses, listLinks } from '../../kernel/netlink/rtnetlink.ts';
import type { NetlinkSocket } from '../../kernel/netlink/socket.ts';
import type { ControllerContext } from '../context.ts';
import { DUMMY_LINK } from './apply-addresses.ts';
import type { ProxySource } from './controller.ts';
import type { Family } from './model.ts';
import type { ProxyNode } from './plan-service.ts';

/** Links whose addresses never carry NodePorts (upstream's rule for --nodeport-bindon-all-ip). */
const NODEPORT_EXCLUDED_LINK = /dummy|kube|docker/;

export interface LocalAddresses {
  /** Every address on the node, any link. */
  all: Set<string>;
  /** The node's own addresses: every link but the dummy link holding the service addresses. */
  host: Set<string>;
  /** Addresses NodePorts may listen on with --nodeport-bindon-all-ip, per family. */
  nodePort: Record<Family, string[]>;
}

/** Reads the node's addresses over rtnetlink (loopback and link-local excluded from the NodePort list). */
export async function readLocalAddresses(sock: NetlinkSocket): Promise<LocalAddresses> {
  const links = new Map((await listLinks(sock)).map((l) => [l.index, l]));
  const out: LocalAddresses = { all: new Set(), host: new Set(), nodePort: { ipv4: [], ipv6: [] } };
  for (const a of await listAddresses(sock)) {
    const address = a.address.slice(0, a.address.indexOf('/'));
    out.all.add(address);
    const link = links.get(a.ifindex);
    if (link?.name !== DUMMY_LINK) out.host.add(address);
    if (!link || NODEPORT_EXCLUDED_LINK.test(link.name) || (link.flags & 0x8) !== 0) continue;
    if (a.family === 6 && address.toLowerCase().startsWith('fe80:')) continue;
    out.nodePort[a.family === 6 ? 'ipv6' : 'ipv4'].push(address);
  }
  out.nodePort.ipv4.sort();
  out.nodePort.ipv6.sort();
  return out;
}

export interface CacheSource extends ProxySource {
  /** The local addresses as last read. */
  localAddresses(): LocalAddresses;
}

export function cacheSource(ctx: ControllerContext, sock: NetlinkSocket): CacheSource {
  const services = ctx.cache.store('services');
  const slices = ctx.cache.store('endpointslices');
  let local: LocalAddresses = { all: new Set(), host: new Set(), nodePort: { ipv4: [], ipv6: [] } };
  const podCidrs = new LastGoodPodCidrs();
  return {
    services: () => services.list() as Service[],
    service: (key) => services.get(key) as Service | undefined,
    slicesOf: (key) => slices.byIndex(INDEX.service, key) as EndpointSlice[],
    slice: (key) => slices.get(key) as EndpointSlice | undefined,
    node(): ProxyNode | undefined {
      const node = ctx.currentNode();
      if (!node) return undefined;
      const addresses: ProxyNode['addresses'] = {};
      const v4 = bestNodeIP(node, 4) ?? ctx.node.ipv4;
      const v6 = bestNodeIP(node, 6) ?? ctx.node.ipv6;
      if (v4) addresses.ipv4 = v4;
      if (v6) addresses.ipv6 = v6;
      return { name: ctx.node.name, addresses, nodePortAddresses: local.nodePort, podCidrs: podCidrs.resolve(node).cidrs };
    },
    async refresh() {
      local = await readLocalAddresses(sock);
    },
    localAddresses: () => local,
  };
}
