// What the netpol apply layers drive the kernel with: the shared tool runner (kernel/exec.ts), optionally in a
// named network namespace (tests, bench), plus a NETLINK_NETFILTER socket in that same namespace for the set
// member changes made without a tool.
import { processExec, type Exec } from '../../kernel/exec.ts';
import { NETLINK_NETFILTER, NetlinkSocket } from '../../kernel/netlink/socket.ts';

export interface NetpolExec extends Exec {
  /**
   * A NETLINK_NETFILTER socket in the same namespace (opened on first use) for ipset and nf_tables element
   * changes; absent on execs that do not talk to a real kernel (tests), which then use the tools only.
   */
  readonly netfilter?: () => NetlinkSocket;
  /** Drops the socket (after a failed or timed-out batch); the next use opens a new one. */
  resetNetfilter?(): void;
  /** A new NETLINK_NETFILTER socket in the same namespace, the caller's to close (prewrite-sets.ts). */
  openNetfilter?(): NetlinkSocket;
}

/** An exec for the current namespace, or for the named one. */
export function netpolExec(netns?: string): NetpolExec {
  let socket: NetlinkSocket | undefined;
  // A 2 MiB send buffer: a first sync's 50k-pod sets go to the kernel in one or two datagrams.
  const open = (): NetlinkSocket => NetlinkSocket.open(NETLINK_NETFILTER, { ...(netns ? { netns: `/run/netns/${netns}` } : {}), timeoutMs: 5000, sndbufBytes: 2 * 1024 * 1024 });
  return Object.assign(processExec(netns), {
    netfilter: () => (socket ??= open()),
    openNetfilter: open,
    resetNetfilter() {
      void socket?.close();
      socket = undefined;
    },
  });
}

/** Seconds since `start` (a process.hrtime.bigint() value), for the sync-time histograms. */
export const secondsSince = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e9;
