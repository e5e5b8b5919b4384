// Service addresses on the node: the dummy link `kube-dummy-if` holds every ClusterIP, externalIP and
// load-balancer IP as a host address (so IPVS sees the packets in LOCAL_IN), and each gets its local route with
// the node's address as preferred source, as upstream does. The link, every address on it and the IPv6 local
// routes we pin for them are ours.
import {
  addAddresses, createDummy, deleteAddresses, deleteLink, deleteRoutes, getLink, listAddresses, replaceRoutes, routeWithDefaults, setLinkUp,
  IFA_F_NODAD, ROUTE_PROTOCOL_KUBE_ROUTER, RT_SCOPE_HOST, RT_SCOPE_LINK, RT_TABLE_LOCAL, RTN_LOCAL, RTPROT_KERNEL, type Link, type Route,
} from '../../kernel/netlink/rtnetlink.ts';
import { NetlinkError } from '../../kernel/netlink/codec.ts';
import type { NetlinkSocket } from '../../kernel/netlink/socket.ts';
import { familyOf } from '../../net/cidr.ts';
import type { Family } from './model.ts';

export const DUMMY_LINK = 'kube-dummy-if';

const ENODEV = 19;
const EEXIST = 17;
const EADDRNOTAVAIL = 99;
const ESRCH = 3;

const errnoOf = (e: unknown): number | undefined => (e instanceof NetlinkError ? e.errno : undefined);
const hostPrefix = (address: string) => `${address}/${familyOf(address) === 6 ? 128 : 32}`;

export class AddressApplier {
  private link: Link | undefined;

  constructor(private readonly sock: NetlinkSocket, private readonly nodeAddresses: () => Partial<Record<Family, string>>) {}

  /** The dummy link, created and set up when missing. */
  async ensureLink(): Promise<Link> {
    try {
      this.link = await getLink(this.sock, DUMMY_LINK);
    } catch (e) {
      if (errnoOf(e) !== ENODEV) throw e;
      try {
        await createDummy(this.sock, DUMMY_LINK);
      } catch (c) {
        if (errnoOf(c) !== EEXIST) throw c;
      }
      this.link = await getLink(this.sock, DUMMY_LINK);
    }
    if (!this.link.up) await setLinkUp(this.sock, this.link.index);
    return this.link;
  }

  /** The service addresses now on the link (host addresses only, without the prefix length). */
  async observe(): Promise<Set<string>> {
    return this.addressesOn(await this.ensureLink());
  }

  /** The service addresses on the link without creating it (none when it does not exist). */
  async present(): Promise<Set<string>> {
    try {
      return await this.addressesOn(await getLink(this.sock, DUMMY_LINK));
    } catch (e) {
      if (errnoOf(e) === ENODEV) return new Set();
      throw e;
    }
  }

  private async addressesOn(link: Link): Promise<Set<string>> {
    const found = new Set<string>();
    // Only host prefixes are service addresses: the kernel's own fe80::/64 on the link is not ours to delete.
    for (const a of await listAddresses(this.sock, { ifindex: link.index })) {
      const slash = a.address.indexOf('/');
      const length = Number(a.address.slice(slash + 1));
      if (length === (a.address.includes(':') ? 128 : 32)) found.add(a.address.slice(0, slash));
    }
    return found;
  }

  /** Deletes the dummy link and with it every service address (--cleanup-config). */
  async removeLink(): Promise<void> {
    try {
      const link = await getLink(this.sock, DUMMY_LINK);
      await deleteLink(this.sock, link.index);
    } catch (e) {
      if (errnoOf(e) !== ENODEV) throw e;
    }
    this.link = undefined;
  }

  /** Adds the addresses (one batched exchange; present ones are fine) and pins their local routes' source. */
  async add(addresses: readonly string[]): Promise<void> {
    if (addresses.length === 0) return;
    let link = this.link ?? await this.ensureLink();
    const specs = (l: Link) => addresses.map((address) => ({ ifindex: l.index, address: hostPrefix(address), scope: RT_SCOPE_LINK, flags: IFA_F_NODAD }));
    let result = await addAddresses(this.sock, specs(link));
    if (result.errors.some((e) => e.errno === ENODEV)) {
      // The link went away behind our back: make it again, once.
      this.link = undefined;
      link = await this.ensureLink();
      result = await addAddresses(this.sock, specs(link));
    }
    const refused = result.errors.find((e) => e.errno !== EEXIST);
    if (refused) throw refused;
    await this.pin(addresses);
  }

  /** Removes the addresses (one batched exchange; absent ones are fine). */
  async remove(addresses: readonly string[]): Promise<void> {
    if (addresses.length === 0) return;
    const link = this.link ?? await this.ensureLink();
    const result = await deleteAddresses(this.sock, addresses.map((address) => ({ ifindex: link.index, address: hostPrefix(address), scope: RT_SCOPE_LINK })));
    const refused = result.errors.find((e) => e.errno !== EADDRNOTAVAIL && e.errno !== ENODEV);
    if (refused) throw refused;
    await this.unpin(addresses, link);
  }

  /**
   * The kernel's local route for a host address uses that address as source; connections the node itself opens
   * to a Service would then come from the VIP. Replacing it with the node address as source is upstream's fix.
   */
  async pin(addresses: readonly string[]): Promise<void> {
    if (addresses.length === 0) return;
    const link = this.link ?? await this.ensureLink();
    const node = this.nodeAddresses();
    const pinned = addresses.flatMap((address) => {
      const family = familyOf(address);
      const src = family && node[family === 6 ? 'ipv6' : 'ipv4'];
      return family && src ? [pinnedLocalRoutes(address, link.index, src)] : [];
    });
    if (pinned.length === 0) return;
    const result = await replaceRoutes(this.sock, pinned.map((p) => p.route));
    if (result.errors.length > 0) throw result.errors[0];
    // IPv6 only: the kernel's own route (metric 0) would win over ours; absent already is fine.
    const shadowing = pinned.flatMap((p) => (p.shadowing ? [p.shadowing] : []));
    if (shadowing.length === 0) return;
    const deleted = await deleteRoutes(this.sock, shadowing);
    const refused = deleted.errors.find((e) => e.errno !== ESRCH);
    if (refused) throw refused;
  }

  /** Deletes the pinned IPv6 local routes of removed addresses (the kernel drops only its own with the address). */
  private async unpin(addresses: readonly string[], link: Link): Promise<void> {
    const ours = addresses.filter((a) => familyOf(a) === 6).map((a) => pinnedLocalRoutes(a, link.index).route);
    if (ours.length === 0) return;
    const result = await deleteRoutes(this.sock, ours);
    const refused = result.errors.find((e) => e.errno !== ESRCH);
    if (refused) throw refused;
  }
}

/**
 * The local route that makes `address` local with `src` as the preferred source, and for IPv6 the kernel's route it
 * must replace. IPv4: a replace of the kernel's route itself (same table, destination and metric 0). IPv6: user
 * routes cannot have metric 0 (the kernel turns 0 into 1024), so ours is a second route, stamped with kube-router's
 * protocol, and the kernel's (protocol kernel, metric 0, which would win) is deleted by protocol; the kernel no longer
 * knows ours belongs to the address, so removing the address means deleting ours too.
 */
export function pinnedLocalRoutes(address: string, ifindex: number, src?: string): { route: Route; shadowing?: Route } {
  const local = { dst: hostPrefix(address), oif: ifindex, table: RT_TABLE_LOCAL, scope: RT_SCOPE_HOST, type: RTN_LOCAL, ...(src ? { src } : {}) };
  if (familyOf(address) !== 6) return { route: routeWithDefaults({ ...local, protocol: RTPROT_KERNEL }) };
  return {
    route: routeWithDefaults({ ...local, protocol: ROUTE_PROTOCOL_KUBE_ROUTER }),
    shadowing: routeWithDefaults({ dst: local.dst, oif: ifindex, table: RT_TABLE_LOCAL, scope: RT_SCOPE_HOST, type: RTN_LOCAL, protocol: RTPROT_KERNEL }),
  };
}
