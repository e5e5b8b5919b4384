// IPVS traffic counters and rate estimates of a service or destination, decoded from the STATS64 nest (or the
// older 32-bit STATS nest when a kernel sends only that), for the proxy's per-service metrics.
import { parseAttrs } from './codec.ts';
import {
  IPVS_STATS_ATTR_CONNS, IPVS_STATS_ATTR_CPS, IPVS_STATS_ATTR_INBPS, IPVS_STATS_ATTR_INBYTES, IPVS_STATS_ATTR_INPKTS,
  IPVS_STATS_ATTR_INPPS, IPVS_STATS_ATTR_OUTBPS, IPVS_STATS_ATTR_OUTBYTES, IPVS_STATS_ATTR_OUTPKTS, IPVS_STATS_ATTR_OUTPPS,
} from './ipvs-const.ts';

export interface IpvsStats {
  /** Connections scheduled since the service or destination was created (or last zeroed). */
  connections: number;
  inPackets: number;
  outPackets: number;
  inBytes: number;
  outBytes: number;
  /** The kernel's rate estimates, per second. */
  connectionsPerSecond: number;
  inPacketsPerSecond: number;
  outPacketsPerSecond: number;
  inBytesPerSecond: number;
  outBytesPerSecond: number;
}

/** A u32 or u64 attribute as a number (u64 counters stay exact below 2^53). */
function readCounter(value: Buffer | undefined): number {
  if (!value) return 0;
  if (value.length >= 8) return Number(value.readBigUInt64LE(0));
  return value.length >= 4 ? value.readUInt32LE(0) : 0;
}

/** Decodes a STATS or STATS64 nest; each counter is 32 or 64 bits wide as the kernel sent it. */
export function decodeStats(nest: Buffer): IpvsStats {
  const a = parseAttrs(nest);
  return {
    connections: readCounter(a.get(IPVS_STATS_ATTR_CONNS)),
    inPackets: readCounter(a.get(IPVS_STATS_ATTR_INPKTS)),
    outPackets: readCounter(a.get(IPVS_STATS_ATTR_OUTPKTS)),
    inBytes: readCounter(a.get(IPVS_STATS_ATTR_INBYTES)),
    outBytes: readCounter(a.get(IPVS_STATS_ATTR_OUTBYTES)),
    connectionsPerSecond: readCounter(a.get(IPVS_STATS_ATTR_CPS)),
    inPacketsPerSecond: readCounter(a.get(IPVS_STATS_ATTR_INPPS)),
    outPacketsPerSecond: readCounter(a.get(IPVS_STATS_ATTR_OUTPPS)),
    inBytesPerSecond: readCounter(a.get(IPVS_STATS_ATTR_INBPS)),
    outBytesPerSecond: readCounter(a.get(IPVS_STATS_ATTR_OUTBPS)),
  };
}

/** Prefers the 64-bit nest: the 32-bit one wraps packet and connection counters. */
export function decodeStatsPair(stats64: Buffer | undefined, stats32: Buffer | undefined): IpvsStats | undefined {
  const nest = stats64 ?? stats32;
  return nest ? decodeStats(nest) : undefined;
}
