// `kube-router-lab probe --batch`: JSON lines in ({"from","host","port","protocol"?,"timeout"?}), one JSON line
// out per input line, in input order, with "connected" and "answer"/"error". Probes run concurrently.
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { resolveNamespace, type LabRef } from '../pods/runtime.ts';
import { DEFAULT_PROBE_TIMEOUT_MS, Prober, type ProbeProtocol, type ProbeResult } from './probe.ts';

export interface BatchStreamOptions {
  /** Probes in flight at once (default 64). */
  concurrency?: number;
  /** Used when a line has no "timeout" (default 1000 ms). */
  defaultTimeoutMs?: number;
}

export interface BatchSummary {
  total: number;
  connected: number;
  ms: number;
}

/** "1s", "250ms", "1.5s" or a number of milliseconds. */
export function parseTimeout(value: unknown, fallbackMs: number): number {
  if (value === undefined || value === null || value === '') return fallbackMs;
  if (typeof value === 'number' && value > 0) return value;
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(String(value).trim());
  if (!m) throw new Error(`bad timeout ${JSON.stringify(value)}`);
  const n = Number(m[1]);
  return m[2] === 's' ? n * 1000 : n;
}

const PROTOCOLS = new Set(['tcp', 'udp', 'sctp']);

/** resolveNamespace with a memo: a batch names the same sources over and over. */
function memoResolver(lab: LabRef): (ref: string) => string {
  const memo = new Map<string, string>();
  return (ref) => {
    let ns = memo.get(ref);
    if (ns === undefined) {
      ns = resolveNamespace(lab, ref);
      memo.set(ref, ns);
    }
    return ns;
  };
}

async function probeLine(resolve: (ref: string) => string, prober: Prober, line: string, defaultTimeoutMs: number): Promise<Record<string, unknown>> {
  let input: Record<string, unknown>;
  try {
    input = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return { line, connected: false, error: 'error', detail: 'input line is not JSON' };
  }
  try {
    const protocol = String(input['protocol'] ?? 'tcp').toLowerCase();
    if (!PROTOCOLS.has(protocol)) throw new Error(`unknown protocol ${protocol}`);
    const port = Number(input['port']);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`bad port ${String(input['port'])}`);
    if (typeof input['from'] !== 'string' || typeof input['host'] !== 'string') throw new Error('"from" and "host" are required strings');
    const result: ProbeResult = await prober.probe({
      from: resolve(input['from']),
      host: input['host'],
      port,
      protocol: protocol as ProbeProtocol,
      timeoutMs: parseTimeout(input['timeout'], defaultTimeoutMs),
    });
    return { ...input, ...result };
  } catch (e) {
    return { ...input, connected: false, error: 'error', detail: (e as Error).message };
  }
}

/**
 * Reads probe requests from `input` until it ends and writes one result line per request to `output`, in input
 * order, streaming results as soon as every earlier one is done.
 */
export async function runProbeBatchStream(lab: LabRef, input: Readable, output: Writable, opts: BatchStreamOptions = {}): Promise<BatchSummary> {
  const started = Date.now();
  const concurrency = opts.concurrency ?? 64;
  const defaultTimeoutMs = opts.defaultTimeoutMs ?? DEFAULT_PROBE_TIMEOUT_MS;
  const prober = new Prober(lab);
  const resolve = memoResolver(lab);
  const window: Promise<Record<string, unknown>>[] = [];
  let total = 0;
  let connected = 0;
  const emitHead = async (): Promise<void> => {
    const result = await window.shift()!;
    total++;
    if (result['connected'] === true) connected++;
    if (!output.write(JSON.stringify(result) + '\n')) await new Promise((r) => output.once('drain', r));
  };
  try {
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      if (line.trim() === '') continue;
      window.push(probeLine(resolve, prober, line, defaultTimeoutMs));
      if (window.length >= concurrency) await emitHead();
    }
    while (window.length > 0) await emitHead();
  } finally {
    prober.close();
  }
  return { total, connected, ms: Date.now() - started };
}
