// The process-wide structured logger: JSON lines by default, a human-readable form on request,
// klog-style verbosity (-v N), and secrets (BGP passwords, tokens) redacted wherever they appear.
import { pino, type Logger } from 'pino';

export type LogFormat = 'json' | 'text';

const REDACT = [
  'password', '*.password', '*.*.password', 'authPassword', '*.authPassword', '*.*.authPassword',
  'token', '*.token', 'bearerToken', '*.bearerToken', 'headers.authorization', '*.headers.authorization',
];

let verbosity = 0;
let format: LogFormat = process.env['KUBE_ROUTER_LOG_FORMAT'] === 'text' ? 'text' : 'json';

function textStream() {
  return {
    write(line: string): void {
      try {
        const { level, time, msg, component, pid: _p, hostname: _h, ...rest } = JSON.parse(line) as Record<string, unknown>;
        const lvl = pino.levels.labels[Number(level)] ?? String(level);
        const extra = Object.keys(rest).length ? ' ' + JSON.stringify(rest) : '';
        process.stderr.write(`${new Date(Number(time)).toISOString()} ${lvl.toUpperCase().padEnd(5)} ${component ? `[${String(component)}] ` : ''}${String(msg ?? '')}${extra}\n`);
      } catch {
        process.stderr.write(line);
      }
    },
  };
}

function build(): Logger {
  // KUBE_ROUTER_LOG_LEVEL (e.g. "silent" in test runs) overrides the verbosity-derived level.
  const level = process.env['KUBE_ROUTER_LOG_LEVEL'] ?? (verbosity >= 4 ? 'trace' : verbosity >= 2 ? 'debug' : 'info');
  const opts = { level, redact: { paths: REDACT, censor: '[redacted]' }, base: { pid: process.pid } };
  return format === 'text' ? pino(opts, textStream()) : pino(opts, pino.destination({ fd: 2, sync: true }));
}

let root = build();
const children = new Map<string, Logger>();

/** Reconfigures every logger handed out so far (called once flags are parsed). */
export function configureLogging(opts: { verbosity?: number; format?: LogFormat }): void {
  if (opts.verbosity !== undefined) verbosity = opts.verbosity;
  if (opts.format !== undefined) format = opts.format;
  root = build();
  for (const name of children.keys()) children.set(name, root.child({ component: name }));
}

/** A logger for one component ("netpol", "reflector/pods", ...). Re-fetch after configureLogging. */
export function logger(component?: string): Logger {
  if (!component) return root;
  let l = children.get(component);
  if (!l) {
    l = root.child({ component });
    children.set(component, l);
  }
  return l;
}

/** klog-style gate: `if (v(2)) log.debug(...)` for messages only wanted at -v 2 and above. */
export function v(level: number): boolean {
  return verbosity >= level;
}
