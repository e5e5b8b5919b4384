// A full sync's new sets written while the plan is still being made. The kernel's share of a first sync at
// 50k pods (creating ~1,700 sets, the set table's growth waiting for RCU, ~45k entries) would otherwise follow
// the planning: here each policy's sets that the kernel does not have yet are encoded as soon as they are
// planned and handed, a window at a time, to the addon's threads (sendTracked) while planning goes on. Nothing uses
// a set before the rules that match on it are written after planning, so writing them early changes no
// verdict; a set the kernel did not take whole is left to the normal apply, which writes it again.
import { setCreationMessages } from '../../kernel/ipset-netlink.ts';
import type { BatchResult, NetlinkSocket, RequestMessage, TrackedBatch } from '../../kernel/netlink/socket.ts';
import type { SetSpec } from './model.ts';
import { ipsetSpecOf } from './render-ipset.ts';

/**
 * Bytes of messages per window (one datagram on its own socket): small enough that the kernel starts early in
 * the plan, big enough that the windows are few.
 */
const WINDOW_BYTES = 128 * 1024;

/**
 * Windows per sync; past that the remaining sets wait for the apply (memory stays bounded: 2 MiB). They go to
 * the kernel one after another: sent together, the kernel interleaved their messages (one mutex for all set
 * changes, held through every RCU wait of the set table's growth) and none was done before all were.
 */
const MAX_WINDOWS = 16;

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
  /** Closed windows in order: sent, waiting for the one before, or dropped. */
  private readonly windows: Window[] = [];
  /** The next window to send, and the one the kernel works on. */
  private next = 0;
  private inFlight: Window | null = null;
  /** Where each offered set went (its window), by name. */
  private readonly placed = new Map<string, Window | null>();
  private stopped = false;
  private settled = 0;
  private finished: Promise<SetSpec[]> | undefined;

  /**
   * `open` gives a new socket to the node's kernel per window; `present`: the sets the kernel has (those are
   * diffed as usual); `revisions`: the kernel's set type revisions (kernel/ipset-netlink.ts typeRevisions).
   */
  constructor(private readonly open: () => NetlinkSocket, private readonly present: ReadonlySet<string>, private readonly revisions: ReadonlyMap<string, number>) {}

  /**
   * Sets just planned: the new ones are queued, and a full window goes to the kernel as soon as the one before
   * it is done (synchronously, here or at a later offer). Returns whether all of them are in the kernel, to be
   * asked later.
   */
  offer(sets: readonly SetSpec[]): SetsReady {
    this.pump();
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

  /** Queues one new set in the current window (closing the window first when it would overflow). */
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
    if (this.current.bytes + bytes > WINDOW_BYTES) this.closeWindow();
    if (this.stopped) return none();
    const w = this.current;
    w.messages.push(...messages);
    w.sets.push(set);
    w.bytes += bytes;
    this.placed.set(set.name, w);
    return w;
  }

  /** Queues the current window for sending (or drops it, and stops, once the sync's windows are used). */
  private closeWindow(): void {
    const w = this.current;
    if (w.messages.length === 0) return;
    this.current = emptyWindow();
    this.windows.push(w);
    if (this.windows.length > MAX_WINDOWS) this.drop(w);
    this.pump();
  }

  /** Sends the next window once the kernel is done with the one before (each on its own socket). */
  private pump(): void {
    while (this.next < this.windows.length) {
      if (this.inFlight?.flight && this.inFlight.flight.batch.settled() === undefined) return;
      const w = this.windows[this.next++] as Window;
      if (w.dropped) continue;
      let socket: NetlinkSocket;
      try {
        socket = this.open();
      } catch {
        this.drop(w);
        continue;
      }
      try {
        w.flight = { socket, batch: socket.sendTracked(w.messages) };
        this.inFlight = w;
      } catch {
        void socket.close();
        this.drop(w);
        continue;
      }
      w.messages = [];
    }
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
    this.pump();
    while (this.settled < this.windows.length) {
      const w = this.windows[this.settled] as Window;
      if (!w.dropped && w.flight?.batch.settled() === undefined) break;
      this.settled++;
    }
    return this.settled;
  }

  /**
   * Closes the current window (the last sets' readiness depends on it), so that every offer's answer settles;
   * later offers are not written early.
   */
  flush(): void {
    if (!this.stopped) this.closeWindow();
    this.stopped = true;
  }

  /**
   * Flushes, waits for every window and closes their sockets: the sets the kernel took whole (asked again, the
   * same). `onWindow` hears each window settle meanwhile (the rule stream hands over what became ready).
   */
  finish(onWindow?: () => void): Promise<SetSpec[]> {
    this.finished ??= this.collect(onWindow);
    return this.finished;
  }

  private async collect(onWindow?: () => void): Promise<SetSpec[]> {
    this.flush();
    const outcome = async (w: Window): Promise<BatchResult | Error> =>
      (w.flight as NonNullable<Window['flight']>).batch.done.catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
    // The windows still queued go out one after another.
    while (this.next < this.windows.length) {
      const before = this.next;
      if (this.inFlight) await outcome(this.inFlight);
      onWindow?.();
      this.pump();
      // Settled windows always free the way; this only guards against waiting forever on a broken one.
      if (this.next === before) {
        for (const w of this.windows.slice(this.next)) this.drop(w);
        this.next = this.windows.length;
      }
    }
    const written: SetSpec[] = [];
    for (const w of this.windows) {
      if (!w.flight) continue;
      const r = await outcome(w);
      await w.flight.socket.close();
      if (!(r instanceof Error) && r.errors.length === 0) written.push(...w.sets);
    }
    return written;
  }
}

const emptyWindow = (): Window => ({ sets: [], messages: [], bytes: 0, dropped: false });
