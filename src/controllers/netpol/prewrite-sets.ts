// A full sync's new sets written while the plan is still being made. The kernel's share of a first sync at
// 50k pods (creating ~1,700 sets, the set table's growth waiting for RCU, ~45k entries) would otherwise follow
// the planning: here each policy's sets that the kernel does not have yet are encoded as soon as they are
// planned and handed, a window at a time, to the addon's threads (sendNow) while planning goes on. Nothing uses
// a set before the rules that match on it are written after planning, so writing them early changes no
// verdict; a set the kernel did not take whole is left to the normal apply, which writes it again.
import { setCreationMessages } from '../../kernel/ipset-netlink.ts';
import type { BatchResult, NetlinkSocket, RequestMessage } from '../../kernel/netlink/socket.ts';
import type { SetSpec } from './model.ts';
import { ipsetSpecOf } from './render-ipset.ts';

/**
 * Bytes of messages per window (one datagram on its own socket): small enough that the kernel starts early in
 * the plan, big enough that the windows are few.
 */
const WINDOW_BYTES = 128 * 1024;
/** Windows sent per sync; past that the remaining sets wait for the apply (memory stays bounded: 1.5 MiB). */
const MAX_IN_FLIGHT = 12;

interface Flight {
  sets: SetSpec[];
  socket: NetlinkSocket;
  done: Promise<BatchResult | Error>;
}

export class SetPrewriter {
  private messages: RequestMessage[] = [];
  private sets: SetSpec[] = [];
  private bytes = 0;
  private readonly flights: Flight[] = [];
  private readonly offered = new Set<string>();
  private stopped = false;

  /**
   * `open` gives a new socket to the node's kernel per window; `present`: the sets the kernel has (those are
   * diffed as usual); `revisions`: the kernel's set type revisions (kernel/ipset-netlink.ts typeRevisions).
   */
  constructor(private readonly open: () => NetlinkSocket, private readonly present: ReadonlySet<string>, private readonly revisions: ReadonlyMap<string, number>) {}

  /** Sets just planned: the new ones are queued, and a full window is sent at once (synchronously). */
  offer(sets: readonly SetSpec[]): void {
    for (const set of sets) {
      if (this.stopped) return;
      if (this.present.has(set.name) || this.offered.has(set.name)) continue;
      this.offered.add(set.name);
      const messages = setCreationMessages(ipsetSpecOf(set), set.members, this.revisions);
      if (!messages) continue;
      let bytes = 0;
      for (const m of messages) bytes += m.payload.length + 16;
      // A set bigger than a window is written by the apply, in its own windows.
      if (bytes > WINDOW_BYTES) continue;
      if (this.bytes + bytes > WINDOW_BYTES) this.send();
      if (this.stopped) return;
      this.messages.push(...messages);
      this.sets.push(set);
      this.bytes += bytes;
    }
  }

  private send(): void {
    if (this.messages.length === 0) return;
    const sets = this.sets;
    const messages = this.messages;
    this.messages = [];
    this.sets = [];
    this.bytes = 0;
    if (this.flights.length >= MAX_IN_FLIGHT) {
      this.stopped = true;
      return;
    }
    let socket: NetlinkSocket;
    try {
      socket = this.open();
    } catch {
      this.stopped = true;
      return;
    }
    try {
      this.flights.push({ sets, socket, done: socket.sendNow(messages).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e)))) });
    } catch {
      this.stopped = true;
      void socket.close();
    }
  }

  /** Sends what is queued, waits for every window and closes their sockets: the sets the kernel took whole. */
  async finish(): Promise<SetSpec[]> {
    if (!this.stopped) this.send();
    const written: SetSpec[] = [];
    for (const f of this.flights) {
      const r = await f.done;
      await f.socket.close();
      if (!(r instanceof Error) && r.errors.length === 0) written.push(...f.sets);
    }
    return written;
  }
}
