// IPVS virtual services: the model (keyed by protocol+address+port or by firewall mark) and the
// IPVS_CMD_ATTR_SERVICE nest in both directions.
import { AttrWriter } from './attr-writer.ts';
import { parseAttrs, readString, readU16, readU32 } from './codec.ts';
import {
  IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP, IPVS_CMD_ATTR_SERVICE, IPVS_SVC_ATTR_ADDR, IPVS_SVC_ATTR_AF,
  IPVS_SVC_ATTR_FLAGS, IPVS_SVC_ATTR_FWMARK, IPVS_SVC_ATTR_NETMASK, IPVS_SVC_ATTR_PE_NAME, IPVS_SVC_ATTR_PORT,
  IPVS_SVC_ATTR_PROTOCOL, IPVS_SVC_ATTR_SCHED_NAME, IPVS_SVC_ATTR_STATS, IPVS_SVC_ATTR_STATS64,
  IPVS_SVC_ATTR_TIMEOUT, IPVS_SVC_F_HASHED,
} from './ipvs-const.ts';
import { decodeStatsPair, type IpvsStats } from './ipvs-stats.ts';
import { afToFamily, familyToAf } from './address-family.ts';
import { bytesToIp, ipToBytes, type IpFamily } from '../../net/ip.ts';

export type IpvsProtocol = 'tcp' | 'udp' | 'sctp';

/** A virtual server that matches packets by protocol, destination address and port (ipvsadm -t/-u/--sctp-service). */
export interface IpvsAddressKey {
  family: IpFamily;
  protocol: IpvsProtocol;
  address: string;
  port: number;
}

/** A virtual server that matches packets carrying a firewall mark (ipvsadm -f), of one address family. */
export interface IpvsFwmarkKey {
  family: IpFamily;
  fwmark: number;
}

export type IpvsServiceKey = IpvsAddressKey | IpvsFwmarkKey;

/** What a service does with the packets it matches. */
export interface IpvsServiceSettings {
  /** Scheduler name: rr, wrr, lc, wlc, dh, sh, mh, ... ('none' for no scheduler). */
  scheduler: string;
  /** IPVS_SVC_F_* bits: persistent, one-packet, scheduler flags 1-3 (never HASHED, which only the kernel sets). */
  flags: number;
  /** Persistence timeout in seconds. */
  timeout: number;
  /** Persistence granularity as a prefix length (32 or 128: per client address). */
  netmask: number;
  /** Persistence engine (e.g. 'sip'), when one is bound. */
  persistenceEngine?: string;
}

export type IpvsServiceSpec = IpvsServiceKey & IpvsServiceSettings;

/** A service as the kernel reports it: its settings and, when read back, its counters. */
export type IpvsService = IpvsServiceSpec & { stats?: IpvsStats };

const PROTOCOL_NUMBERS: Record<IpvsProtocol, number> = { tcp: IPPROTO_TCP, udp: IPPROTO_UDP, sctp: IPPROTO_SCTP };

export function protocolNumber(p: IpvsProtocol): number {
  return PROTOCOL_NUMBERS[p];
}

export function protocolName(n: number): IpvsProtocol | undefined {
  return n === IPPROTO_TCP ? 'tcp' : n === IPPROTO_UDP ? 'udp' : n === IPPROTO_SCTP ? 'sctp' : undefined;
}

export function isFwmarkKey(key: IpvsServiceKey): key is IpvsFwmarkKey {
  return 'fwmark' in key;
}

/** Only the identifying fields of a service (or of a spec or a decoded service). */
export function serviceKeyOf(s: IpvsServiceKey): IpvsServiceKey {
  return isFwmarkKey(s)
    ? { family: s.family, fwmark: s.fwmark }
    : { family: s.family, protocol: s.protocol, address: s.address, port: s.port };
}

/** A stable text form of a key, for maps and messages: 'tcp/198.51.100.1:80', 'tcp/[2001:db8::1]:80', 'fwmark4/7'. */
export function serviceKeyString(key: IpvsServiceKey): string {
  if (isFwmarkKey(key)) return `fwmark${key.family}/${key.fwmark}`;
  return key.family === 6 ? `${key.protocol}/[${key.address}]:${key.port}` : `${key.protocol}/${key.address}:${key.port}`;
}

/** The service's settings with the defaults ipvsadm uses: no flags, no persistence, per-address granularity. */
export function ipvsService(spec: IpvsServiceKey & Partial<IpvsServiceSettings> & { scheduler: string }): IpvsServiceSpec {
  return { flags: 0, timeout: 0, netmask: spec.family === 4 ? 32 : 128, ...spec };
}

/** IPv4 persistence masks travel as a network-order mask, IPv6 ones as a prefix length in host order. */
function writeNetmask(w: AttrWriter, family: IpFamily, prefixLen: number): void {
  if (family === 6) w.u32(IPVS_SVC_ATTR_NETMASK, prefixLen);
  else w.be32(IPVS_SVC_ATTR_NETMASK, prefixLen === 0 ? 0 : 0xffffffff << (32 - prefixLen));
}

function netmaskPrefix(family: IpFamily, value: Buffer | undefined): number {
  if (!value || value.length < 4) return family === 4 ? 32 : 128;
  if (family === 6) return value.readUInt32LE(0);
  let mask = value.readUInt32BE(0);
  let len = 0;
  while (mask & 0x80000000) { len++; mask = (mask << 1) >>> 0; }
  return len;
}

function writeKeyAttrs(w: AttrWriter, key: IpvsServiceKey): void {
  w.u16(IPVS_SVC_ATTR_AF, familyToAf(key.family));
  if (isFwmarkKey(key)) {
    w.u32(IPVS_SVC_ATTR_FWMARK, key.fwmark);
    return;
  }
  const address = ipToBytes(key.address);
  if ((address.length === 4 ? 4 : 6) !== key.family) throw new TypeError(`service address ${key.address} is not IPv${key.family}`);
  w.u16(IPVS_SVC_ATTR_PROTOCOL, protocolNumber(key.protocol)).bytes(IPVS_SVC_ATTR_ADDR, address).be16(IPVS_SVC_ATTR_PORT, key.port);
}

/** Writes the IPVS_CMD_ATTR_SERVICE nest identifying a service (GET, DEL_SERVICE, every destination command). */
export function writeServiceKey(w: AttrWriter, key: IpvsServiceKey): void {
  const nest = w.beginNest(IPVS_CMD_ATTR_SERVICE);
  writeKeyAttrs(w, key);
  w.endNest(nest);
}

/** Writes the full nest NEW_SERVICE and SET_SERVICE need; every flag bit is written (mask ~0), so SET replaces all flags. */
export function writeServiceSpec(w: AttrWriter, spec: IpvsServiceSpec): void {
  const nest = w.beginNest(IPVS_CMD_ATTR_SERVICE);
  writeKeyAttrs(w, spec);
  const flags = Buffer.allocUnsafe(8);
  flags.writeUInt32LE((spec.flags & ~IPVS_SVC_F_HASHED) >>> 0, 0);
  flags.writeUInt32LE(0xffffffff, 4);
  w.string(IPVS_SVC_ATTR_SCHED_NAME, spec.scheduler).bytes(IPVS_SVC_ATTR_FLAGS, flags).u32(IPVS_SVC_ATTR_TIMEOUT, spec.timeout);
  writeNetmask(w, spec.family, spec.netmask);
  if (spec.persistenceEngine) w.string(IPVS_SVC_ATTR_PE_NAME, spec.persistenceEngine);
  w.endNest(nest);
}

export function encodeServiceKey(key: IpvsServiceKey): Buffer {
  const w = new AttrWriter(64);
  writeServiceKey(w, key);
  return Buffer.from(w.view(0));
}

export function encodeServiceSpec(spec: IpvsServiceSpec): Buffer {
  const w = new AttrWriter(128);
  writeServiceSpec(w, spec);
  return Buffer.from(w.view(0));
}

/**
 * Decodes the inside of an IPVS_CMD_ATTR_SERVICE nest. Undefined for families other than IPv4/IPv6 and for
 * protocols IPVS has no virtual-server support for (only TCP, UDP and SCTP can be created).
 */
export function decodeServiceNest(nest: Buffer): IpvsService | undefined {
  const a = parseAttrs(nest);
  const family = afToFamily(readU16(a.get(IPVS_SVC_ATTR_AF)) ?? 0);
  if (family === undefined) return undefined;
  const fwmark = readU32(a.get(IPVS_SVC_ATTR_FWMARK)) ?? 0;
  let key: IpvsServiceKey;
  if (fwmark !== 0) {
    key = { family, fwmark };
  } else {
    const protocol = protocolName(readU16(a.get(IPVS_SVC_ATTR_PROTOCOL)) ?? 0);
    const address = a.get(IPVS_SVC_ATTR_ADDR);
    const port = a.get(IPVS_SVC_ATTR_PORT);
    const size = family === 4 ? 4 : 16;
    if (!protocol || !address || address.length < size || !port || port.length < 2) return undefined;
    // the kernel sends the whole 16-byte union nf_inet_addr, an IPv4 address in its first 4 bytes
    key = { family, protocol, address: bytesToIp(address.subarray(0, size)), port: port.readUInt16BE(0) };
  }
  const flags = a.get(IPVS_SVC_ATTR_FLAGS);
  const service: IpvsService = {
    ...key,
    scheduler: readString(a.get(IPVS_SVC_ATTR_SCHED_NAME) ?? Buffer.alloc(0)),
    flags: ((readU32(flags) ?? 0) & ~IPVS_SVC_F_HASHED) >>> 0,
    timeout: readU32(a.get(IPVS_SVC_ATTR_TIMEOUT)) ?? 0,
    netmask: netmaskPrefix(family, a.get(IPVS_SVC_ATTR_NETMASK)),
  };
  const pe = a.get(IPVS_SVC_ATTR_PE_NAME);
  if (pe) service.persistenceEngine = readString(pe);
  const stats = decodeStatsPair(a.get(IPVS_SVC_ATTR_STATS64), a.get(IPVS_SVC_ATTR_STATS));
  if (stats) service.stats = stats;
  return service;
}
