// Turns gobgpd's log output (logrus JSON lines on stdout, Go panics as text on stderr) into our log records,
// with BGP passwords removed: both the values we configured and any field whose name mentions a password.

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

export interface GobgpdLogRecord {
  level: LogLevel;
  msg: string;
  fields: Record<string, unknown>;
}

/** Remembers secrets (TCP MD5 keys) and blanks them out of any text. Shared by the API client and the supervisor. */
export class SecretScrubber {
  private readonly secrets = new Set<string>();

  add(secret: string | undefined): void {
    // Very short strings would blank out unrelated text; passwords that short are still hidden by field name.
    if (secret && secret.length >= 3) this.secrets.add(secret);
  }

  scrub(text: string): string {
    let out = text;
    for (const secret of this.secrets) out = out.split(secret).join('[redacted]');
    // key=value / "key":"value" forms of any field named like a password
    return out.replace(/((?:auth[-_]?)?password"?\s*[:=]\s*"?)([^"\s,}]*)/gi, '$1[redacted]');
  }
}

const LEVELS: Record<string, LogLevel> = {
  trace: 'trace', debug: 'debug', info: 'info', warning: 'warn', warn: 'warn', error: 'error', fatal: 'fatal', panic: 'fatal',
};

function scrubValue(value: unknown, scrubber: SecretScrubber): unknown {
  if (typeof value === 'string') return scrubber.scrub(value);
  if (Array.isArray(value)) return value.map((v) => scrubValue(v, scrubber));
  if (value && typeof value === 'object') return scrubFields(value as Record<string, unknown>, scrubber);
  return value;
}

function scrubFields(fields: Record<string, unknown>, scrubber: SecretScrubber): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    out[key] = /password/i.test(key) ? '[redacted]' : scrubValue(value, scrubber);
  }
  return out;
}

/** Parses one line gobgpd wrote. `fromStderr` lines that are not JSON (Go runtime output) are errors. */
export function parseGobgpdLogLine(line: string, fromStderr: boolean, scrubber: SecretScrubber): GobgpdLogRecord | undefined {
  const text = line.trim();
  if (text === '') return undefined;
  if (text.startsWith('{')) {
    try {
      const { level, msg, time: _time, ...rest } = JSON.parse(text) as Record<string, unknown>;
      return {
        level: LEVELS[String(level).toLowerCase()] ?? 'info',
        msg: scrubber.scrub(String(msg ?? '')),
        fields: scrubFields(rest, scrubber),
      };
    } catch {
      // not JSON after all: fall through to plain text
    }
  }
  return { level: fromStderr ? 'error' : 'info', msg: scrubber.scrub(text), fields: {} };
}

/** Splits a byte stream into lines, holding back an unfinished last line. */
export class LineSplitter {
  private pending = '';

  push(chunk: string): string[] {
    const parts = (this.pending + chunk).split('\n');
    this.pending = parts.pop() ?? '';
    return parts;
  }

  flush(): string[] {
    const rest = this.pending;
    this.pending = '';
    return rest ? [rest] : [];
  }
}
