// ipset over NETLINK_NETFILTER, only as far as the netpol backend needs it: adding and deleting addresses in
// existing hash:ip sets, one message per address, without the `ipset` binary's process start and its per-call
// listing of the set's header. Set creation, swaps and destruction stay with `ipset restore`.
import { attr, attrNested, attrString, attrU8 } from './codec.ts';
import { ipToBytes } from '../../net/ip.ts';
import { nfgenmsg, nfprotoOfLength } from './nfnetlink.ts';
import type { RequestMessage } from './socket.ts';

const NFNL_SUBSYS_IPSET = 6;
const IPSET_CMD_ADD = 9;
const IPSET_CMD_DEL = 10;
const IPSET_PROTOCOL = 7;

const IPSET_ATTR_PROTOCOL = 1;
const IPSET_ATTR_SETNAME = 2;
const IPSET_ATTR_DATA = 7;
const IPSET_ATTR_IP = 1;
const IPSET_ATTR_IPADDR_IPV4 = 1;
const IPSET_ATTR_IPADDR_IPV6 = 2;
const NLA_F_NET_BYTEORDER = 0x4000;

export interface IpsetMemberChange {
  set: string;
  op: 'add' | 'delete';
  address: string;
}

/**
 * One IPSET_CMD_ADD / IPSET_CMD_DEL message. Without NLM_F_EXCL, adding a present address and deleting an
 * absent one succeed, as with `ipset -exist`.
 */
export function ipsetMemberMessage(change: IpsetMemberChange): RequestMessage {
  const bytes = ipToBytes(change.address);
  const ip = attr((bytes.length === 4 ? IPSET_ATTR_IPADDR_IPV4 : IPSET_ATTR_IPADDR_IPV6) | NLA_F_NET_BYTEORDER, bytes);
  const payload = Buffer.concat([
    nfgenmsg(nfprotoOfLength(bytes.length)),
    attrU8(IPSET_ATTR_PROTOCOL, IPSET_PROTOCOL),
    attrString(IPSET_ATTR_SETNAME, change.set),
    attrNested(IPSET_ATTR_DATA, [attrNested(IPSET_ATTR_IP, [ip], true)], true),
  ]);
  return { type: (NFNL_SUBSYS_IPSET << 8) | (change.op === 'add' ? IPSET_CMD_ADD : IPSET_CMD_DEL), flags: 0, payload };
}
