// SCTP in the test VM: the sctp module loads on first use, and a socket created while another process is loading it
// fails. Tests that start several SCTP listeners at once load the module first with `loadSctp`.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { TestNetns } from '../helpers/netns.ts';

/**
 * Loads the sctp module, and returns once SCTP sockets can be created in every namespace.
 *
 * Why: the VM kernel autoloads sctp when the first SCTP socket is created (`request_module`, running busybox
 * modprobe). A second socket() while the module is still initialising also calls modprobe, which finds `sctp` already
 * in /proc/modules (state Loading) and returns at once; the kernel then finds no SCTP protocol yet and socket() fails
 * with EPROTONOSUPPORT. socat then exits and that listener is silently gone: two pods' SCTP listeners started together
 * leave one of them without a listener (incoming INITs are answered with ABORT, "out of the blue").
 * The first socket() waits for its modprobe, which returns once the module is live, so one SCTP socket created here
 * (its connect to a closed loopback port fails, the socket was made) is enough.
 */
export function loadSctp(ns: TestNetns): void {
  spawnSync('ip', ['netns', 'exec', ns.name, 'socat', '-u', '/dev/null', 'SCTP-CONNECT:127.0.0.1:9,connect-timeout=1'], { timeout: 60_000 });
  if (!existsSync('/proc/net/sctp')) throw new Error('SCTP is not available in this kernel (/proc/net/sctp missing after an SCTP socket was made)');
}
