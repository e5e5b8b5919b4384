// The one way kube-router runs a userspace tool (iptables-restore, ipset, nft, sysctl, ip), optionally inside a
// named network namespace: stdout as a value on success, otherwise an error classified here, once, so callers
// branch on its kind and never read the tool's error text.
import { spawn } from 'node:child_process';
import { closeSync } from 'node:fs';
import { basename } from 'node:path';
import { err, ok, type Result } from '../result.ts';
import { feed, fillSpool, openSpool, StreamedInput } from './exec-input.ts';

/**
 * Why a tool run failed:
 * - tool-not-found: the binary is not installed (spawn ENOENT, exit 127 from a shell, or `ip netns exec`
 *   saying it could not exec it);
 * - xtables-lock: another process holds the xtables lock (iptables says so, exit 4) — worth retrying later.
 *   Exit 4 alone is not enough: iptables-nft-restore also exits 4 when the kernel refuses a rule;
 * - object-not-found: the tool ran and said the named table, chain, rule, set or sysctl does not exist;
 * - timeout: killed after the time allowed;
 * - exit: any other non-zero exit status;
 * - unexpected-output: the tool succeeded but the adapter reading its output could not make sense of it.
 */
export type ExecErrorKind = 'tool-not-found' | 'xtables-lock' | 'object-not-found' | 'timeout' | 'exit' | 'unexpected-output';

export interface ExecError {
  kind: ExecErrorKind;
  /** The tool as asked for (e.g. `ipset`), never the `ip netns exec` wrapper. */
  tool: string;
  args: readonly string[];
  /** Exit status, when the tool exited. */
  status?: number;
  stderr: string;
  /** One line for logs: the command, what happened and the first lines of its error output. */
  message: string;
}

export { StreamedInput };

export interface ExecOptions {
  /**
   * Written to the tool's stdin (stdin is closed either way). Chunks (see inChunks) are pulled one at a time,
   * so a big restore never sits in memory as one string: more than one chunk is spooled to an unlinked
   * temporary file that becomes the tool's stdin (see openSpool; through a pipe when no temporary file can be
   * made), one chunk goes through a pipe. A StreamedInput (exec-input.ts) goes through a pipe as it is
   * produced: the tool starts before its input is complete.
   */
  input?: string | Iterable<string> | StreamedInput;
  /** Kill the tool after this long (default DEFAULT_TIMEOUT_MS). */
  timeoutMs?: number;
}

export interface Exec {
  /** Runs `tool args`: ok(stdout) on exit status 0, else a classified error. */
  run(tool: string, args: readonly string[], options?: ExecOptions): Promise<Result<string, ExecError>>;
  /** The named network namespace tools run in (undefined: the current one). */
  readonly netns?: string;
  /** How many processes were started so far (tests and benches assert on the work done). */
  readonly count: number;
}

/** Long enough for a full restore of a big ruleset on a loaded node; a hung tool must not stall a controller forever. */
export const DEFAULT_TIMEOUT_MS = 120_000;

/** What a finished (or killed) process left behind. */
export interface ProcessOutcome {
  /** Exit status; undefined when the binary could not be started or the process was killed. */
  status?: number;
  spawnErrorCode?: string;
  timedOut?: boolean;
  stdout: string;
  stderr: string;
}

const XTABLES_TOOL = /^ip6?tables(-legacy|-nft)?(-restore|-save)?$/;

// What each tool says (exit status 1) when the object it was asked about does not exist.
const OBJECT_NOT_FOUND: readonly [RegExp, RegExp][] = [
  [/^nft$/, /No such file or directory/],
  [/^ipset$/, /does not exist/],
  [XTABLES_TOOL, /No chain\/target\/match by that name|does a matching rule exist in that chain|Set \S+ doesn't exist/],
  [/^sysctl$/, /cannot stat .*: No such file or directory/],
];

function firstLines(text: string): string {
  return text.trim().split('\n').slice(0, 5).join('; ');
}

/**
 * Classifies a failed run. `viaNetns`: the tool was started through `ip netns exec`, which reports a missing
 * binary on stderr instead of failing the spawn.
 */
export function classifyFailure(tool: string, args: readonly string[], outcome: ProcessOutcome, viaNetns = false): ExecError {
  const name = basename(tool);
  const command = [tool, ...args].join(' ');
  const detail = firstLines(outcome.stderr) || firstLines(outcome.stdout);
  const base = { tool, args, stderr: outcome.stderr, ...(outcome.status !== undefined ? { status: outcome.status } : {}) };
  if (outcome.timedOut) return { ...base, kind: 'timeout', message: `${command} timed out${detail ? `: ${detail}` : ''}` };
  const missing = outcome.spawnErrorCode === 'ENOENT' || outcome.status === 127 ||
    (viaNetns && /^exec of ".*" failed: No such file or directory/m.test(outcome.stderr));
  if (missing) return { ...base, kind: 'tool-not-found', message: `${tool}: command not found` };
  const exited = outcome.status !== undefined ? `exited ${outcome.status}` : `failed (${outcome.spawnErrorCode ?? 'killed'})`;
  const message = `${command} ${exited}${detail ? `: ${detail}` : ''}`;
  if (/Another app is currently holding the xtables lock/.test(outcome.stderr)) return { ...base, kind: 'xtables-lock', message };
  if (OBJECT_NOT_FOUND.some(([t, said]) => t.test(name) && said.test(outcome.stderr))) return { ...base, kind: 'object-not-found', message };
  return { ...base, kind: 'exit', message };
}

async function runProcess(file: string, argv: readonly string[], options: ExecOptions): Promise<ProcessOutcome> {
  const input = options.input ?? '';
  if (typeof input === 'string' || input instanceof StreamedInput) return runWith(file, argv, options, input);
  const chunks = input[Symbol.iterator]();
  const first = chunks.next();
  const second = first.done ? first : chunks.next();
  if (second.done) return runWith(file, argv, options, first.done ? '' : first.value);
  const head = [first.value, second.value];
  const fd = openSpool();
  // No writable temporary directory (a read-only root filesystem): the pipe, as before spooling.
  if (fd === null) return runWith(file, argv, options, (function* () { yield* head; for (let n = chunks.next(); !n.done; n = chunks.next()) yield n.value; })());
  try {
    await fillSpool(fd, head, chunks);
  } catch (e) {
    closeSync(fd);
    return { spawnErrorCode: (e as NodeJS.ErrnoException).code ?? 'EIO', stdout: '', stderr: `spooling the input of ${file}: ${String(e)}` };
  }
  try {
    return await runWith(file, argv, options, fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Runs the tool with stdin from a string, a chunk iterator or a producer's chunks (through a pipe), or from a
 * spooled file's descriptor.
 */
function runWith(file: string, argv: readonly string[], options: ExecOptions, stdin: string | number | Iterator<string> | StreamedInput): Promise<ProcessOutcome> {
  return new Promise((resolve) => {
    let settled = false;
    const child = spawn(file, argv, { stdio: [typeof stdin === 'number' ? stdin : 'pipe', 'pipe', 'pipe'] });
    const stdout = child.stdout as NodeJS.ReadableStream & { destroy(): void };
    const stderr = child.stderr as NodeJS.ReadableStream & { destroy(): void };
    const out: Buffer[] = [];
    const errOut: Buffer[] = [];
    let timedOut = false;
    let spawnErrorCode: string | undefined;
    const finish = (code: number | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({
        ...(code !== null && !timedOut ? { status: code } : {}),
        ...(spawnErrorCode ? { spawnErrorCode } : {}),
        ...(timedOut ? { timedOut } : {}),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(errOut).toString('utf8'),
      });
    };
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
      // A grandchild (a shell's) may keep the pipes open: do not wait for them.
      stdout.destroy();
      stderr.destroy();
      finish(null);
    }, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    stdout.on('data', (d: Buffer) => out.push(d));
    stderr.on('data', (d: Buffer) => errOut.push(d));
    child.on('error', (e: NodeJS.ErrnoException) => {
      spawnErrorCode = e.code ?? 'EUNKNOWN';
      // A process that never started emits no 'close' of its own on every Node version.
      if (child.pid === undefined) finish(null);
    });
    child.on('close', (code) => finish(code));
    if (child.stdin) {
      child.stdin.on('error', () => undefined);
      if (typeof stdin === 'string') child.stdin.end(stdin);
      else if (typeof stdin === 'number') return;
      else if (stdin instanceof StreamedInput) stdin.attach(child.stdin);
      else feed(child.stdin, stdin);
    }
  });
}

/**
 * Tool input as one string (recording fakes and wrappers in tests and benches; never on the write path). A
 * streamed input cannot be read so: such fakes must not be handed one.
 */
export function inputText(input: ExecOptions['input']): string {
  if (input instanceof StreamedInput) throw new Error('inputText: a streamed input has no text yet');
  return typeof input === 'string' ? input : input === undefined ? '' : [...input].join('');
}

/** Chunk size for tool input: big enough that writes are few, small enough that memory stays flat. */
export const INPUT_CHUNK_BYTES = 64 * 1024;

/**
 * Lines (without their newline) joined into chunks of about `maxBytes`, each ending in a newline, produced
 * lazily: a renderer that yields lines feeds a tool with bounded memory however big the state is.
 */
export function* inChunks(lines: Iterable<string>, maxBytes = INPUT_CHUNK_BYTES): Generator<string> {
  let parts: string[] = [];
  let size = 0;
  for (const line of lines) {
    parts.push(line);
    size += line.length + 1;
    if (size >= maxBytes) {
      yield `${parts.join('\n')}\n`;
      parts = [];
      size = 0;
    }
  }
  if (parts.length > 0) yield `${parts.join('\n')}\n`;
}

/**
 * The chunks, or null when there are none (so a caller with nothing to write starts no process). Only the
 * first chunk is produced here; the rest stay lazy.
 */
export function nonEmptyChunks(chunks: Iterable<string>): Iterable<string> | null {
  const it = chunks[Symbol.iterator]();
  let first = it.next();
  while (!first.done && first.value === '') first = it.next();
  if (first.done) return null;
  const head = first.value;
  return (function* () {
    yield head;
    for (let next = it.next(); !next.done; next = it.next()) yield next.value;
  })();
}

/** Runs tools in the current network namespace, or (tests, benches) in the named one via `ip netns exec`. */
export function processExec(netns?: string): Exec {
  let count = 0;
  return {
    ...(netns ? { netns } : {}),
    get count() {
      return count;
    },
    async run(tool, args, options = {}) {
      count++;
      const outcome = netns ? await runProcess('ip', ['netns', 'exec', netns, tool, ...args], options) : await runProcess(tool, args, options);
      return outcome.status === 0 ? ok(outcome.stdout) : err(classifyFailure(tool, args, outcome, netns !== undefined));
    },
  };
}

/** For an adapter that ran a tool successfully but cannot read what it printed. */
export function unexpectedOutput(tool: string, args: readonly string[], output: string, expected: string): ExecError {
  return { kind: 'unexpected-output', tool, args, stderr: '', message: `${[tool, ...args].join(' ')}: expected ${expected}, got ${JSON.stringify(firstLines(output))}` };
}

/** The error as text, for layers whose results carry a message (logs, Events). */
export function withMessage<T>(r: Result<T, ExecError>): Result<T> {
  return r.ok ? r : err(r.error.message);
}
