// Watches rtnetlink multicast groups (links, IPv4/IPv6 routes, optionally addresses) in this or another
// network namespace and hands decoded change events to a callback on the JS thread.
import { logger } from '../../observe/log.ts';
import { type NetlinkMessage } from './codec.ts';
import { decodeAddress, type Address } from './rtnl-addr.ts';
import {
  RTM_DELADDR, RTM_DELLINK, RTM_DELROUTE, RTM_NEWADDR, RTM_NEWLINK, RTM_NEWROUTE, RTNLGRP_IPV4_IFADDR,
  RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_IFADDR, RTNLGRP_IPV6_ROUTE, RTNLGRP_LINK,
} from './rtnl-const.ts';
import { decodeLink, type Link } from './rtnl-link.ts';
import { decodeRoute, type Route } from './rtnl-route.ts';
import { NETLINK_ROUTE, NetlinkSocket } from './socket.ts';

const log = logger('netlink-monitor');

export type RtnlEvent =
  | { kind: 'link'; action: 'new' | 'del'; link: Link }
  | { kind: 'route'; action: 'new' | 'del'; route: Route }
  | { kind: 'addr'; action: 'new' | 'del'; addr: Address };

export interface MonitorOptions {
  /** Netns file to watch instead of the process's own namespace. */
  netns?: string;
  /** Also join the IPv4/IPv6 address groups. */
  addresses?: boolean;
  onEvent: (event: RtnlEvent) => void;
  /**
   * The kernel dropped events because the receive buffer filled up; whatever the consumer mirrors
   * must be re-read with a dump.
   */
  onOverrun?: () => void;
  /** Receive buffer; bigger rides out larger bursts (e.g. a 10k-route batch) without overrun. */
  rcvbufBytes?: number;
}

/** Decodes one multicast message; undefined for message types the monitor does not report. */
export function decodeEvent(msg: NetlinkMessage): RtnlEvent | undefined {
  switch (msg.type) {
    case RTM_NEWLINK:
    case RTM_DELLINK: {
      const link = decodeLink(msg);
      return link && { kind: 'link', action: msg.type === RTM_NEWLINK ? 'new' : 'del', link };
    }
    case RTM_NEWROUTE:
    case RTM_DELROUTE: {
      const route = decodeRoute(msg);
      return route && { kind: 'route', action: msg.type === RTM_NEWROUTE ? 'new' : 'del', route };
    }
    case RTM_NEWADDR:
    case RTM_DELADDR: {
      const addr = decodeAddress(msg);
      return addr && { kind: 'addr', action: msg.type === RTM_NEWADDR ? 'new' : 'del', addr };
    }
    default:
      return undefined;
  }
}

export class RtnlMonitor {
  private constructor(private readonly sock: NetlinkSocket) {}

  /** Starts watching at once; events caused before open() returns are not reported. */
  static open(opts: MonitorOptions): RtnlMonitor {
    const sock = NetlinkSocket.open(NETLINK_ROUTE, { netns: opts.netns, rcvbufBytes: opts.rcvbufBytes ?? 16 * 1024 * 1024 });
    const groups = [RTNLGRP_LINK, RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE];
    if (opts.addresses) groups.push(RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR);
    try {
      sock.subscribe(groups, (messages, overrun) => {
        if (overrun) {
          log.warn({ netns: opts.netns }, 'netlink multicast overrun: events were lost');
          opts.onOverrun?.();
        }
        for (const msg of messages) {
          const event = decodeEvent(msg);
          if (!event) continue;
          try {
            opts.onEvent(event);
          } catch (err) {
            // A throwing consumer must not stop delivery of the remaining events.
            log.error({ err }, 'netlink event handler failed');
          }
        }
      });
    } catch (err) {
      void sock.close();
      throw err;
    }
    return new RtnlMonitor(sock);
  }

  close(): Promise<void> {
    return this.sock.close();
  }
}
