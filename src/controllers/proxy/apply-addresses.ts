// Service addresses on the node: the dummy link `kube-dummy-if` holds every ClusterIP, externalIP and
// load-balancer IP as a host address (so IPVS sees the packets in LOCAL_IN), and each gets its local route with
// the node's address as preferred source, as upstream does. The link and every address on it are ours.
import {
  addAddress, createDummy, deleteAddress, deleteLink, getLink, listAddresses, replaceRoutes, routeWithDefaults, setLinkUp,
  IFA_F_NODAD, RT_SCOPE_HOST, RT_SCOPE_LINK, RT_TABLE_LOCAL, RTN_LOCAL, RTPROT_KERNEL, type Link,
} from '../../kernel/netlink/rtnetlink.ts';
import { NetlinkError } from '../../kernel/netlink/codec.ts';
import type { NetlinkSocket } from '../../kernel/netlink/socket.ts';
import { familyOf } from '../../net/cidr.ts';
import type { Family } from './model.ts';

export const DUMMY_LINK = 'kube-dummy-if';

const ENODEV = 19;
const EEXIST = 17;
const EADDRNOTAVAIL = 99;

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
    const link = await this.ensureLink();
    const found = new Set<string>();
    for (const a of await listAddresses(this.sock, { ifindex: link.index })) found.add(a.address.slice(0, a.address.indexOf('/')));
    return found;
  }

  /** The service addresses on the link without creating it (none when it does not exist). */
  async present(): Promise<Set<string>> {
    try {
      const link = await getLink(this.sock, DUMMY_LINK);
      const found = new Set<string>();
      for (const a of await listAddresses(this.sock, { ifindex: link.index })) found.add(a.address.slice(0, a.address.indexOf('/')));
      return found;
    } catch (e) {
      if (errnoOf(e) === ENODEV) return new Set();
      throw e;
    }
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

  async add(addresses: readonly string[]): Promise<void> {
    if (addresses.length === 0) return;
    const link = this.link ?? await this.ensureLink();
    for (const address of addresses) {
      try {
        await addAddress(this.sock, { ifindex: link.index, address: hostPrefix(address), scope: RT_SCOPE_LINK, flags: IFA_F_NODAD });
      } catch (e) {
        if (errnoOf(e) === ENODEV) { this.link = undefined; return this.add(addresses); }
        if (errnoOf(e) !== EEXIST) throw e;
      }
    }
    await this.pinSources(link, addresses);
  }

  async remove(addresses: readonly string[]): Promise<void> {
    if (addresses.length === 0) return;
    const link = this.link ?? await this.ensureLink();
    for (const address of addresses) {
      try {
        await deleteAddress(this.sock, { ifindex: link.index, address: hostPrefix(address), scope: RT_SCOPE_LINK });
      } catch (e) {
        if (errnoOf(e) !== EADDRNOTAVAIL && errnoOf(e) !== ENODEV) throw e;
      }
    }
  }

  /** Full reconcile: adds the missing addresses, removes the extra ones, re-pins every local route. */
  async sync(desired: ReadonlySet<string>): Promise<{ added: number; removed: number }> {
    const present = await this.observe();
    const missing = [...desired].filter((a) => !present.has(a));
    const extra = [...present].filter((a) => !desired.has(a));
    await this.add(missing);
    await this.remove(extra);
    await this.pinSources(this.link!, [...desired].filter((a) => present.has(a)));
    return { added: missing.length, removed: extra.length };
  }

  /**
   * The kernel's local route for a host address uses that address as source; connections the node itself opens
   * to a Service would then come from the VIP. Replacing it with the node address as source is upstream's fix.
   */
  private async pinSources(link: Link, addresses: readonly string[]): Promise<void> {
    const node = this.nodeAddresses();
    const routes = addresses.flatMap((address) => {
      const family = familyOf(address);
      const src = family && node[family === 6 ? 'ipv6' : 'ipv4'];
      if (!family || !src) return [];
      return [routeWithDefaults({
        family, dst: hostPrefix(address), oif: link.index, table: RT_TABLE_LOCAL,
        protocol: RTPROT_KERNEL, scope: RT_SCOPE_HOST, type: RTN_LOCAL, src,
      })];
    });
    if (routes.length === 0) return;
    const result = await replaceRoutes(this.sock, routes);
    if (result.errors.length > 0) throw result.errors[0];
  }
}
