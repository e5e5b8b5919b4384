// The value kinds a flag can have (mirroring pflag's types), how each kind turns text into a value, and how a
// value is printed back for --help. The parser and the help screen both go through these functions.
import { formatGoDuration, parseGoDuration } from './go-duration.ts';
import { parseGoBool } from '../config/go-values.ts';
import { parseGoUint, readCsvRecord } from './go-values.ts';
import { canonicalIp } from '../net/ip.ts';
import { err, ok, type Result } from '../result.ts';

export type FlagKind = 'bool' | 'string' | 'duration' | 'uint' | 'uint8' | 'uint16' | 'uint32' | 'strings' | 'uints' | 'ipSlice';

export type ValueOf<K extends FlagKind> = K extends 'bool'
  ? boolean
  : K extends 'string'
    ? string
    : K extends 'duration' | 'uint' | 'uint8' | 'uint16' | 'uint32'
      ? number
      : K extends 'uints'
        ? number[]
        : string[];

export type FlagValue = boolean | string | number | number[] | string[];

/** The type word pflag prints in usage lines; booleans print none. */
export const TYPE_HINT: Record<FlagKind, string> = {
  bool: '',
  string: 'string',
  duration: 'duration',
  uint: 'uint',
  uint8: 'uint8',
  uint16: 'uint16',
  uint32: 'uint32',
  strings: 'strings',
  uints: 'uints',
  ipSlice: 'ipSlice',
};

export function isListKind(kind: FlagKind): kind is 'strings' | 'uints' | 'ipSlice' {
  return kind === 'strings' || kind === 'uints' || kind === 'ipSlice';
}

const UINT_BITS = { uint: 64, uint8: 8, uint16: 16, uint32: 32 } as const;

function parseUintList(text: string): Result<number[]> {
  // pflag splits uint lists on plain commas (no CSV quoting) and parses each element in base 10.
  if (text === '') return ok([]);
  const values: number[] = [];
  for (const element of text.split(',')) {
    const parsed = parseGoUint(element, 64, false);
    if (!parsed.ok) return err(`element "${element}" is ${parsed.error}`);
    values.push(parsed.value);
  }
  return ok(values);
}

function parseIpList(text: string): Result<string[]> {
  const record = readCsvRecord(text);
  if (!record.ok) return record;
  const addresses: string[] = [];
  for (const element of record.value) {
    const parsed = canonicalIp(element.trim());
    if (!parsed.ok) return err(`element "${element}" is ${parsed.error}`);
    addresses.push(parsed.value);
  }
  return ok(addresses);
}

/** Converts one occurrence's text into a value of the kind (a list kind gives that occurrence's elements). */
export function parseValue(kind: FlagKind, text: string): Result<FlagValue> {
  switch (kind) {
    case 'bool':
      return parseGoBool(text);
    case 'string':
      return ok(text);
    case 'duration':
      return parseGoDuration(text);
    case 'uint':
    case 'uint8':
    case 'uint16':
    case 'uint32':
      return parseGoUint(text, UINT_BITS[kind], true);
    case 'strings':
      return readCsvRecord(text);
    case 'uints':
      return parseUintList(text);
    case 'ipSlice':
      return parseIpList(text);
  }
}

/** Prints a value the way it appears in "(default ...)" of the help screen. */
export function formatValue(kind: FlagKind, value: FlagValue): string {
  if (kind === 'duration') return formatGoDuration(value as number);
  if (kind === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.join(',')}]`;
  return String(value);
}
