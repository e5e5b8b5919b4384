// rtnetlink (NETLINK_ROUTE): opening a socket, and the one import point for constants and the link,
// address, route and rule operations.
import { NETLINK_ROUTE, NetlinkSocket, type OpenOptions } from './socket.ts';

export * from './rtnl-const.ts';

/** An rtnetlink socket in this or another network namespace. */
export function openRtnetlink(opts: OpenOptions = {}): NetlinkSocket {
  return NetlinkSocket.open(NETLINK_ROUTE, opts);
}

export { createBridge, createDummy, createVeth, deleteLink, getLink, listLinks, setLinkDown, setLinkMaster, setLinkMtu, setLinkUp, decodeLink } from './rtnl-link.ts';
export { IFF_LOWER_UP, IFF_LOOPBACK, IFF_UP } from './rtnl-link.ts';
export type { Link } from './rtnl-link.ts';
export { addAddress, addAddresses, deleteAddress, deleteAddresses, listAddresses, decodeAddress } from './rtnl-addr.ts';
export { IFA_F_NODAD, IFA_F_NOPREFIXROUTE, IFA_F_PERMANENT } from './rtnl-addr.ts';
export type { Address, AddressSpec } from './rtnl-addr.ts';
export { addRoutes, deleteRoutes, listRoutes, replaceRoutes, routeWithDefaults, encodeRoute, decodeRoute } from './rtnl-route.ts';
export type { Route, RouteFilter, RouteOp } from './rtnl-route.ts';
export { addRule, deleteRule, listRules, ruleWithDefaults, decodeRule, encodeRule } from './rtnl-rule.ts';
export { FR_ACT_BLACKHOLE, FR_ACT_PROHIBIT, FR_ACT_TO_TBL, FR_ACT_UNREACHABLE } from './rtnl-rule.ts';
export type { Rule } from './rtnl-rule.ts';
