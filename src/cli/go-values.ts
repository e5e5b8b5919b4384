// Text-to-value conversions with the exact syntax Go's strconv and encoding packages accept, because pflag
// feeds flag values through them: unsigned integers (strconv.ParseUint, base 0 for scalar flags and base 10
// inside lists) and CSV lists (encoding/csv). Booleans and base64 are in src/config/go-values.ts.
import { err, ok, type Result } from '../result.ts';

const DIGITS: Record<number, RegExp> = { 2: /^[01]$/, 8: /^[0-7]$/, 10: /^[0-9]$/, 16: /^[0-9a-fA-F]$/ };

// Go allows "_" only with a base prefix (or a leading 0), and only between digits or right after the prefix.
function splitDigits(body: string, base: number, underscores: boolean, afterPrefix: boolean): string | undefined {
  if (body === '') return undefined;
  const digit = DIGITS[base];
  if (digit === undefined) return undefined;
  let previousWasDigit = afterPrefix;
  let digits = '';
  for (const ch of body) {
    if (ch === '_') {
      if (!underscores || !previousWasDigit) return undefined;
      previousWasDigit = false;
    } else if (digit.test(ch)) {
      digits += ch;
      previousWasDigit = true;
    } else {
      return undefined;
    }
  }
  return previousWasDigit && digits !== '' ? digits : undefined;
}

function digitsWithBase(text: string, baseZero: boolean): { digits: string; base: number } | undefined {
  if (!baseZero) {
    const digits = splitDigits(text, 10, false, false);
    return digits === undefined ? undefined : { digits, base: 10 };
  }
  const prefix = text.slice(0, 2).toLowerCase();
  const prefixed: Record<string, number> = { '0x': 16, '0o': 8, '0b': 2 };
  const prefixBase = prefixed[prefix];
  if (prefixBase !== undefined) {
    const digits = splitDigits(text.slice(2), prefixBase, true, true);
    return digits === undefined ? undefined : { digits, base: prefixBase };
  }
  if (text.length > 1 && text.startsWith('0')) {
    const digits = splitDigits(text, 8, true, false);
    return digits === undefined ? undefined : { digits, base: 8 };
  }
  const digits = splitDigits(text, 10, true, false);
  return digits === undefined ? undefined : { digits, base: 10 };
}

/**
 * strconv.ParseUint(text, base, bits): base 0 (`baseZero`) also accepts 0x/0o/0b prefixes, a leading-0 octal
 * form and digit-separating underscores, as Go's scalar uint flags do; list elements use plain base 10.
 */
export function parseGoUint(text: string, bits: 8 | 16 | 32 | 64, baseZero: boolean): Result<number> {
  const parsed = digitsWithBase(text, baseZero);
  if (parsed === undefined) return err('not an unsigned integer');
  let value = 0n;
  for (const ch of parsed.digits) value = value * BigInt(parsed.base) + BigInt(parseInt(ch, parsed.base));
  const max = (1n << BigInt(bits)) - 1n;
  if (value > max) return err(`out of range (0-${max})`);
  return ok(Number(value));
}

/** Reads one record the way pflag's string-slice flags do (encoding/csv, comma separated, RFC 4180 quotes). */
export function readCsvRecord(text: string): Result<string[]> {
  if (text === '') return ok([]);
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (text[i] === '"') {
      i++;
      for (;;) {
        if (i >= text.length) return err('unterminated quoted field in comma-separated list');
        const ch = text[i] as string;
        if (ch === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += ch;
        i++;
      }
      if (i < text.length && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') {
        return err('extraneous character after quoted field in comma-separated list');
      }
    } else {
      while (i < text.length && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') {
        if (text[i] === '"') return err('bare " in unquoted field of comma-separated list (quote the whole field)');
        field += text[i];
        i++;
      }
    }
    fields.push(field);
    // Only the first record counts, as in pflag: a newline ends the list.
    if (i >= text.length || text[i] !== ',') return ok(fields);
    i++;
  }
}
