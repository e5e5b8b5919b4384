// Generic netlink: the genlmsghdr framing and resolving a family's id, version and multicast groups
// by name through the controller (CTRL_CMD_GETFAMILY), as IPVS and other genl users need.
import { NetlinkError, attrString, zeroed, parseAttrList, parseAttrs, readString, readU16, readU32, type NetlinkMessage } from './codec.ts';
import { NETLINK_GENERIC, NetlinkSocket, type OpenOptions } from './socket.ts';

export const GENL_HDRLEN = 4;
export const GENL_ID_CTRL = 0x10;

const CTRL_CMD_NEWFAMILY = 1;
const CTRL_CMD_GETFAMILY = 3;
const CTRL_ATTR_FAMILY_ID = 1;
const CTRL_ATTR_FAMILY_NAME = 2;
const CTRL_ATTR_VERSION = 3;
const CTRL_ATTR_HDRSIZE = 4;
const CTRL_ATTR_MAXATTR = 5;
const CTRL_ATTR_MCAST_GROUPS = 7;
const CTRL_ATTR_MCAST_GRP_NAME = 1;
const CTRL_ATTR_MCAST_GRP_ID = 2;
const ENOENT = 2;

export interface GenlFamily {
  id: number;
  name: string;
  version: number;
  /** Size of the family's own header after genlmsghdr. */
  hdrSize: number;
  maxAttr: number;
  /** Multicast group name to group id. */
  mcastGroups: Map<string, number>;
}

/** genlmsghdr (cmd, version, 2 reserved bytes) followed by the attributes. */
export function genlPayload(cmd: number, version: number, attrs: Buffer[]): Buffer {
  const header = zeroed(GENL_HDRLEN);
  header.writeUInt8(cmd, 0);
  header.writeUInt8(version, 1);
  return Buffer.concat([header, ...attrs]);
}

export function openGenl(opts: OpenOptions = {}): NetlinkSocket {
  return NetlinkSocket.open(NETLINK_GENERIC, opts);
}

/** The CTRL_CMD_GETFAMILY request payload for a family name (message type GENL_ID_CTRL). */
export function encodeGetFamily(name: string): Buffer {
  return genlPayload(CTRL_CMD_GETFAMILY, 1, [attrString(CTRL_ATTR_FAMILY_NAME, name)]);
}

export function decodeFamily(msg: NetlinkMessage): GenlFamily | undefined {
  if (msg.payload.length < GENL_HDRLEN || msg.payload.readUInt8(0) !== CTRL_CMD_NEWFAMILY) return undefined;
  const a = parseAttrs(msg.payload, GENL_HDRLEN);
  const id = readU16(a.get(CTRL_ATTR_FAMILY_ID));
  const name = a.get(CTRL_ATTR_FAMILY_NAME);
  if (id === undefined || !name) return undefined;
  const mcastGroups = new Map<string, number>();
  for (const group of parseAttrList(a.get(CTRL_ATTR_MCAST_GROUPS) ?? Buffer.alloc(0))) {
    const g = parseAttrs(group.value);
    const groupName = g.get(CTRL_ATTR_MCAST_GRP_NAME);
    const groupId = readU32(g.get(CTRL_ATTR_MCAST_GRP_ID));
    if (groupName && groupId !== undefined) mcastGroups.set(readString(groupName), groupId);
  }
  return {
    id,
    name: readString(name),
    version: readU32(a.get(CTRL_ATTR_VERSION)) ?? 0,
    hdrSize: readU32(a.get(CTRL_ATTR_HDRSIZE)) ?? 0,
    maxAttr: readU32(a.get(CTRL_ATTR_MAXATTR)) ?? 0,
    mcastGroups,
  };
}

/**
 * Looks a family up by name; undefined when this kernel does not have it (ENOENT, e.g. IPVS without
 * the ip_vs module). Other failures reject with NetlinkError.
 */
export async function resolveFamily(sock: NetlinkSocket, name: string): Promise<GenlFamily | undefined> {
  try {
    const replies = await sock.request(GENL_ID_CTRL, 0, encodeGetFamily(name));
    return replies.map(decodeFamily).find((f) => f !== undefined);
  } catch (err) {
    if (err instanceof NetlinkError && err.errno === ENOENT) return undefined;
    throw err;
  }
}
