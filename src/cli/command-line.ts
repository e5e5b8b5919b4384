// The command-line entry point main.ts calls: argv and environment in, one outcome out (run with options,
// print help, print the version, or a one-line error for exit code 2).
import { FLAG_SPECS } from './flag-specs.ts';
import { helpText } from './help.ts';
import type { Options } from '../config/options.ts';
import { buildOptions } from './options.ts';
import { parseFlags } from './pflag.ts';
import { checkEachValue, checkFlagCombinations, readTextFile, resolvePeerPasswords, type ReadTextFile } from './validate.ts';
import { versionText } from './version.ts';

export type ParseOutcome =
  | { kind: 'run'; options: Options }
  | { kind: 'help'; text: string }
  | { kind: 'version'; text: string }
  | { kind: 'error'; message: string };

function strayArgumentMessage(argument: string, afterBoolean: string | undefined): string {
  if (afterBoolean !== undefined) {
    return `unexpected argument "${argument}" after --${afterBoolean}: boolean flags take a value only as --${afterBoolean}=${argument}`;
  }
  return `unexpected argument "${argument}": kube-router takes flags only`;
}

/**
 * Parses kube-router's command line (argv without node and script) the way upstream does.
 * `readFile` reads --peer-router-passwords-file (injectable for tests).
 */
export function parseCommandLine(argv: readonly string[], env: NodeJS.ProcessEnv, readFile: ReadTextFile = readTextFile): ParseOutcome {
  const parsed = parseFlags(argv, FLAG_SPECS);
  if (!parsed.ok) return { kind: 'error', message: parsed.error };
  const flags = parsed.value;
  if (flags.values.get('help') === true) return { kind: 'help', text: helpText(FLAG_SPECS) };
  if (flags.values.get('version') === true) return { kind: 'version', text: versionText() };
  const stray = flags.positional[0];
  if (stray !== undefined) return { kind: 'error', message: strayArgumentMessage(stray, flags.afterBoolean.get(0)) };
  const values = checkEachValue(flags, FLAG_SPECS);
  if (!values.ok) return { kind: 'error', message: values.error };
  const passwords = resolvePeerPasswords(flags, readFile);
  if (!passwords.ok) return { kind: 'error', message: passwords.error };
  const combinations = checkFlagCombinations(flags, passwords.value.length);
  if (!combinations.ok) return { kind: 'error', message: combinations.error };
  return { kind: 'run', options: buildOptions(flags, env, passwords.value) };
}
