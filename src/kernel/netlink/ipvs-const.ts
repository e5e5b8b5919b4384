// IPVS generic-netlink constants (include/uapi/linux/ip_vs.h): family name, commands, attribute numbers,
// service flags, forwarding methods, tunnel types, and the protocol and errno numbers the codec and fake use.

export const IPVS_GENL_NAME = 'IPVS';
export const IPVS_GENL_VERSION = 1;

// Commands (genlmsghdr.cmd).
export const IPVS_CMD_NEW_SERVICE = 1;
export const IPVS_CMD_SET_SERVICE = 2;
export const IPVS_CMD_DEL_SERVICE = 3;
export const IPVS_CMD_GET_SERVICE = 4;
export const IPVS_CMD_NEW_DEST = 5;
export const IPVS_CMD_SET_DEST = 6;
export const IPVS_CMD_DEL_DEST = 7;
export const IPVS_CMD_GET_DEST = 8;
export const IPVS_CMD_SET_CONFIG = 12;
export const IPVS_CMD_GET_CONFIG = 13;
export const IPVS_CMD_SET_INFO = 14; // only as the reply to GET_INFO
export const IPVS_CMD_GET_INFO = 15;

// First-level attributes.
export const IPVS_CMD_ATTR_SERVICE = 1;
export const IPVS_CMD_ATTR_DEST = 2;
export const IPVS_CMD_ATTR_TIMEOUT_TCP = 4;
export const IPVS_CMD_ATTR_TIMEOUT_TCP_FIN = 5;
export const IPVS_CMD_ATTR_TIMEOUT_UDP = 6;

// Inside IPVS_CMD_ATTR_SERVICE.
export const IPVS_SVC_ATTR_AF = 1; // u16
export const IPVS_SVC_ATTR_PROTOCOL = 2; // u16
export const IPVS_SVC_ATTR_ADDR = 3; // 4 or 16 bytes on requests; the kernel always replies with 16
export const IPVS_SVC_ATTR_PORT = 4; // be16
export const IPVS_SVC_ATTR_FWMARK = 5; // u32
export const IPVS_SVC_ATTR_SCHED_NAME = 6; // NUL-terminated, at most 15 characters
export const IPVS_SVC_ATTR_FLAGS = 7; // struct ip_vs_flags { u32 flags; u32 mask; }
export const IPVS_SVC_ATTR_TIMEOUT = 8; // u32 seconds
export const IPVS_SVC_ATTR_NETMASK = 9; // be32: an IPv4 mask, or an IPv6 prefix length
export const IPVS_SVC_ATTR_STATS = 10; // nested, 32-bit counters
export const IPVS_SVC_ATTR_PE_NAME = 11; // NUL-terminated
export const IPVS_SVC_ATTR_STATS64 = 12; // nested, 64-bit counters

// Inside IPVS_CMD_ATTR_DEST.
export const IPVS_DEST_ATTR_ADDR = 1;
export const IPVS_DEST_ATTR_PORT = 2; // be16
export const IPVS_DEST_ATTR_FWD_METHOD = 3; // u32
export const IPVS_DEST_ATTR_WEIGHT = 4; // u32 (an int in the kernel: above 2^31-1 is ERANGE)
export const IPVS_DEST_ATTR_U_THRESH = 5; // u32
export const IPVS_DEST_ATTR_L_THRESH = 6; // u32
export const IPVS_DEST_ATTR_ACTIVE_CONNS = 7; // u32, replies only
export const IPVS_DEST_ATTR_INACT_CONNS = 8; // u32, replies only
export const IPVS_DEST_ATTR_PERSIST_CONNS = 9; // u32, replies only
export const IPVS_DEST_ATTR_STATS = 10;
export const IPVS_DEST_ATTR_ADDR_FAMILY = 11; // u16
export const IPVS_DEST_ATTR_STATS64 = 12;
export const IPVS_DEST_ATTR_TUN_TYPE = 13; // u8
export const IPVS_DEST_ATTR_TUN_PORT = 14; // be16
export const IPVS_DEST_ATTR_TUN_FLAGS = 15; // u16

// Inside the STATS / STATS64 nests.
export const IPVS_STATS_ATTR_CONNS = 1;
export const IPVS_STATS_ATTR_INPKTS = 2;
export const IPVS_STATS_ATTR_OUTPKTS = 3;
export const IPVS_STATS_ATTR_INBYTES = 4;
export const IPVS_STATS_ATTR_OUTBYTES = 5;
export const IPVS_STATS_ATTR_CPS = 6;
export const IPVS_STATS_ATTR_INPPS = 7;
export const IPVS_STATS_ATTR_OUTPPS = 8;
export const IPVS_STATS_ATTR_INBPS = 9;
export const IPVS_STATS_ATTR_OUTBPS = 10;

// In the GET_INFO reply.
export const IPVS_INFO_ATTR_VERSION = 1;
export const IPVS_INFO_ATTR_CONN_TAB_SIZE = 2;

// Virtual service flags (IP_VS_SVC_F_*).
export const IPVS_SVC_F_PERSISTENT = 0x0001;
/** Set by the kernel on every service in its table; it is not a setting. */
export const IPVS_SVC_F_HASHED = 0x0002;
export const IPVS_SVC_F_ONEPACKET = 0x0004;
export const IPVS_SVC_F_SCHED1 = 0x0008;
export const IPVS_SVC_F_SCHED2 = 0x0010;
export const IPVS_SVC_F_SCHED3 = 0x0020;
// The sh and mh schedulers give the first two scheduler flags the same meaning (ipvsadm's flag-1, flag-2).
export const IPVS_SVC_F_SCHED_SH_FALLBACK = IPVS_SVC_F_SCHED1;
export const IPVS_SVC_F_SCHED_SH_PORT = IPVS_SVC_F_SCHED2;
export const IPVS_SVC_F_SCHED_MH_FALLBACK = IPVS_SVC_F_SCHED1;
export const IPVS_SVC_F_SCHED_MH_PORT = IPVS_SVC_F_SCHED2;

// Forwarding methods (the IP_VS_CONN_F_FWD_MASK part of a destination's connection flags).
export const IPVS_FWD_MASQ = 0;
export const IPVS_FWD_LOCALNODE = 1;
export const IPVS_FWD_TUNNEL = 2;
export const IPVS_FWD_DROUTE = 3;
export const IPVS_FWD_BYPASS = 4;
export const IPVS_FWD_MASK = 0x7;

// Tunnel encapsulation of tunnel-mode destinations, and its flags.
export const IPVS_TUNNEL_TYPE_IPIP = 0;
export const IPVS_TUNNEL_TYPE_GUE = 1;
export const IPVS_TUNNEL_TYPE_GRE = 2;
export const IPVS_TUNNEL_ENCAP_FLAG_CSUM = 1 << 0;
export const IPVS_TUNNEL_ENCAP_FLAG_REMCSUM = 1 << 1;

export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_SCTP = 132;

/** Longest scheduler / persistence-engine name the kernel accepts (IP_VS_SCHEDNAME_MAXLEN - 1). */
export const IPVS_SCHEDNAME_MAXLEN = 15;

// The errnos the IPVS commands answer with (Linux numbering), for callers that match on them.
export const ENOENT = 2;
export const ESRCH = 3;
export const EEXIST = 17;
export const EINVAL = 22;
export const ERANGE = 34;
export const EAFNOSUPPORT = 97;
