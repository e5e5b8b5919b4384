// The IPVS generic-netlink family ("IPVS", version 1), encode and decode only: change requests (services,
// destinations, timeouts), dump and get requests, and their replies. No I/O: src/kernel/ipvs.ts sends these.
import { AttrWriter } from './attr-writer.ts';
import { attrU32, parseAttrs, readU32, type NetlinkMessage } from './codec.ts';
import { GENL_HDRLEN, genlPayload } from './genl.ts';
import {
  IPVS_CMD_ATTR_DEST, IPVS_CMD_ATTR_SERVICE, IPVS_CMD_ATTR_TIMEOUT_TCP, IPVS_CMD_ATTR_TIMEOUT_TCP_FIN,
  IPVS_CMD_ATTR_TIMEOUT_UDP, IPVS_CMD_DEL_DEST, IPVS_CMD_DEL_SERVICE, IPVS_CMD_GET_CONFIG, IPVS_CMD_GET_DEST,
  IPVS_CMD_GET_INFO, IPVS_CMD_GET_SERVICE, IPVS_CMD_NEW_DEST, IPVS_CMD_NEW_SERVICE, IPVS_CMD_SET_CONFIG,
  IPVS_CMD_SET_DEST, IPVS_CMD_SET_INFO, IPVS_CMD_SET_SERVICE, IPVS_GENL_VERSION, IPVS_INFO_ATTR_CONN_TAB_SIZE,
  IPVS_INFO_ATTR_VERSION,
} from './ipvs-const.ts';
import {
  decodeDestinationNest, writeDestinationKey, writeDestinationSpec, type IpvsDestination, type IpvsDestinationKey,
  type IpvsDestinationSpec,
} from './ipvs-dest.ts';
import { decodeServiceNest, encodeServiceKey, writeServiceKey, writeServiceSpec, type IpvsService, type IpvsServiceKey, type IpvsServiceSpec } from './ipvs-service.ts';
import type { IpFamily } from '../../net/ip.ts';
import type { RequestMessage } from './socket.ts';

export * from './ipvs-const.ts';
export * from './ipvs-service.ts';
export * from './ipvs-dest.ts';
export type { IpvsStats } from './ipvs-stats.ts';

/** One change to the IPVS table; a batch of these is what a sync sends. */
export type IpvsOp =
  | { op: 'add-service'; service: IpvsServiceSpec }
  | { op: 'update-service'; service: IpvsServiceSpec }
  | { op: 'delete-service'; service: IpvsServiceKey }
  | { op: 'add-destination'; service: IpvsServiceKey; destination: IpvsDestinationSpec }
  | { op: 'update-destination'; service: IpvsServiceKey; destination: IpvsDestinationSpec }
  | { op: 'delete-destination'; service: IpvsServiceKey; destination: IpvsDestinationKey };

/** Connection timeouts in seconds (ipvsadm --set tcp tcpfin udp). In a request, 0 keeps the current value. */
export interface IpvsTimeouts {
  tcp: number;
  tcpFin: number;
  udp: number;
}

export interface IpvsInfo {
  /** IP_VS_VERSION_CODE, e.g. 0x010201 for 1.2.1. */
  version: number;
  /** Size of the connection hash table. */
  connectionTableSize: number;
}

const OP_COMMANDS: Record<IpvsOp['op'], number> = {
  'add-service': IPVS_CMD_NEW_SERVICE, 'update-service': IPVS_CMD_SET_SERVICE, 'delete-service': IPVS_CMD_DEL_SERVICE,
  'add-destination': IPVS_CMD_NEW_DEST, 'update-destination': IPVS_CMD_SET_DEST, 'delete-destination': IPVS_CMD_DEL_DEST,
};
const GENL_HEADERS = new Map(Object.values(OP_COMMANDS).map((cmd) => [cmd, genlPayload(cmd, IPVS_GENL_VERSION, [])]));

/**
 * The requests for a list of changes, all written into one buffer (each payload is a view of it). `familyId` is the
 * id the kernel gave the IPVS family (genl.resolveFamily). No NLM_F_CREATE/EXCL: IPVS decides from the command
 * (NEW on an existing entry is EEXIST).
 */
export function encodeIpvsOps(familyId: number, ops: readonly IpvsOp[]): RequestMessage[] {
  const w = new AttrWriter(ops.length * 160 + 64);
  // a sync sends each service's key with every destination change: encode it once per service object
  const keyBytes = new Map<IpvsServiceKey, [number, number]>();
  const writeKey = (key: IpvsServiceKey): void => {
    const seen = keyBytes.get(key);
    if (seen) {
      w.raw(w.view(seen[0], seen[1]));
      return;
    }
    const start = w.length;
    writeServiceKey(w, key);
    keyBytes.set(key, [start, w.length]);
  };
  const out: RequestMessage[] = [];
  for (const op of ops) {
    const start = w.length;
    w.raw(GENL_HEADERS.get(OP_COMMANDS[op.op]) as Buffer);
    switch (op.op) {
      case 'add-service':
      case 'update-service':
        writeServiceSpec(w, op.service);
        break;
      case 'delete-service':
        writeKey(op.service);
        break;
      case 'add-destination':
      case 'update-destination':
        writeKey(op.service);
        writeDestinationSpec(w, op.destination);
        break;
      case 'delete-destination':
        writeKey(op.service);
        writeDestinationKey(w, op.destination);
        break;
    }
    out.push({ type: familyId, flags: 0, payload: w.view(start) });
  }
  return out;
}

/** The request for one change (see encodeIpvsOps). */
export function encodeIpvsOp(familyId: number, op: IpvsOp): RequestMessage {
  return encodeIpvsOps(familyId, [op])[0] as RequestMessage;
}

/** GET_SERVICE payload: sent as a dump without a service, or as a single request (ESRCH if absent) with one. */
export function encodeGetService(key?: IpvsServiceKey): Buffer {
  return genlPayload(IPVS_CMD_GET_SERVICE, IPVS_GENL_VERSION, key ? [encodeServiceKey(key)] : []);
}

/** GET_DEST dump payload. A service the kernel does not have dumps as empty, not as an error. */
export function encodeGetDestinations(key: IpvsServiceKey): Buffer {
  return genlPayload(IPVS_CMD_GET_DEST, IPVS_GENL_VERSION, [encodeServiceKey(key)]);
}

export function encodeGetInfo(): Buffer {
  return genlPayload(IPVS_CMD_GET_INFO, IPVS_GENL_VERSION, []);
}

export function encodeGetConfig(): Buffer {
  return genlPayload(IPVS_CMD_GET_CONFIG, IPVS_GENL_VERSION, []);
}

/** SET_CONFIG: timeouts left out (or 0) keep their current value, as in the kernel. */
export function encodeSetConfig(familyId: number, t: Partial<IpvsTimeouts>): RequestMessage {
  const attrs: Buffer[] = [];
  if (t.tcp) attrs.push(attrU32(IPVS_CMD_ATTR_TIMEOUT_TCP, t.tcp));
  if (t.tcpFin) attrs.push(attrU32(IPVS_CMD_ATTR_TIMEOUT_TCP_FIN, t.tcpFin));
  if (t.udp) attrs.push(attrU32(IPVS_CMD_ATTR_TIMEOUT_UDP, t.udp));
  return { type: familyId, flags: 0, payload: genlPayload(IPVS_CMD_SET_CONFIG, IPVS_GENL_VERSION, attrs) };
}

function genlCommand(msg: NetlinkMessage): number | undefined {
  return msg.payload.length >= GENL_HDRLEN ? msg.payload.readUInt8(0) : undefined;
}

/** A NEW_SERVICE message (dump entry or GET reply); undefined for anything else. */
export function decodeServiceMessage(msg: NetlinkMessage): IpvsService | undefined {
  if (genlCommand(msg) !== IPVS_CMD_NEW_SERVICE) return undefined;
  const nest = parseAttrs(msg.payload, GENL_HDRLEN).get(IPVS_CMD_ATTR_SERVICE);
  return nest ? decodeServiceNest(nest) : undefined;
}

/** A NEW_DEST dump entry of a service of `serviceFamily`; undefined for anything else. */
export function decodeDestinationMessage(msg: NetlinkMessage, serviceFamily: IpFamily): IpvsDestination | undefined {
  if (genlCommand(msg) !== IPVS_CMD_NEW_DEST) return undefined;
  const nest = parseAttrs(msg.payload, GENL_HDRLEN).get(IPVS_CMD_ATTR_DEST);
  return nest ? decodeDestinationNest(nest, serviceFamily) : undefined;
}

/** The GET_INFO reply (command SET_INFO). */
export function decodeInfo(msg: NetlinkMessage): IpvsInfo | undefined {
  if (genlCommand(msg) !== IPVS_CMD_SET_INFO) return undefined;
  const a = parseAttrs(msg.payload, GENL_HDRLEN);
  const version = readU32(a.get(IPVS_INFO_ATTR_VERSION));
  const size = readU32(a.get(IPVS_INFO_ATTR_CONN_TAB_SIZE));
  return version === undefined || size === undefined ? undefined : { version, connectionTableSize: size };
}

/** The GET_CONFIG reply (command SET_CONFIG). A timeout of a protocol built without support reads as 0. */
export function decodeConfig(msg: NetlinkMessage): IpvsTimeouts | undefined {
  if (genlCommand(msg) !== IPVS_CMD_SET_CONFIG) return undefined;
  const a = parseAttrs(msg.payload, GENL_HDRLEN);
  return {
    tcp: readU32(a.get(IPVS_CMD_ATTR_TIMEOUT_TCP)) ?? 0,
    tcpFin: readU32(a.get(IPVS_CMD_ATTR_TIMEOUT_TCP_FIN)) ?? 0,
    udp: readU32(a.get(IPVS_CMD_ATTR_TIMEOUT_UDP)) ?? 0,
  };
}
