// SCTP in the test VM: the sctp module loads on first use, and a socket created while another process is loading it
// fails. Tests that start several SCTP listeners at once load the module first with `loadSctp`.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { TestNetns } from '../helpers/netns.ts';

/**
 * Loads the sctp module, and returns once SCTP sockets can be created in every namespace.
 *
 * Why: the VM kernel autoloads sctp when the first SCTP socket is created (`request_module`, running busybox
 * modprobe). Seen in the VM: of two pods' SCTP listeners started together, the second socat fails with
 * `socket(2, 1, 132): Protocol not supported` (EPROTONOSUPPORT) and exits, so that pod silently has no listener
 * (incoming INITs are answered with ABORT, "out of the blue"). The likely path: the second socket()'s modprobe finds
 * `sctp` already in /proc/modules (still Loading) and returns at once, before the protocol is registered.
 * The first socket() waits for its modprobe, which returns once the module is live, so one SCTP socket created here
 * (its connect to a closed loopback port fails, the socket was made) is enough.
 */
export function loadSctp(ns: TestNetns): void {
  spawnSync('ip', ['netns', 'exec', ns.name, 'socat', '-u', '/dev/null', 'SCTP-CONNECT:127.0.0.1:9,connect-timeout=1'], { timeout: 60_000 });
  if (!existsSync('/proc/net/sctp')) throw new Error('SCTP is not available in this kernel (/proc/net/sctp missing after an SCTP socket was made)');
}

/** The first line the server sent on one SCTP association from `from` to ip:port, or '' when none was made (~7 s). */
export function sctpAnswer(from: TestNetns, ip: string, port: number): string {
  const host = ip.includes(':') ? `[${ip}]` : ip;
  // -u: read only, since SCTP has no half-close (our EOF would end the association before the answer)
  const r = spawnSync('ip', ['netns', 'exec', from.name, 'socat', '-u', '-T', '5', `SCTP-CONNECT:${host}:${port},connect-timeout=2`, '-'],
    { encoding: 'utf8', timeout: 10_000 });
  return (r.stdout ?? '').split('\n')[0]!.trim();
}

/**
 * The distinct answers (each passed through `normalize`) of SCTP associations from `from` to ip:port, sorted, made
 * one at a time until every `wanted` answer has come, at most 4 per wanted answer (round-robin alternates between
 * endpoints; an association lost while a slow emulated server forks costs a turn).
 */
export function sctpAnswersUntil(from: TestNetns, ip: string, port: number, wanted: string[], normalize = (s: string) => s): string[] {
  const seen = new Set<string>();
  for (let i = 0; i < wanted.length * 4 && !wanted.every((w) => seen.has(w)); i++) {
    const answer = sctpAnswer(from, ip, port);
    if (answer !== '') seen.add(normalize(answer));
  }
  return [...seen].sort();
}
