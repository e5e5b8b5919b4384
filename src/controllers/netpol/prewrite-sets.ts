// A full sync's new sets written while the plan is still being made. The kernel's share of a first sync at
// 50k pods (creating ~1,700 sets, the set table's growth waiting for RCU, ~45k entries) would otherwise follow
// the planning: here each policy's sets that the kernel does not have yet are encoded as soon as they are
// planned and handed, a window at a time, to the addon's threads (sendNow) while planning goes on. Nothing uses
// a set before the rules that match on it are written after planning, so writing them early changes no
// verdict; a set the kernel did not take whole is left to the normal apply, which writes it again.
import { setCreationMessages } from '../../kernel/ipset-netlink.ts';
import type { NetlinkSocket, RequestMessage, TrackedBatch } from '../../kernel/netlink/socket.ts';
import type { SetSpec } from './model.ts';
import { ipsetSpecOf } from './render-ipset.ts';

/**
 * Bytes of messages per window (one datagram on its own socket): small enough that the kernel starts early in
 * the plan, big enough that the windows are few.
 */
const WINDOW_BYTES = 128 * 1024;
/** Windows sent per sync; past that the remaining sets wait for the apply (memory stays bounded: 2 MiB). */
const MAX_IN_FLIGHT = 16;

/**
 * Whether sets offered together are in the kernel, asked synchronously (the caller holds the event loop):
 * true when all are, false when one will not be written early (the apply writes it), undefined while the
 * kernel still works on them.
 */
export type SetsReady = () => boolean | undefined;

interface Window {
  sets: SetSpec[];
  messages: RequestMessage[];
  bytes: number;
  /** Once sent. */
  flight?: { socket: NetlinkSocket; batch: TrackedBatch };
  /** Not sent: the sync's windows ran out, or no socket. */
  dropped: boolean;
}

const READY: SetsReady = () => true;
const NEVER: SetsReady = () => false;

export class SetPrewriter {
  private current: Window = emptyWindow();
  private readonly windows: Window[] = [];
  /** Where each offered set went (its window), by name. */
  private readonly placed = new Map<string, Window | null>();
  private stopped = false;
  private settled = 0;

  /**
   * `open` gives a new socket to the node's kernel per window; `present`: the sets the kernel has (those are
   * diffed as usual); `revisions`: the kernel's set type revisions (kernel/ipset-netlink.ts typeRevisions).
   */
  constructor(private readonly open: () => NetlinkSocket, private readonly present: ReadonlySet<string>, private readonly revisions: ReadonlyMap<string, number>) {}

  /**
   * Sets just planned: the new ones are queued, and a full window is sent at once (synchronously). Returns
   * whether all of them are in the kernel, to be asked later.
   */
  offer(sets: readonly SetSpec[]): SetsReady {
    const waits = new Set<Window>();
    let never = false;
    for (const set of sets) {
      if (this.present.has(set.name)) continue;
      let where = this.placed.get(set.name);
      if (where === undefined) where = this.place(set);
      if (where === null) never = true;
      else waits.add(where);
    }
    if (never) return NEVER;
    if (waits.size === 0) return READY;
    const pending = [...waits];
    return () => {
      let all = true;
      for (const w of pending) {
        if (w.dropped) return false;
        const settled = w.flight?.batch.settled();
        if (settled === false) return false;
        if (settled === undefined) all = false;
      }
      return all ? true : undefined;
    };
  }

  /** Queues one new set in the current window (sending the window first when it would overflow). */
  private place(set: SetSpec): Window | null {
    const none = (): null => {
      this.placed.set(set.name, null);
      return null;
    };
    if (this.stopped) return none();
    const messages = setCreationMessages(ipsetSpecOf(set), set.members, this.revisions);
    if (!messages) return none();
    let bytes = 0;
    for (const m of messages) bytes += m.payload.length + 16;
    // A set bigger than a window is written by the apply, in its own windows.
    if (bytes > WINDOW_BYTES) return none();
    if (this.current.bytes + bytes > WINDOW_BYTES) this.send();
    if (this.stopped) return none();
    const w = this.current;
    w.messages.push(...messages);
    w.sets.push(set);
    w.bytes += bytes;
    this.placed.set(set.name, w);
    return w;
  }

  /** Sends the current window on its own socket (or drops it, and stops, once the sync's windows are used). */
  private send(): void {
    const w = this.current;
    if (w.messages.length === 0) return;
    this.current = emptyWindow();
    this.windows.push(w);
    if (this.windows.length > MAX_IN_FLIGHT) return this.drop(w);
    let socket: NetlinkSocket;
    try {
      socket = this.open();
    } catch {
      return this.drop(w);
    }
    try {
      w.flight = { socket, batch: socket.sendTracked(w.messages) };
    } catch {
      void socket.close();
      return this.drop(w);
    }
    w.messages = [];
  }

  private drop(w: Window): void {
    w.dropped = true;
    w.messages = [];
    this.stopped = true;
  }

  /**
   * How many windows, counted in sending order, have settled (acknowledged, refused or dropped): cheap to ask
   * after every policy, and readiness can only have changed when it grew.
   */
  settledWindows(): number {
    while (this.settled < this.windows.length) {
      const w = this.windows[this.settled] as Window;
      if (!w.dropped && w.flight?.batch.settled() === undefined) break;
      this.settled++;
    }
    return this.settled;
  }

  /**
   * Sends what is queued (the last sets' readiness depends on it), so that every offer's answer settles;
   * later offers are not written early.
   */
  flush(): void {
    if (!this.stopped) this.send();
    this.stopped = true;
  }

  /** Flushes, waits for every window and closes their sockets: the sets the kernel took whole. */
  async finish(): Promise<SetSpec[]> {
    this.flush();
    const written: SetSpec[] = [];
    for (const w of this.windows) {
      if (!w.flight) continue;
      const r = await w.flight.batch.done.catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
      await w.flight.socket.close();
      if (!(r instanceof Error) && r.errors.length === 0) written.push(...w.sets);
    }
    return written;
  }
}

const emptyWindow = (): Window => ({ sets: [], messages: [], bytes: 0, dropped: false });
