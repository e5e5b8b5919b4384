// What every NETLINK_NETFILTER message shares: the nfgenmsg header that follows the netlink header, and the
// protocol family numbers (NFPROTO_*) it carries. Used by the ipset and nf_tables codecs.
import { zeroed } from './codec.ts';

export const NFPROTO_UNSPEC = 0;
export const NFPROTO_IPV4 = 2;
export const NFPROTO_IPV6 = 10;

/** The family of an address's byte length (4 or 16). */
export const nfprotoOfLength = (bytes: number): typeof NFPROTO_IPV4 | typeof NFPROTO_IPV6 => (bytes === 4 ? NFPROTO_IPV4 : NFPROTO_IPV6);

/** struct nfgenmsg: family, version 0 (NFNETLINK_V0), resource id in network byte order. */
export function nfgenmsg(family: number, resId = 0): Buffer {
  const b = zeroed(4);
  b.writeUInt8(family, 0);
  b.writeUInt16BE(resId, 2);
  return b;
}
