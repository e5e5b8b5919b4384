// Runs the userspace tools the netpol apply layers drive (ipset, iptables-save/restore, nft), optionally
// inside a named network namespace (tests, bench), returning results as values and counting every exec; and
// hands out the netlink socket in that same namespace for the changes made without a tool.
import { spawn } from 'node:child_process';
import { NETLINK_NETFILTER, NetlinkSocket } from '../../kernel/netlink/socket.ts';
import { err, ok, type Result } from '../../result.ts';

export interface NetpolExec {
  /** Runs a command; ok(stdout) on exit status 0, else an error naming the command, status and stderr. */
  run(cmd: string, args: string[], input?: string): Promise<Result<string>>;
  /** How many processes were started so far (tests and the bench assert on the work done). */
  readonly count: number;
  /** The named network namespace the tools run in (undefined: the current one). */
  readonly netns?: string;
  /**
   * A NETLINK_NETFILTER socket in the same namespace (opened on first use) for ipset and nf_tables element
   * changes; absent on execs that do not talk to a real kernel (tests), which then use the tools only.
   */
  readonly netfilter?: () => NetlinkSocket;
  /** Drops the socket (after a failed or timed-out batch); the next use opens a new one. */
  resetNetfilter?(): void;
}

function spawnCollect(cmd: string, args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const errOut: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => errOut.push(d));
    child.on('error', (e) => resolve({ code: 127, stdout: '', stderr: e.message }));
    child.on('close', (code) => resolve({ code: code ?? 128, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(errOut).toString('utf8') }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
  });
}

/** An exec for the current namespace, or for the named one. */
export function netpolExec(netns?: string): NetpolExec {
  let count = 0;
  let socket: NetlinkSocket | undefined;
  return {
    get count() {
      return count;
    },
    ...(netns ? { netns } : {}),
    netfilter: () => (socket ??= NetlinkSocket.open(NETLINK_NETFILTER, netns ? { netns: `/run/netns/${netns}`, timeoutMs: 5000 } : { timeoutMs: 5000 })),
    resetNetfilter() {
      void socket?.close();
      socket = undefined;
    },
    async run(cmd, args, input) {
      count++;
      const r = netns ? await spawnCollect('ip', ['netns', 'exec', netns, cmd, ...args], input) : await spawnCollect(cmd, args, input);
      if (r.code === 0) return ok(r.stdout);
      const detail = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(0, 5).join('; ');
      return err(`${cmd} ${args.join(' ')} exited ${r.code}: ${detail}`);
    },
  };
}

/** Seconds since `start` (a process.hrtime.bigint() value), for the sync-time histograms. */
export const secondsSince = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e9;
