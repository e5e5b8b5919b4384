// Go time.Duration text: parsing the syntax pflag accepts (`90s`, `1h2m3.5s`, `300ms`, `0`) and printing the
// canonical form Go prints (`1m30s`, `5m0s`, `1h0m0s`, `0s`), so flag values and help defaults read like upstream's.
import { err, ok, type Result } from '../result.ts';

const NS_PER_UNIT: ReadonlyMap<string, bigint> = new Map([
  ['ns', 1n],
  ['us', 1_000n],
  ['\u00b5s', 1_000n], // micro sign
  ['\u03bcs', 1_000n], // Greek mu
  ['ms', 1_000_000n],
  ['s', 1_000_000_000n],
  ['m', 60_000_000_000n],
  ['h', 3_600_000_000_000n],
]);

// Go durations are int64 nanoseconds.
const MAX_NS = (1n << 63n) - 1n;
const NS_PER_MS = 1_000_000n;

function isDigit(ch: string | undefined): boolean {
  return ch !== undefined && ch >= '0' && ch <= '9';
}

/** Parses Go duration syntax into nanoseconds (exact, as a bigint). */
export function parseGoDurationNs(text: string): Result<bigint> {
  let rest = text;
  let negative = false;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    negative = rest.startsWith('-');
    rest = rest.slice(1);
  }
  if (rest === '0') return ok(0n);
  if (rest === '') return err('not a duration (examples: 90s, 5m0s, 1h30m, 300ms)');
  let total = 0n;
  while (rest !== '') {
    let i = 0;
    while (isDigit(rest[i])) i++;
    const whole = rest.slice(0, i);
    let fraction = '';
    let hasPoint = false;
    if (rest[i] === '.') {
      hasPoint = true;
      const start = ++i;
      while (isDigit(rest[i])) i++;
      fraction = rest.slice(start, i);
    }
    if (whole === '' && fraction === '') return err('not a duration (examples: 90s, 5m0s, 1h30m, 300ms)');
    const unitStart = i;
    while (i < rest.length && rest[i] !== '.' && !isDigit(rest[i])) i++;
    const unitText = rest.slice(unitStart, i);
    if (unitText === '') return err('missing unit (use ns, us, ms, s, m or h, e.g. 90s)');
    const unit = NS_PER_UNIT.get(unitText);
    if (unit === undefined) return err(`unknown unit "${unitText}" (use ns, us, ms, s, m or h)`);
    let part = BigInt(whole === '' ? '0' : whole) * unit;
    if (hasPoint && fraction !== '') part += (BigInt(fraction) * unit) / 10n ** BigInt(fraction.length);
    total += part;
    if (total > MAX_NS + (negative ? 1n : 0n)) return err('duration out of range');
    rest = rest.slice(i);
  }
  return ok(negative ? -total : total);
}

/** Parses Go duration syntax into milliseconds (fractional when the text has sub-millisecond precision). */
export function parseGoDuration(text: string): Result<number> {
  const parsed = parseGoDurationNs(text);
  if (!parsed.ok) return parsed;
  return ok(nsToMs(parsed.value));
}

function nsToMs(ns: bigint): number {
  const wholeMs = ns / NS_PER_MS;
  const remainder = ns % NS_PER_MS;
  return Number(wholeMs) + Number(remainder) / 1e6;
}

function msToNs(ms: number): bigint {
  const wholeMs = Math.trunc(ms);
  return BigInt(wholeMs) * NS_PER_MS + BigInt(Math.round((ms - wholeMs) * 1e6));
}

// "1.500" -> "1.5", "2.000" -> "2": Go drops trailing zeros of the fraction and a bare point.
function decimal(value: bigint, digits: number): string {
  const scale = 10n ** BigInt(digits);
  const whole = value / scale;
  const fraction = (value % scale).toString().padStart(digits, '0').replace(/0+$/, '');
  return fraction === '' ? whole.toString() : `${whole}.${fraction}`;
}

/** Prints a duration in nanoseconds the way Go's Duration.String does. */
export function formatGoDurationNs(ns: bigint): string {
  if (ns === 0n) return '0s';
  const sign = ns < 0n ? '-' : '';
  const abs = ns < 0n ? -ns : ns;
  if (abs < 1_000n) return `${sign}${abs}ns`;
  if (abs < 1_000_000n) return `${sign}${decimal(abs, 3)}\u00b5s`;
  if (abs < 1_000_000_000n) return `${sign}${decimal(abs, 6)}ms`;
  const hours = abs / 3_600_000_000_000n;
  const minutes = (abs / 60_000_000_000n) % 60n;
  const secondsNs = abs % 60_000_000_000n;
  let text = `${decimal(secondsNs, 9)}s`;
  if (hours > 0n || minutes > 0n) text = `${minutes}m${text}`;
  if (hours > 0n) text = `${hours}h${text}`;
  return sign + text;
}

/** Prints a duration given in milliseconds the way Go's Duration.String does (`5m0s`, `1m30s`, `300ms`). */
export function formatGoDuration(ms: number): string {
  return formatGoDurationNs(msToNs(ms));
}
