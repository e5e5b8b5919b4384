// Reads a test namespace's links, addresses, routes and rules through `ip -j` and reduces them to the
// same comparable strings as our decoded objects, so netlink dumps can be checked against iproute2.
import type { TestNetns } from '../../helpers/netns.ts';
import type { Address, Link, Route, Rule } from '../../../src/kernel/netlink/rtnetlink.ts';

const TABLES: Record<string, number> = { local: 255, main: 254, default: 253 };
const PROTOCOLS: Record<string, number> = { unspec: 0, redirect: 1, kernel: 2, boot: 3, static: 4, ra: 9, zebra: 11, bird: 12, dhcp: 16 };
const TYPES: Record<string, number> = { unicast: 1, local: 2, broadcast: 3, anycast: 4, multicast: 5, blackhole: 6, unreachable: 7, prohibit: 8 };
const SCOPES: Record<string, number> = { global: 0, universe: 0, site: 200, link: 253, host: 254 };

function lookup(map: Record<string, number>, value: string | number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value === 'number' || /^\d+$/.test(value)) return Number(value);
  const n = map[value];
  if (n === undefined) throw new Error(`unknown ip -j name ${value}`);
  return n;
}

function json<T>(ns: TestNetns, args: string[]): T[] {
  return JSON.parse(ns.ip('-j', ...args) || '[]') as T[];
}

export function linkKey(l: Link): string {
  return `${l.index} ${l.name} mtu ${l.mtu} up ${l.up} ${l.address} master ${l.master ?? '-'} ${l.operstate}`;
}

export function ipLinkKeys(ns: TestNetns): string[] {
  type J = { ifindex: number; ifname: string; mtu: number; flags: string[]; address: string; master?: string; operstate: string };
  const links = json<J>(ns, ['link', 'show']);
  const index = new Map(links.map((l) => [l.ifname, l.ifindex]));
  return links.map((l) => `${l.ifindex} ${l.ifname} mtu ${l.mtu} up ${l.flags.includes('UP')} ${l.address} master ${l.master ? index.get(l.master) : '-'} ${l.operstate}`);
}

export function addrKey(a: Address): string {
  return `${a.ifindex} ${a.address} scope ${a.scope}`;
}

export function ipAddrKeys(ns: TestNetns): string[] {
  type J = { ifindex: number; addr_info: Array<{ local: string; prefixlen: number; scope: string }> };
  return json<J>(ns, ['addr', 'show']).flatMap((l) =>
    l.addr_info.map((a) => `${l.ifindex} ${a.local}/${a.prefixlen} scope ${lookup(SCOPES, a.scope, 0)}`));
}

export function routeKey(r: Route): string {
  return `${r.table} ${r.type} ${r.dst} via ${r.gateway ?? '-'} oif ${r.oif ?? '-'} proto ${r.protocol} scope ${r.scope} src ${r.src ?? '-'} metric ${r.priority ?? '-'}`;
}

/** Routes of one family in every table; ip prints host prefixes without a length and 0/0 as "default". */
export function ipRouteKeys(ns: TestNetns, family: 4 | 6): string[] {
  type J = { type?: string; dst: string; gateway?: string; dev?: string; table?: string; protocol?: string; scope?: string; prefsrc?: string; metric?: number };
  const index = new Map(json<{ ifname: string; ifindex: number }>(ns, ['link', 'show']).map((l) => [l.ifname, l.ifindex]));
  const hostLen = family === 4 ? 32 : 128;
  return json<J>(ns, [`-${family}`, 'route', 'show', 'table', 'all']).map((r) => {
    const dst = r.dst === 'default' ? (family === 4 ? '0.0.0.0/0' : '::/0') : r.dst.includes('/') ? r.dst : `${r.dst}/${hostLen}`;
    const oif = r.dev === undefined ? '-' : index.get(r.dev);
    // ip leaves out the defaults: protocol boot, scope universe (always, for IPv6), type unicast, table main.
    const scope = lookup(SCOPES, r.scope, 0);
    return `${lookup(TABLES, r.table, 254)} ${lookup(TYPES, r.type, 1)} ${dst} via ${r.gateway ?? '-'} oif ${oif} proto ${lookup(PROTOCOLS, r.protocol, 3)} scope ${scope} src ${r.prefsrc ?? '-'} metric ${r.metric ?? '-'}`;
  });
}

export function ruleKey(r: Rule): string {
  return `${r.priority} from ${r.src ?? 'all'} to ${r.dst ?? 'all'} table ${r.table}`;
}

export function ipRuleKeys(ns: TestNetns, family: 4 | 6): string[] {
  type J = { priority: number; src: string; srclen?: number; dst?: string; dstlen?: number; table: string };
  const withLen = (ip: string | undefined, len: number | undefined): string =>
    ip === undefined || ip === 'all' ? 'all' : `${ip}/${len ?? (family === 4 ? 32 : 128)}`;
  return json<J>(ns, [`-${family}`, 'rule', 'show']).map((r) =>
    `${r.priority} from ${withLen(r.src, r.srclen)} to ${withLen(r.dst, r.dstlen)} table ${lookup(TABLES, r.table, 0)}`);
}

export function sorted(keys: string[]): string[] {
  return [...keys].sort();
}
