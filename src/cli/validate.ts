// Validation of parsed flags: each flag's own value rule from the table, then the rules that tie flags
// together (peer lists, IP families, something to run) and the peer password file. Every failure is one
// line that names the flag.
import { readFileSync } from 'node:fs';
import type { FlagValue } from './flag-kinds.ts';
import type { AnyFlagSpec } from './flag-specs.ts';
import { decodeStrictBase64 } from '../config/go-values.ts';
import type { ParsedFlags } from './pflag.ts';
import { err, ok, type Result } from '../result.ts';

/** How the password file is read; tests pass their own. */
export type ReadTextFile = (path: string) => string;

export const readTextFile: ReadTextFile = (path) => readFileSync(path, 'utf8');

function valueProblem(spec: AnyFlagSpec, value: FlagValue): string | undefined {
  // The table pairs each check with its flag's kind, so the value has the type the check expects.
  const check = spec.check as ((v: FlagValue) => string | undefined) | undefined;
  return check?.(value);
}

/** Applies every flag's own rule, to defaults and user values alike. */
export function checkEachValue(parsed: ParsedFlags, specs: readonly AnyFlagSpec[]): Result<void> {
  for (const spec of specs) {
    const value = parsed.values.get(spec.name);
    if (value === undefined) continue;
    const problem = valueProblem(spec, value);
    if (problem === undefined) continue;
    const text = parsed.givenText.get(spec.name) ?? spec.defaultText;
    const shown = spec.secret === true ? '' : ` "${text}"`;
    return err(`invalid value${shown} for --${spec.name}: ${problem}`);
  }
  return ok(undefined);
}

function plural(count: number, singular: string, pluralForm = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : pluralForm}`;
}

function decodePasswords(entries: string[], flag: string): Result<string[]> {
  const decoded: string[] = [];
  for (const [index, entry] of entries.entries()) {
    if (entry === '') {
      decoded.push('');
      continue;
    }
    const password = decodeStrictBase64(entry);
    if (!password.ok) return err(`invalid value for --${flag}: entry ${index + 1} is not valid base64`);
    decoded.push(password.value);
  }
  return ok(decoded);
}

/** The decoded peer passwords: from --peer-router-passwords, else from --peer-router-passwords-file. */
export function resolvePeerPasswords(parsed: ParsedFlags, readFile: ReadTextFile): Result<string[]> {
  const fromFlag = parsed.values.get('peer-router-passwords') as string[];
  if (fromFlag.length > 0) return decodePasswords(fromFlag, 'peer-router-passwords');
  const path = parsed.values.get('peer-router-passwords-file') as string;
  if (path === '') return ok([]);
  let content: string;
  try {
    content = readFile(path);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return err(`invalid value "${path}" for --peer-router-passwords-file: cannot read it (${reason})`);
  }
  // Same form as the flag: comma-separated base64 entries; a trailing newline is not an entry of its own.
  return decodePasswords(content.replace(/\r?\n$/, '').split(','), 'peer-router-passwords-file');
}

/** Rules across flags. `passwordCount` is the number of resolved peer passwords. */
export function checkFlagCombinations(parsed: ParsedFlags, passwordCount: number): Result<void> {
  const value = (name: string): FlagValue => parsed.values.get(name) as FlagValue;
  if (value('enable-ipv4') === false && value('enable-ipv6') === false) {
    return err('invalid value "false" for --enable-ipv4: --enable-ipv6 is false too; at least one IP family must be enabled');
  }
  const runsSomething = value('run-router') === true || value('run-firewall') === true || value('run-service-proxy') === true;
  if (!runsSomething && value('cleanup-config') !== true) {
    return err('nothing to do: --run-router, --run-firewall and --run-service-proxy are all false (--run-loadbalancer alone is not enough)');
  }
  const ipCount = (value('peer-router-ips') as string[]).length;
  const asnCount = (value('peer-router-asns') as number[]).length;
  const portCount = (value('peer-router-ports') as number[]).length;
  if (asnCount !== ipCount) {
    return err(`--peer-router-asns has ${plural(asnCount, 'value')} but --peer-router-ips has ${plural(ipCount, 'value')}: give one ASN per peer IP`);
  }
  if (portCount !== 0 && portCount !== ipCount) {
    return err(`--peer-router-ports has ${plural(portCount, 'value')} but --peer-router-ips has ${plural(ipCount, 'value')}: give no ports or one per peer IP`);
  }
  if (passwordCount !== 0 && passwordCount !== ipCount) {
    const source = (value('peer-router-passwords') as string[]).length > 0 ? '--peer-router-passwords' : '--peer-router-passwords-file';
    return err(`${source} has ${plural(passwordCount, 'entry', 'entries')} but --peer-router-ips has ${plural(ipCount, 'value')}: give no passwords or one per peer IP (blank entries allowed)`);
  }
  const healthPort = value('health-port');
  const sameAddress = value('health-addr') === '' || value('metrics-addr') === '' || value('health-addr') === value('metrics-addr');
  if (healthPort !== 0 && healthPort === value('metrics-port') && sameAddress) {
    return err(`invalid value "${String(healthPort)}" for --metrics-port: --health-port uses the same port`);
  }
  return ok(undefined);
}
