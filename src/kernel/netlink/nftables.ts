// nf_tables over NETLINK_NETFILTER, only as far as the netpol backend needs it: adding and deleting elements
// of existing plain (non-interval) address sets, as one nfnetlink batch the kernel commits whole or not at
// all. Everything else about our tables (sets, chains, rules) is written with `nft -f`.
import { attr, attrNested, attrString, NLM_F_CREATE } from './codec.ts';
import { ipToBytes } from '../../net/ip.ts';
import { nfgenmsg, NFPROTO_UNSPEC, type NFPROTO_IPV4, type NFPROTO_IPV6 } from './nfnetlink.ts';
import type { RequestMessage } from './socket.ts';

const NFNL_SUBSYS_NFTABLES = 10;
const NFNL_MSG_BATCH_BEGIN = 0x10;
const NFNL_MSG_BATCH_END = 0x11;
const NFT_MSG_NEWSETELEM = 12;
const NFT_MSG_DELSETELEM = 14;

const NFTA_SET_ELEM_LIST_TABLE = 1;
const NFTA_SET_ELEM_LIST_SET = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS = 3;
const NFTA_LIST_ELEM = 1;
const NFTA_SET_ELEM_KEY = 1;
const NFTA_DATA_VALUE = 1;

/** The messages that open and close a batch of nf_tables changes. */
export const batchBegin = (): RequestMessage => ({ type: NFNL_MSG_BATCH_BEGIN, flags: 0, payload: nfgenmsg(NFPROTO_UNSPEC, NFNL_SUBSYS_NFTABLES) });
export const batchEnd = (): RequestMessage => ({ type: NFNL_MSG_BATCH_END, flags: 0, payload: nfgenmsg(NFPROTO_UNSPEC, NFNL_SUBSYS_NFTABLES) });

export interface SetElementChange {
  family: typeof NFPROTO_IPV4 | typeof NFPROTO_IPV6;
  table: string;
  set: string;
  op: 'add' | 'delete';
  /** Addresses (the set's key type: ipv4_addr or ipv6_addr). */
  addresses: string[];
}

/**
 * One NEWSETELEM / DELSETELEM message per change. Adding an element that is there already is not an error
 * (no NLM_F_EXCL); deleting one that is not fails the whole batch.
 */
export function setElementMessage(change: SetElementChange): RequestMessage {
  const type = (NFNL_SUBSYS_NFTABLES << 8) | (change.op === 'add' ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM);
  const elements = change.addresses.map((a) =>
    attrNested(NFTA_LIST_ELEM, [attrNested(NFTA_SET_ELEM_KEY, [attr(NFTA_DATA_VALUE, ipToBytes(a))], true)], true));
  const payload = Buffer.concat([
    nfgenmsg(change.family),
    attrString(NFTA_SET_ELEM_LIST_TABLE, change.table),
    attrString(NFTA_SET_ELEM_LIST_SET, change.set),
    attrNested(NFTA_SET_ELEM_LIST_ELEMENTS, elements, true),
  ]);
  return { type, flags: change.op === 'add' ? NLM_F_CREATE : 0, payload };
}
