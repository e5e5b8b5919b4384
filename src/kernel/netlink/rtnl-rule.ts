// Policy routing rules over rtnetlink ("from 198.51.100.0/24 lookup 77"): the Rule model, fib_rule_hdr +
// FRA_* encoding/decoding, dump, add and delete, IPv4 and IPv6.
import { NLM_F_CREATE, NLM_F_EXCL, zeroed, attr, attrString, attrU32, attrU8, parseAttrs, readString, readU32, readU8, type NetlinkMessage } from './codec.ts';
import type { IpFamily } from '../../net/ip.ts';
import { bytesToCidr, cidrToBytes, familyOf } from '../../net/cidr.ts';
import { afToFamily, familyToAf } from './address-family.ts';
import { RTM_DELRULE, RTM_GETRULE, RTM_NEWRULE, RT_TABLE_UNSPEC } from './rtnl-const.ts';
import type { NetlinkSocket } from './socket.ts';

const FIB_RULE_HDR_LEN = 12;
const FRA_DST = 1;
const FRA_SRC = 2;
const FRA_IIFNAME = 3;
const FRA_PRIORITY = 6;
const FRA_FWMARK = 10;
const FRA_TABLE = 15;
const FRA_FWMASK = 16;
const FRA_OIFNAME = 17;
const FRA_PROTOCOL = 21;
const FIB_RULE_INVERT = 0x2;

export const FR_ACT_TO_TBL = 1;
export const FR_ACT_BLACKHOLE = 6;
export const FR_ACT_UNREACHABLE = 7;
export const FR_ACT_PROHIBIT = 8;

export interface Rule {
  family: IpFamily;
  /** Preference; the kernel picks one below the lowest existing non-zero rule when omitted on add. */
  priority?: number;
  /** Source prefix ('from'); absent means all sources. */
  src?: string;
  /** Destination prefix ('to'). */
  dst?: string;
  table: number;
  /** FR_ACT_*: lookup a table (default) or blackhole/unreachable/prohibit. */
  action: number;
  iifname?: string;
  oifname?: string;
  fwmark?: number;
  fwmask?: number;
  /** Who installed it (RTPROT_*); the kernel records 0 when the request has none. */
  protocol?: number;
  /** 'not': the rule applies when the selector does not match. */
  invert?: boolean;
}

/** A Rule from its selector and table, defaulting the family from src/dst and the action to lookup. */
export function ruleWithDefaults(spec: Partial<Rule> & { table: number }): Rule {
  const prefix = spec.src ?? spec.dst;
  const family = spec.family ?? (prefix ? familyOf(prefix) : 4);
  if (family === undefined) throw new TypeError(`not a CIDR: ${prefix}`);
  return { action: FR_ACT_TO_TBL, ...spec, family };
}

export function encodeRule(rule: Rule): Buffer {
  const src = rule.src === undefined ? undefined : cidrToBytes(rule.src);
  const dst = rule.dst === undefined ? undefined : cidrToBytes(rule.dst);
  const header = zeroed(FIB_RULE_HDR_LEN);
  header.writeUInt8(familyToAf(rule.family), 0);
  header.writeUInt8(dst?.prefixLength ?? 0, 1);
  header.writeUInt8(src?.prefixLength ?? 0, 2);
  header.writeUInt8(rule.table < 256 ? rule.table : RT_TABLE_UNSPEC, 4);
  header.writeUInt8(rule.action, 7);
  header.writeUInt32LE(rule.invert ? FIB_RULE_INVERT : 0, 8);
  const attrs = [attrU32(FRA_TABLE, rule.table)];
  if (rule.priority !== undefined) attrs.push(attrU32(FRA_PRIORITY, rule.priority));
  if (src) attrs.push(attr(FRA_SRC, src.address));
  if (dst) attrs.push(attr(FRA_DST, dst.address));
  if (rule.iifname !== undefined) attrs.push(attrString(FRA_IIFNAME, rule.iifname));
  if (rule.oifname !== undefined) attrs.push(attrString(FRA_OIFNAME, rule.oifname));
  if (rule.fwmark !== undefined) attrs.push(attrU32(FRA_FWMARK, rule.fwmark));
  if (rule.fwmask !== undefined) attrs.push(attrU32(FRA_FWMASK, rule.fwmask));
  if (rule.protocol !== undefined) attrs.push(attrU8(FRA_PROTOCOL, rule.protocol));
  return Buffer.concat([header, ...attrs]);
}

export function decodeRule(msg: NetlinkMessage): Rule | undefined {
  const p = msg.payload;
  if (p.length < FIB_RULE_HDR_LEN) return undefined;
  const family = afToFamily(p.readUInt8(0));
  if (family === undefined) return undefined;
  const a = parseAttrs(p, FIB_RULE_HDR_LEN);
  const rule: Rule = { family, table: readU32(a.get(FRA_TABLE)) ?? p.readUInt8(4), action: p.readUInt8(7) };
  // The kernel leaves FRA_PRIORITY out for priority 0 (the 'local' rule).
  rule.priority = readU32(a.get(FRA_PRIORITY)) ?? 0;
  const src = a.get(FRA_SRC);
  if (src) rule.src = bytesToCidr(src, p.readUInt8(2));
  const dst = a.get(FRA_DST);
  if (dst) rule.dst = bytesToCidr(dst, p.readUInt8(1));
  const iif = a.get(FRA_IIFNAME);
  if (iif) rule.iifname = readString(iif);
  const oif = a.get(FRA_OIFNAME);
  if (oif) rule.oifname = readString(oif);
  const fwmark = readU32(a.get(FRA_FWMARK));
  if (fwmark !== undefined) rule.fwmark = fwmark;
  const fwmask = readU32(a.get(FRA_FWMASK));
  if (fwmask !== undefined) rule.fwmask = fwmask;
  const protocol = readU8(a.get(FRA_PROTOCOL));
  if (protocol !== undefined) rule.protocol = protocol;
  if (p.readUInt32LE(8) & FIB_RULE_INVERT) rule.invert = true;
  return rule;
}

export async function listRules(sock: NetlinkSocket, filter: { family?: IpFamily; table?: number } = {}): Promise<Rule[]> {
  const request = zeroed(FIB_RULE_HDR_LEN);
  request.writeUInt8(filter.family === undefined ? 0 : familyToAf(filter.family), 0);
  const out: Rule[] = [];
  for (const msg of await sock.dump(RTM_GETRULE, request)) {
    const rule = msg.type === RTM_NEWRULE ? decodeRule(msg) : undefined;
    if (!rule) continue;
    if (filter.family !== undefined && rule.family !== filter.family) continue;
    if (filter.table !== undefined && rule.table !== filter.table) continue;
    out.push(rule);
  }
  return out;
}

/** Adds a rule; rejects with NetlinkError EEXIST when an identical rule exists. */
export async function addRule(sock: NetlinkSocket, rule: Rule): Promise<void> {
  await sock.request(RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, encodeRule(rule));
}

/** Deletes the first rule matching every field given; rejects with NetlinkError ENOENT when none does. */
export async function deleteRule(sock: NetlinkSocket, rule: Rule): Promise<void> {
  await sock.request(RTM_DELRULE, 0, encodeRule(rule));
}
