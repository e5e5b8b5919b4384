// A command-line parser with spf13/pflag's rules, so every command line upstream kube-router accepts means
// the same here: `--flag value` and `--flag=value`; booleans take a value only after "=" (`--flag false`
// leaves "false" as a stray argument); one-letter forms `-v 2`, `-v=2`, `-v2`, `-hV`; `--` ends the flags;
// list flags append across repeats, the first use replacing the default. Errors are one line, as values.
import { isListKind, parseValue, type FlagValue } from './flag-kinds.ts';
import type { AnyFlagSpec } from './flag-specs.ts';
import { err, ok, type Result } from '../result.ts';

export interface ParsedFlags {
  /** Every flag's value: the user's, or the default. */
  values: Map<string, FlagValue>;
  /** The text given for each flag the user set (list flags: all occurrences joined by ","). */
  givenText: Map<string, string>;
  /** Arguments that are not flags, in order. */
  positional: string[];
  /** For each positional argument that directly followed a boolean flag written without "=", that flag. */
  afterBoolean: Map<number, string>;
}

class FlagSet {
  private readonly byName = new Map<string, AnyFlagSpec>();
  private readonly byShort = new Map<string, AnyFlagSpec>();
  readonly parsed: ParsedFlags = { values: new Map(), givenText: new Map(), positional: [], afterBoolean: new Map() };

  constructor(specs: readonly AnyFlagSpec[]) {
    for (const spec of specs) {
      this.byName.set(spec.name, spec);
      if (spec.short !== undefined) this.byShort.set(spec.short, spec);
      const initial = parseValue(spec.kind, spec.defaultText);
      if (!initial.ok) throw new Error(`default of --${spec.name} does not parse: ${initial.error}`);
      this.parsed.values.set(spec.name, initial.value);
    }
  }

  long(name: string): AnyFlagSpec | undefined {
    return this.byName.get(name);
  }

  short(letter: string): AnyFlagSpec | undefined {
    return this.byShort.get(letter);
  }

  set(spec: AnyFlagSpec, text: string): Result<void> {
    const parsed = parseValue(spec.kind, text);
    if (!parsed.ok) {
      const shown = spec.secret === true ? '' : ` "${text}"`;
      return err(`invalid value${shown} for --${spec.name}: ${parsed.error}`);
    }
    const previousText = this.parsed.givenText.get(spec.name);
    if (isListKind(spec.kind) && previousText !== undefined) {
      const previous = this.parsed.values.get(spec.name) as unknown[];
      this.parsed.values.set(spec.name, [...previous, ...(parsed.value as unknown[])] as FlagValue);
      this.parsed.givenText.set(spec.name, `${previousText},${text}`);
    } else {
      this.parsed.values.set(spec.name, parsed.value);
      this.parsed.givenText.set(spec.name, text);
    }
    return ok(undefined);
  }
}

function takesNoValue(spec: AnyFlagSpec): boolean {
  return spec.kind === 'bool';
}

/** Parses `argv` (without the program name) against the flag table. */
export function parseFlags(argv: readonly string[], specs: readonly AnyFlagSpec[]): Result<ParsedFlags> {
  const flags = new FlagSet(specs);
  const args = [...argv];
  let booleanWithoutValue: string | undefined;
  while (args.length > 0) {
    const arg = args.shift() as string;
    const lastBoolean = booleanWithoutValue;
    booleanWithoutValue = undefined;
    if (arg === '--') {
      flags.parsed.positional.push(...args);
      break;
    }
    if (arg.length < 2 || !arg.startsWith('-')) {
      if (lastBoolean !== undefined) flags.parsed.afterBoolean.set(flags.parsed.positional.length, lastBoolean);
      flags.parsed.positional.push(arg);
      continue;
    }
    const outcome = arg.startsWith('--') ? parseLong(arg, args, flags) : parseShorts(arg, args, flags);
    if (!outcome.ok) return outcome;
    booleanWithoutValue = outcome.value;
  }
  return ok(flags.parsed);
}

// Returns the name of a boolean flag that was given without "=", so a following "false" can be explained.
function parseLong(arg: string, rest: string[], flags: FlagSet): Result<string | undefined> {
  const body = arg.slice(2);
  if (body === '' || body.startsWith('-') || body.startsWith('=')) return err(`bad flag syntax: ${arg}`);
  const equals = body.indexOf('=');
  const name = equals < 0 ? body : body.slice(0, equals);
  const spec = flags.long(name);
  if (spec === undefined) return err(`unknown flag: --${name}`);
  if (equals >= 0) {
    const set = flags.set(spec, body.slice(equals + 1));
    return set.ok ? ok(undefined) : set;
  }
  if (takesNoValue(spec)) {
    const set = flags.set(spec, 'true');
    return set.ok ? ok(spec.name) : set;
  }
  if (rest.length === 0) return err(`flag needs an argument: --${name}`);
  const set = flags.set(spec, rest.shift() as string);
  return set.ok ? ok(undefined) : set;
}

function parseShorts(arg: string, rest: string[], flags: FlagSet): Result<string | undefined> {
  let letters = arg.slice(1);
  let lastBoolean: string | undefined;
  while (letters.length > 0) {
    const letter = letters[0] as string;
    const spec = flags.short(letter);
    if (spec === undefined) return err(`unknown shorthand flag: '${letter}' in ${arg}`);
    let value: string;
    lastBoolean = undefined;
    if (letters.length > 2 && letters[1] === '=') {
      value = letters.slice(2);
      letters = '';
    } else if (takesNoValue(spec)) {
      value = 'true';
      letters = letters.slice(1);
      lastBoolean = spec.name;
    } else if (letters.length > 1) {
      value = letters.slice(1);
      letters = '';
    } else if (rest.length > 0) {
      value = rest.shift() as string;
      letters = '';
    } else {
      return err(`flag needs an argument: '${letter}' in ${arg}`);
    }
    const set = flags.set(spec, value);
    if (!set.ok) return set;
  }
  return ok(lastBoolean);
}
