// How a tool's input reaches it (kernel/exec.ts runs the tool): chunked text spooled to an unlinked temporary
// file, pulled chunk by chunk through a pipe, or pushed through a pipe as a producer makes it (StreamedInput).
import { mkdtempSync, openSync, rmdirSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

type Stdin = NodeJS.WritableStream & { destroyed: boolean; writableLength: number };

/**
 * A tool's input made while the tool already runs: text is written as it becomes ready and the tool parses it
 * meanwhile (a restore begun during planning). push() writes at once, even from code that holds the event loop:
 * a pipe write with nothing queued before it goes straight to the kernel, and the tool reads it on its own
 * core; only what the pipe cannot take yet waits for the loop. The exec attaches the tool's stdin.
 */
export class StreamedInput {
  private stdin: Stdin | null = null;
  private early: string[] = [];
  private ended = false;

  /** Called by the exec once the tool is started (what was pushed before goes first). */
  attach(stdin: Stdin): void {
    this.stdin = stdin;
    for (const text of this.early) this.write(text);
    this.early = [];
    if (this.ended) stdin.end();
  }

  push(text: string): void {
    if (this.ended) throw new Error('input already ended');
    if (text === '') return;
    if (this.stdin) this.write(text);
    else this.early.push(text);
  }

  /** Writes chunks, waiting whenever a window's worth waits for the pipe (memory stays bounded). */
  async pushAll(chunks: Iterable<string>): Promise<void> {
    for (const chunk of chunks) {
      this.push(chunk);
      if (this.stdin && !this.stdin.destroyed && this.stdin.writableLength >= INPUT_WINDOW_BYTES) await drainedOrGone(this.stdin);
    }
  }

  /** Closes the tool's stdin. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.stdin && !this.stdin.destroyed) this.stdin.end();
  }

  // A tool that went away (exited, failed) takes no more input: the rest is dropped, its result says why.
  private write(text: string): void {
    if (!this.stdin || this.stdin.destroyed) return;
    this.stdin.write(text);
  }
}

/** Yield to the event loop after this much spooled input, so a huge restore does not hold it. */
const SPOOL_YIELD_BYTES = 8 * 1024 * 1024;

/**
 * A temporary file for a tool's input, unlinked at once (nothing is left on disk, even if we die), or null
 * when none can be made. The tool then reads its whole input at file speed: fed through a pipe it waited for
 * each chunk on our event loop, and at start-up other controllers hold that loop (a 50k-pod ipset restore took
 * twice as long as from a file).
 */
export function openSpool(): number | null {
  try {
    const dir = mkdtempSync(join(tmpdir(), 'kube-router-input-'));
    const path = join(dir, 'input');
    try {
      const fd = openSync(path, 'w+', 0o600);
      unlinkSync(path);
      return fd;
    } finally {
      rmdirSync(dir);
    }
  } catch {
    return null;
  }
}

/** Writes the chunks at their positions (the descriptor's offset stays 0 for the tool); memory stays one chunk. */
export async function fillSpool(fd: number, head: readonly string[], rest: Iterator<string>): Promise<void> {
  let position = 0;
  let sinceYield = 0;
  const put = (chunk: string): void => {
    const bytes = Buffer.from(chunk, 'utf8');
    for (let off = 0; off < bytes.length;) off += writeSync(fd, bytes, off, bytes.length - off, position + off);
    position += bytes.length;
    sinceYield += bytes.length;
  };
  for (const chunk of head) put(chunk);
  for (let next = rest.next(); !next.done; next = rest.next()) {
    put(next.value);
    if (sinceYield >= SPOOL_YIELD_BYTES) {
      sinceYield = 0;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}

/**
 * How much input may wait in our buffer for the pipe (when spooling is not possible). The stream's own mark
 * (16 KiB) would make every 64 KiB chunk wait for 'drain', one event-loop turn per chunk; with a window, libuv
 * keeps the pipe full on its own, topped up whenever a written chunk leaves less than half of it queued.
 */
const INPUT_WINDOW_BYTES = 1024 * 1024;

/** Writes chunks while less than the window waits for the pipe, then closes it; stops if the tool went away. */
export function feed(stdin: Stdin, chunks: Iterator<string>): void {
  let done = false;
  let pumping = false;
  const pump = (): void => {
    if (pumping || done) return;
    pumping = true;
    while (stdin.writableLength < INPUT_WINDOW_BYTES) {
      if (stdin.destroyed) {
        done = true;
        break;
      }
      const next = chunks.next();
      if (next.done) {
        done = true;
        stdin.end();
        break;
      }
      stdin.write(next.value, written);
    }
    pumping = false;
  };
  const written = (): void => {
    if (stdin.writableLength < INPUT_WINDOW_BYTES / 2) pump();
  };
  pump();
}

/** Resolves when the pipe took what was queued, or went away (then no 'drain' would ever come). */
function drainedOrGone(stdin: Stdin): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      stdin.off('drain', done);
      stdin.off('close', done);
      stdin.off('error', done);
      resolve();
    };
    stdin.on('drain', done);
    stdin.on('close', done);
    stdin.on('error', done);
  });
}
