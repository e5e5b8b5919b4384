// Routes over rtnetlink: the Route model, rtmsg + RTA_* encoding/decoding, dumps across all tables
// with table/protocol filters, and batched add/replace/delete.
import { NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE, zeroed, attr, attrU32, parseAttrs, readU32, type NetlinkMessage } from './codec.ts';
import { bytesToIp, ipToBytes, type IpFamily } from '../../net/ip.ts';
import { bytesToCidr, cidrToBytes, familyOf } from '../../net/cidr.ts';
import { afToFamily, familyToAf } from './address-family.ts';
import {
  ROUTE_PROTOCOL_KUBE_ROUTER, RTM_DELROUTE, RTM_GETROUTE, RTM_NEWROUTE, RTN_UNICAST, RT_SCOPE_LINK,
  RT_SCOPE_NOWHERE, RT_SCOPE_UNIVERSE, RT_TABLE_MAIN, RT_TABLE_UNSPEC,
} from './rtnl-const.ts';
import type { BatchOptions, BatchResult, NetlinkSocket, RequestMessage } from './socket.ts';

const RTMSG_LEN = 12;
const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_PRIORITY = 6;
const RTA_PREFSRC = 7;
const RTA_TABLE = 15;

export interface Route {
  family: IpFamily;
  /** Destination prefix, always with a length: '198.51.100.0/24', '0.0.0.0/0', '2001:db8::/64'. */
  dst: string;
  gateway?: string;
  /** Output interface index. */
  oif?: number;
  table: number;
  /** Who installed it (RTPROT_*, ROUTE_PROTOCOL_KUBE_ROUTER). */
  protocol: number;
  scope: number;
  /** RTN_* (unicast, local, blackhole, ...). */
  type: number;
  /** Preferred source address (RTA_PREFSRC; `ip route ... src X`). */
  src?: string;
  /** Metric. */
  priority?: number;
}

export interface RouteFilter {
  family?: IpFamily;
  table?: number;
  protocol?: number;
}

/**
 * A complete Route from the fields that matter: main table, kube-router's protocol, unicast, and the
 * scope iproute2 would choose (link for an IPv4 route without a gateway, universe otherwise).
 */
export function routeWithDefaults(spec: Partial<Route> & { dst: string }): Route {
  const family = familyOf(spec.dst);
  if (family === undefined) throw new TypeError(`not a CIDR: ${spec.dst}`);
  const scope = spec.scope ?? (family === 4 && spec.gateway === undefined ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE);
  return { table: RT_TABLE_MAIN, protocol: ROUTE_PROTOCOL_KUBE_ROUTER, type: RTN_UNICAST, ...spec, family, scope };
}

export type RouteOp = 'add' | 'replace' | 'delete';

/** The RTM_NEWROUTE/RTM_DELROUTE request for one route (NLM_F_REQUEST|NLM_F_ACK are added on send). */
export function encodeRoute(route: Route, op: RouteOp): RequestMessage {
  const dst = cidrToBytes(route.dst);
  if (dst.family !== route.family) throw new TypeError(`route ${route.dst} is not IPv${route.family}`);
  const header = zeroed(RTMSG_LEN);
  header.writeUInt8(familyToAf(route.family), 0);
  header.writeUInt8(dst.prefixLength, 1);
  header.writeUInt8(route.table < 256 ? route.table : RT_TABLE_UNSPEC, 4);
  header.writeUInt8(route.protocol, 5);
  // NOWHERE on delete means "any scope", as iproute2 sends; protocol and type still narrow the match.
  header.writeUInt8(op === 'delete' ? RT_SCOPE_NOWHERE : route.scope, 6);
  header.writeUInt8(route.type, 7);
  const attrs = [attrU32(RTA_TABLE, route.table)];
  if (dst.prefixLength > 0) attrs.push(attr(RTA_DST, dst.address));
  if (route.gateway !== undefined) attrs.push(attr(RTA_GATEWAY, ipToBytes(route.gateway)));
  if (route.oif !== undefined) attrs.push(attrU32(RTA_OIF, route.oif));
  if (route.src !== undefined) attrs.push(attr(RTA_PREFSRC, ipToBytes(route.src)));
  if (route.priority !== undefined) attrs.push(attrU32(RTA_PRIORITY, route.priority));
  const flags = op === 'add' ? NLM_F_CREATE | NLM_F_EXCL : op === 'replace' ? NLM_F_CREATE | NLM_F_REPLACE : 0;
  return { type: op === 'delete' ? RTM_DELROUTE : RTM_NEWROUTE, flags, payload: Buffer.concat([header, ...attrs]) };
}

/** Decodes an RTM_NEWROUTE/RTM_DELROUTE message; undefined for non-IP families (MPLS, bridge, ...). */
export function decodeRoute(msg: NetlinkMessage): Route | undefined {
  const p = msg.payload;
  if (p.length < RTMSG_LEN) return undefined;
  const family = afToFamily(p.readUInt8(0));
  if (family === undefined) return undefined;
  const a = parseAttrs(p, RTMSG_LEN);
  const dstBytes = a.get(RTA_DST) ?? zeroed(family === 4 ? 4 : 16);
  const route: Route = {
    family,
    dst: bytesToCidr(dstBytes, p.readUInt8(1)),
    table: readU32(a.get(RTA_TABLE)) ?? p.readUInt8(4),
    protocol: p.readUInt8(5),
    scope: p.readUInt8(6),
    type: p.readUInt8(7),
  };
  const gateway = a.get(RTA_GATEWAY);
  if (gateway) route.gateway = bytesToIp(gateway);
  const oif = readU32(a.get(RTA_OIF));
  if (oif !== undefined) route.oif = oif;
  const src = a.get(RTA_PREFSRC);
  if (src) route.src = bytesToIp(src);
  const priority = readU32(a.get(RTA_PRIORITY));
  if (priority !== undefined) route.priority = priority;
  return route;
}

/** Every IPv4/IPv6 route in every table, narrowed by the filter. */
export async function listRoutes(sock: NetlinkSocket, filter: RouteFilter = {}): Promise<Route[]> {
  const request = zeroed(RTMSG_LEN);
  request.writeUInt8(filter.family === undefined ? 0 : familyToAf(filter.family), 0);
  const out: Route[] = [];
  for (const msg of await sock.dump(RTM_GETROUTE, request)) {
    if (msg.type !== RTM_NEWROUTE) continue;
    const r = decodeRoute(msg);
    if (!r) continue;
    if (filter.family !== undefined && r.family !== filter.family) continue;
    if (filter.table !== undefined && r.table !== filter.table) continue;
    if (filter.protocol !== undefined && r.protocol !== filter.protocol) continue;
    out.push(r);
  }
  return out;
}

/** Adds routes that must not exist yet (EEXIST otherwise), in chunked batches. */
export function addRoutes(sock: NetlinkSocket, routes: Route[], opts?: BatchOptions): Promise<BatchResult> {
  return sock.batch(routes.map((r) => encodeRoute(r, 'add')), opts);
}

/** Creates or overwrites routes with the same destination/table/metric. */
export function replaceRoutes(sock: NetlinkSocket, routes: Route[], opts?: BatchOptions): Promise<BatchResult> {
  return sock.batch(routes.map((r) => encodeRoute(r, 'replace')), opts);
}

/** Deletes routes; a route whose protocol differs from the kernel's copy is not touched (ESRCH). */
export function deleteRoutes(sock: NetlinkSocket, routes: Route[], opts?: BatchOptions): Promise<BatchResult> {
  return sock.batch(routes.map((r) => encodeRoute(r, 'delete')), opts);
}
