// IPVS destinations (real servers) of a service: the model and the IPVS_CMD_ATTR_DEST nest in both directions.
import { AttrWriter } from './attr-writer.ts';
import { parseAttrs, readU16, readU32, readU8 } from './codec.ts';
import {
  IPVS_CMD_ATTR_DEST, IPVS_DEST_ATTR_ACTIVE_CONNS, IPVS_DEST_ATTR_ADDR, IPVS_DEST_ATTR_ADDR_FAMILY,
  IPVS_DEST_ATTR_FWD_METHOD, IPVS_DEST_ATTR_INACT_CONNS, IPVS_DEST_ATTR_L_THRESH, IPVS_DEST_ATTR_PERSIST_CONNS,
  IPVS_DEST_ATTR_PORT, IPVS_DEST_ATTR_STATS, IPVS_DEST_ATTR_STATS64, IPVS_DEST_ATTR_TUN_FLAGS, IPVS_DEST_ATTR_TUN_PORT,
  IPVS_DEST_ATTR_TUN_TYPE, IPVS_DEST_ATTR_U_THRESH, IPVS_DEST_ATTR_WEIGHT, IPVS_FWD_BYPASS, IPVS_FWD_DROUTE,
  IPVS_FWD_LOCALNODE, IPVS_FWD_MASK, IPVS_FWD_MASQ, IPVS_FWD_TUNNEL, IPVS_TUNNEL_TYPE_GRE, IPVS_TUNNEL_TYPE_GUE,
  IPVS_TUNNEL_TYPE_IPIP,
} from './ipvs-const.ts';
import { decodeStatsPair, type IpvsStats } from './ipvs-stats.ts';
import { afToFamily, familyToAf } from './address-family.ts';
import { bytesToIp, ipToBytes, type IpFamily } from '../../net/ip.ts';

/** How packets reach the real server: NAT (ipvsadm -m), IPIP/GUE/GRE tunnel (-i), direct routing (-g). */
export type IpvsForward = 'masq' | 'local' | 'tunnel' | 'route' | 'bypass';
export type IpvsTunnelType = 'ipip' | 'gue' | 'gre';

/** Identifies a destination within its service; its family is the address's. */
export interface IpvsDestinationKey {
  address: string;
  port: number;
}

/** Encapsulation of a tunnel-mode destination (the kernel's default is plain IPIP). */
export interface IpvsTunnel {
  type: IpvsTunnelType;
  /** UDP port of GUE encapsulation. */
  port: number;
  /** IPVS_TUNNEL_ENCAP_FLAG_* (checksums of GUE/GRE). */
  flags: number;
}

export interface IpvsDestinationSpec extends IpvsDestinationKey {
  forward: IpvsForward;
  weight: number;
  /** Stop scheduling new connections at this many (0 = no limit). */
  upperThreshold: number;
  /** Resume below this many (0 = three quarters of the upper threshold). */
  lowerThreshold: number;
  /** Only meaningful with forward 'tunnel'; absent means IPIP. */
  tunnel?: IpvsTunnel;
}

/** A destination as the kernel reports it. */
export interface IpvsDestination extends IpvsDestinationSpec {
  family: IpFamily;
  activeConnections: number;
  inactiveConnections: number;
  /** Persistence templates pointing at this destination. */
  persistentConnections: number;
  stats?: IpvsStats;
}

const FORWARD_CODES: Record<IpvsForward, number> = {
  masq: IPVS_FWD_MASQ, local: IPVS_FWD_LOCALNODE, tunnel: IPVS_FWD_TUNNEL, route: IPVS_FWD_DROUTE, bypass: IPVS_FWD_BYPASS,
};
const FORWARD_NAMES = new Map(Object.entries(FORWARD_CODES).map(([name, code]) => [code, name as IpvsForward]));
const TUNNEL_CODES: Record<IpvsTunnelType, number> = { ipip: IPVS_TUNNEL_TYPE_IPIP, gue: IPVS_TUNNEL_TYPE_GUE, gre: IPVS_TUNNEL_TYPE_GRE };
const TUNNEL_NAMES = new Map(Object.entries(TUNNEL_CODES).map(([name, code]) => [code, name as IpvsTunnelType]));

export function forwardCode(f: IpvsForward): number {
  return FORWARD_CODES[f];
}

/** A destination with ipvsadm's defaults: NAT, weight 1, no thresholds. */
export function ipvsDestination(spec: IpvsDestinationKey & Partial<IpvsDestinationSpec>): IpvsDestinationSpec {
  return { forward: 'masq', weight: 1, upperThreshold: 0, lowerThreshold: 0, ...spec };
}

export function destinationKeyString(d: IpvsDestinationKey): string {
  return d.address.includes(':') ? `[${d.address}]:${d.port}` : `${d.address}:${d.port}`;
}

function writeKeyAttrs(w: AttrWriter, d: IpvsDestinationKey): void {
  const address = ipToBytes(d.address);
  w.bytes(IPVS_DEST_ATTR_ADDR, address).be16(IPVS_DEST_ATTR_PORT, d.port);
  // Always sent: a destination of the other family than its service (tunnel mode only) needs it.
  w.u16(IPVS_DEST_ATTR_ADDR_FAMILY, familyToAf(address.length === 4 ? 4 : 6));
}

/** Writes the IPVS_CMD_ATTR_DEST nest identifying a destination (DEL_DEST). */
export function writeDestinationKey(w: AttrWriter, d: IpvsDestinationKey): void {
  const nest = w.beginNest(IPVS_CMD_ATTR_DEST);
  writeKeyAttrs(w, d);
  w.endNest(nest);
}

/** Writes the full nest NEW_DEST and SET_DEST need; SET resets what it leaves out (tunnel settings) to the defaults. */
export function writeDestinationSpec(w: AttrWriter, d: IpvsDestinationSpec): void {
  const nest = w.beginNest(IPVS_CMD_ATTR_DEST);
  writeKeyAttrs(w, d);
  w.u32(IPVS_DEST_ATTR_FWD_METHOD, forwardCode(d.forward))
    .u32(IPVS_DEST_ATTR_WEIGHT, d.weight)
    .u32(IPVS_DEST_ATTR_U_THRESH, d.upperThreshold)
    .u32(IPVS_DEST_ATTR_L_THRESH, d.lowerThreshold);
  if (d.tunnel) {
    w.u8(IPVS_DEST_ATTR_TUN_TYPE, TUNNEL_CODES[d.tunnel.type])
      .be16(IPVS_DEST_ATTR_TUN_PORT, d.tunnel.port)
      .u16(IPVS_DEST_ATTR_TUN_FLAGS, d.tunnel.flags);
  }
  w.endNest(nest);
}

export function encodeDestinationKey(d: IpvsDestinationKey): Buffer {
  const w = new AttrWriter(64);
  writeDestinationKey(w, d);
  return Buffer.from(w.view(0));
}

export function encodeDestinationSpec(d: IpvsDestinationSpec): Buffer {
  const w = new AttrWriter(128);
  writeDestinationSpec(w, d);
  return Buffer.from(w.view(0));
}

/**
 * Decodes the inside of an IPVS_CMD_ATTR_DEST nest. Kernels before mixed-family support send no ADDR_FAMILY:
 * the destination then has the service's family. Undefined when the nest lacks an address or port.
 */
export function decodeDestinationNest(nest: Buffer, serviceFamily: IpFamily): IpvsDestination | undefined {
  const a = parseAttrs(nest);
  const family = afToFamily(readU16(a.get(IPVS_DEST_ATTR_ADDR_FAMILY)) ?? 0) ?? serviceFamily;
  const address = a.get(IPVS_DEST_ATTR_ADDR);
  const port = a.get(IPVS_DEST_ATTR_PORT);
  const size = family === 4 ? 4 : 16;
  if (!address || address.length < size || !port || port.length < 2) return undefined;
  const forward = FORWARD_NAMES.get((readU32(a.get(IPVS_DEST_ATTR_FWD_METHOD)) ?? 0) & IPVS_FWD_MASK) ?? 'masq';
  const dest: IpvsDestination = {
    family,
    address: bytesToIp(address.subarray(0, size)),
    port: port.readUInt16BE(0),
    forward,
    weight: readU32(a.get(IPVS_DEST_ATTR_WEIGHT)) ?? 0,
    upperThreshold: readU32(a.get(IPVS_DEST_ATTR_U_THRESH)) ?? 0,
    lowerThreshold: readU32(a.get(IPVS_DEST_ATTR_L_THRESH)) ?? 0,
    activeConnections: readU32(a.get(IPVS_DEST_ATTR_ACTIVE_CONNS)) ?? 0,
    inactiveConnections: readU32(a.get(IPVS_DEST_ATTR_INACT_CONNS)) ?? 0,
    persistentConnections: readU32(a.get(IPVS_DEST_ATTR_PERSIST_CONNS)) ?? 0,
  };
  // The kernel reports tunnel settings for every destination; they only mean something in tunnel mode.
  const tunType = readU8(a.get(IPVS_DEST_ATTR_TUN_TYPE));
  if (forward === 'tunnel' && tunType !== undefined) {
    const tunPort = a.get(IPVS_DEST_ATTR_TUN_PORT);
    dest.tunnel = {
      type: TUNNEL_NAMES.get(tunType) ?? 'ipip',
      port: tunPort && tunPort.length >= 2 ? tunPort.readUInt16BE(0) : 0,
      flags: readU16(a.get(IPVS_DEST_ATTR_TUN_FLAGS)) ?? 0,
    };
  }
  const stats = decodeStatsPair(a.get(IPVS_DEST_ATTR_STATS64), a.get(IPVS_DEST_ATTR_STATS));
  if (stats) dest.stats = stats;
  return dest;
}
