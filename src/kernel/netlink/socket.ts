// NetlinkSocket: one kernel netlink socket (optionally inside another network namespace) with sequence
// numbers, single requests, dumps, chunked batches and multicast subscriptions, over the nlsock addon.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR, NLMSG_HDRLEN, NetlinkError, align4,
  decodeDone, decodeError, encodeMessage, parseMessages, type NetlinkMessage,
} from './codec.ts';

export const NETLINK_ROUTE = 0;
export const NETLINK_NETFILTER = 12;
export const NETLINK_GENERIC = 16;

/** The native surface of build/Release/nlsock.node (native/nlsock.cc). */
interface NlsockAddon {
  open(protocol: number, netnsPath?: string, rcvbufBytes?: number, sndbufBytes?: number): number;
  bind(fd: number, groups?: number): number;
  addMembership(fd: number, group: number): void;
  transact(fd: number, batch: Buffer, firstSeq: number, count: number, timeoutMs: number,
    cb: (err: Error | null, replies?: Buffer) => void, state?: Buffer): void;
  watch(fd: number, cb: (datagrams: Buffer, overrun: boolean) => void): void;
  close(fd: number): void;
}

let addon: NlsockAddon | undefined;

/** Loads the addon from the repo's build/ dir, whether running from src/ (tsx) or dist/src/ (tsc). */
function loadAddon(): NlsockAddon {
  if (addon) return addon;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++, dir = dirname(dir)) {
    const candidate = join(dir, 'build', 'Release', 'nlsock.node');
    if (existsSync(candidate)) {
      addon = createRequire(import.meta.url)(candidate) as NlsockAddon;
      return addon;
    }
  }
  throw new Error('nlsock.node not found: run `npm run build:native`');
}

export interface OpenOptions {
  /** A netns file (/run/netns/x, /proc/<pid>/ns/net): the socket talks to that namespace's kernel state. */
  netns?: string;
  /** Receive buffer; big batches need room for every ACK queued while the kernel works through them. */
  rcvbufBytes?: number;
  /** Longest wait for the kernel's replies to one chunk. */
  timeoutMs?: number;
  /**
   * Send buffer, which bounds one datagram: with it, batch() sends chunks of up to this size (default 64 KiB
   * chunks). Fewer, bigger chunks mean fewer round trips through our event loop, which other work shares.
   */
  sndbufBytes?: number;
}

export interface RequestMessage {
  type: number;
  /** Flags beyond NLM_F_REQUEST|NLM_F_ACK (which batch() always sets), e.g. NLM_F_CREATE|NLM_F_EXCL. */
  flags: number;
  payload: Buffer;
}

export interface BatchOptions {
  /** Upper bound on one sendto; must stay below the send buffer (net.core.wmem_default, 212992, unless opened with sndbufBytes). */
  maxChunkBytes?: number;
  maxChunkMessages?: number;
}

/** A batch handed to the kernel by sendTracked. */
export interface TrackedBatch {
  done: Promise<BatchResult>;
  /** undefined while the kernel works on it; then true when every request was acked, false otherwise. */
  settled(): boolean | undefined;
}

export interface BatchResult {
  /** Requests the kernel acknowledged. */
  acked: number;
  /** One error per refused request, with `index` pointing into the caller's array. */
  errors: NetlinkError[];
}

const DEFAULT_RCVBUF = 8 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_CHUNK_BYTES = 64 * 1024;
const DEFAULT_CHUNK_MESSAGES = 1024;
const DUMP_ATTEMPTS = 5;
const EINTR = 4;

export class NetlinkSocket {
  readonly protocol: number;
  readonly netns: string | undefined;
  private readonly fd: number;
  private readonly lib: NlsockAddon;
  private readonly timeoutMs: number;
  private readonly chunkBytes: number;
  private nextSeq = 1;
  /** Requests queued or in flight (sendTracked needs none). */
  private queued = 0;
  private closed = false;
  private subscribed = false;
  /** Requests run one at a time: replies for interleaved transactions would land in the wrong reader. */
  private tail: Promise<unknown> = Promise.resolve();

  private constructor(protocol: number, opts: OpenOptions) {
    this.lib = loadAddon();
    this.protocol = protocol;
    this.netns = opts.netns;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.fd = this.lib.open(protocol, opts.netns, opts.rcvbufBytes ?? DEFAULT_RCVBUF, ...(opts.sndbufBytes ? [opts.sndbufBytes] : []));
    // The kernel refuses a datagram within 32 bytes of the send buffer; leave room.
    this.chunkBytes = opts.sndbufBytes ? Math.max(DEFAULT_CHUNK_BYTES, opts.sndbufBytes - 4096) : DEFAULT_CHUNK_BYTES;
  }

  /** Opens a socket; throws (errno on the Error) when the namespace or protocol is unavailable. */
  static open(protocol: number, opts: OpenOptions = {}): NetlinkSocket {
    return new NetlinkSocket(protocol, opts);
  }

  /** One request with ACK; resolves to the replies before the ACK, rejects with NetlinkError on NACK. */
  async request(type: number, flags: number, payload: Buffer): Promise<NetlinkMessage[]> {
    const { replies, errors } = await this.transact([{ type, flags: flags | NLM_F_ACK, payload }], 0);
    if (errors[0]) throw errors[0];
    return replies;
  }

  /**
   * A dump (NLM_F_DUMP): every message up to NLMSG_DONE; rejects with NetlinkError if the dump fails.
   * A dump the kernel marks as interrupted (the table changed while it was being read, so entries may
   * be missing or doubled) is retried; EINTR if that keeps happening.
   */
  async dump(type: number, payload: Buffer): Promise<NetlinkMessage[]> {
    for (let attempt = 1; ; attempt++) {
      const { replies, errors } = await this.transact([{ type, flags: NLM_F_DUMP, payload }], 0);
      if (errors[0]) throw errors[0];
      const interrupted = replies.find((m) => m.flags & NLM_F_DUMP_INTR);
      if (!interrupted) return replies;
      if (attempt === DUMP_ATTEMPTS) throw new NetlinkError(EINTR, interrupted.seq, 0, `dump interrupted ${attempt} times by concurrent changes`);
    }
  }

  /**
   * Sends many requests (each with NLM_F_ACK) in as few sendto calls as fit the chunk limits.
   * The kernel keeps going after a refused request, so every request gets its own outcome.
   */
  async batch(messages: RequestMessage[], opts: BatchOptions = {}): Promise<BatchResult> {
    const maxBytes = opts.maxChunkBytes ?? this.chunkBytes;
    const maxCount = opts.maxChunkMessages ?? DEFAULT_CHUNK_MESSAGES;
    const result: BatchResult = { acked: 0, errors: [] };
    for (const [start, end] of planChunks(messages, maxBytes, maxCount)) {
      const chunk = messages.slice(start, end).map((m) => ({ ...m, flags: m.flags | NLM_F_ACK }));
      const { errors } = await this.transact(chunk, start);
      result.errors.push(...errors);
      result.acked += chunk.length - errors.length;
    }
    return result;
  }

  /**
   * Sends `messages` (each with NLM_F_ACK) wrapped between `before` and `after` in ONE sendto, without asking
   * the wrapper messages for an ACK: nfnetlink's batch begin/end, within which the kernel applies every
   * message or none. Each message's outcome is reported as by batch(); the whole must fit one datagram.
   */
  wrappedBatch(before: RequestMessage, messages: RequestMessage[], after: RequestMessage, timeoutMs = this.timeoutMs): Promise<BatchResult> {
    const run = async (): Promise<BatchResult> => {
      if (this.closed) throw new Error('netlink socket is closed');
      const seq0 = this.allocSeqs(messages.length + 2);
      const wire = Buffer.concat([
        encodeMessage(before.type, before.flags | NLM_F_REQUEST, seq0, before.payload),
        frameRequests(messages.map((m) => ({ ...m, flags: m.flags | NLM_F_ACK })), seq0 + 1),
        encodeMessage(after.type, after.flags | NLM_F_REQUEST, seq0 + messages.length + 1, after.payload),
      ]);
      const raw = await this.native(wire, seq0 + 1, messages.length, timeoutMs);
      const { errors } = sortReplies(raw, seq0 + 1, messages.length, 0);
      return { acked: messages.length - errors.length, errors };
    };
    return this.enqueue(run);
  }

  /**
   * Joins multicast groups (RTNLGRP_*) and delivers every received message; the socket is then a
   * listener only. `overrun` means the kernel dropped events and the receiver must resynchronise.
   */
  subscribe(groups: number[], onMessages: (messages: NetlinkMessage[], overrun: boolean) => void): void {
    if (this.subscribed) throw new Error('netlink socket already subscribed');
    this.subscribed = true;
    this.lib.bind(this.fd, 0);
    for (const g of groups) this.lib.addMembership(this.fd, g);
    this.lib.watch(this.fd, (datagrams, overrun) => onMessages(parseMessages(datagrams), overrun));
  }

  /** Closes after the in-flight requests finish. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.tail.catch(() => undefined);
    this.lib.close(this.fd);
  }

  private allocSeqs(count: number): number {
    const first = this.nextSeq;
    this.nextSeq = (this.nextSeq + count) % 0x1_0000_0000 || 1;
    return first;
  }

  /** Sends the messages in one sendto and sorts the replies into data messages and per-request errors. */
  private transact(messages: RequestMessage[], indexBase: number): Promise<{ replies: NetlinkMessage[]; errors: NetlinkError[] }> {
    const run = async () => {
      if (this.closed) throw new Error('netlink socket is closed');
      const firstSeq = this.allocSeqs(messages.length);
      const wire = frameRequests(messages, firstSeq);
      const raw = await this.native(wire, firstSeq, messages.length, this.timeoutMs);
      return sortReplies(raw, firstSeq, messages.length, indexBase);
    };
    return this.enqueue(run);
  }

  /** Runs after everything queued before it; counted in `queued` until it settles. */
  private enqueue<T>(run: () => Promise<T>): Promise<T> {
    this.queued++;
    const p = this.tail.then(run, run);
    const settled = (): void => {
      this.queued--;
    };
    p.then(settled, settled);
    this.tail = p.catch(() => undefined);
    return p;
  }

  /** The addon's send-and-collect on its thread: the raw replies (`state`: see sendTracked). */
  private native(wire: Buffer, firstSeq: number, count: number, timeoutMs: number, state?: Buffer): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      this.lib.transact(this.fd, wire, firstSeq >>> 0, count, timeoutMs, (err, replies) =>
        err || !replies ? reject(err ?? new Error('nlsock.transact: no replies')) : resolve(replies), state);
    });
  }

  /**
   * Hands the messages (each with NLM_F_ACK, in one datagram) to the addon's thread before returning, so the
   * kernel works through them while the caller goes on with synchronous work (a batch() only starts at the
   * next microtask). Only on a socket with nothing queued; outcomes as batch() reports them. `settled()` looks
   * at the outcome synchronously (the addon's thread publishes it in an 8-byte word): code that holds the event
   * loop (a plan being made) can tell that the kernel took the whole batch before the promise could say so.
   */
  sendTracked(messages: RequestMessage[]): TrackedBatch {
    if (this.closed || this.queued > 0) throw new Error('netlink socket is closed or busy');
    const firstSeq = this.allocSeqs(messages.length);
    const wire = frameRequests(messages.map((m) => ({ ...m, flags: m.flags | NLM_F_ACK })), firstSeq);
    if (wire.length > this.chunkBytes) throw new Error(`netlink: ${wire.length} bytes do not fit one datagram (${this.chunkBytes})`);
    const state = Buffer.alloc(8);
    // Started now, not when the queue reaches it (it is empty): the kernel works while the caller goes on.
    const replies = this.native(wire, firstSeq, messages.length, this.timeoutMs, state);
    const done = this.enqueue(() => replies).then((raw) => {
      const { errors } = sortReplies(raw, firstSeq, messages.length, 0);
      return { acked: messages.length - errors.length, errors };
    });
    return { done, settled: () => (state.readInt32LE(0) === 0 ? undefined : state.readInt32LE(4) === 0) };
  }
}

/** Splits a batch into [start, end) ranges that each fit one sendto. */
export function planChunks(messages: RequestMessage[], maxBytes: number, maxCount: number): Array<[number, number]> {
  const chunks: Array<[number, number]> = [];
  let start = 0;
  while (start < messages.length) {
    let end = start;
    let bytes = 0;
    while (end < messages.length && end - start < maxCount) {
      const size = NLMSG_HDRLEN + align4(messages[end]?.payload.length ?? 0);
      if (end > start && bytes + size > maxBytes) break;
      bytes += size;
      end++;
    }
    chunks.push([start, end]);
    start = end;
  }
  return chunks;
}

/** The bytes of one sendto: each message framed with NLM_F_REQUEST and consecutive sequence numbers. */
export function frameRequests(messages: RequestMessage[], firstSeq: number): Buffer {
  return Buffer.concat(messages.map((m, i) => encodeMessage(m.type, m.flags | NLM_F_REQUEST, firstSeq + i, m.payload)));
}

/**
 * Sorts a transaction's replies into data messages and one NetlinkError per refused request
 * (index = indexBase + position in the transaction). Replies to other sequence numbers are dropped.
 */
export function sortReplies(raw: Buffer, firstSeq: number, count: number, indexBase: number): { replies: NetlinkMessage[]; errors: NetlinkError[] } {
  const replies: NetlinkMessage[] = [];
  const errors: NetlinkError[] = [];
  for (const msg of parseMessages(raw)) {
    const offset = (msg.seq - firstSeq) >>> 0;
    if (offset >= count) continue; // a stale reply to an earlier, abandoned request
    if (msg.type === NLMSG_ERROR || msg.type === NLMSG_DONE) {
      const e = msg.type === NLMSG_ERROR ? decodeError(msg) : decodeDone(msg);
      if (e.errno !== 0) errors.push(new NetlinkError(e.errno, msg.seq, indexBase + offset, e.extack));
    } else {
      replies.push(msg);
    }
  }
  return { replies, errors };
}
