// iptables for every controller: which userspace (nf_tables or legacy) the system uses, one
// `iptables-restore --noflush` transaction per family that names only the chains and rules its caller owns,
// and reading back chosen chains of one table. Nothing here flushes or restores a table wholesale.
import { err, ok, type Result } from '../result.ts';
import { nonEmptyChunks, StreamedInput, unexpectedOutput, type Exec, type ExecError, type ExecOptions } from './exec.ts';
import type { IpFamily } from '../net/ip.ts';

/** Which iptables userspace drives the tables: the nf_tables one or the legacy (x_tables) one. */
export type IptablesMode = 'nft' | 'legacy';
export type IptablesTable = 'filter' | 'nat' | 'mangle' | 'raw';

/** Which tools to run: the family's, of one mode, or (no mode) the system's `iptables` alternative. */
export interface IptablesTarget {
  family: IpFamily;
  mode?: IptablesMode;
}

/** The tool for a target, e.g. `ip6tables-legacy-restore`, `iptables-save`, `iptables`. */
export function iptablesTool(target: IptablesTarget, verb?: 'save' | 'restore'): string {
  return [target.family === 4 ? 'iptables' : 'ip6tables', target.mode, verb].filter((p) => p !== undefined).join('-');
}

/** The mode the system's `iptables` (its alternatives link) runs in, read from `iptables -V`. */
export async function detectIptablesMode(exec: Exec): Promise<Result<IptablesMode, ExecError>> {
  const r = await exec.run('iptables', ['-V']);
  if (!r.ok) return r;
  if (r.value.includes('(legacy)')) return ok('legacy');
  if (r.value.includes('(nf_tables)')) return ok('nft');
  return err(unexpectedOutput('iptables', ['-V'], r.value, 'a version naming (legacy) or (nf_tables)'));
}

/** A rule as arguments after `-A CHAIN`, e.g. ['-m', 'comment', '--comment', 'a b', '-j', 'ACCEPT']. */
export type RuleArgs = readonly string[];

/** One table's part of a transaction. Each list is applied in the order given, in the order of the fields. */
export interface TableEdit {
  table: IptablesTable;
  /** Chains the caller owns, written whole: created when missing, else flushed, then filled with these rules. */
  fill?: readonly { chain: string; rules: readonly RuleArgs[] }[];
  /** Rules deleted by exact match (the transaction fails if one is not there). */
  delete?: readonly { chain: string; rule: RuleArgs }[];
  append?: readonly { chain: string; rule: RuleArgs }[];
  /** Rules inserted at a 1-based position. */
  insert?: readonly { chain: string; position: number; rule: RuleArgs }[];
  /** Chains the caller owns, flushed and deleted last: every reference to them must be gone by then. */
  remove?: readonly string[];
}

/** Quotes an argument the way iptables-save prints it (only when it holds spaces, quotes or backslashes). */
export function quoteArg(arg: string): string {
  return /[\s"\\]/.test(arg) || arg === '' ? `"${arg.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : arg;
}

const ruleText = (rule: RuleArgs): string => rule.map(quoteArg).join(' ');

/** The `iptables-restore --noflush` input for these edits; '' when they change nothing. */
export function renderRestore(edits: readonly TableEdit[]): string {
  const out: string[] = [];
  for (const e of edits) {
    const lines: string[] = [];
    const declared = [...(e.fill ?? []).map((f) => f.chain), ...(e.remove ?? [])];
    // Declaring a chain creates it; -F makes the flush explicit for iptables-nft, which keeps an existing one's rules.
    for (const chain of declared) lines.push(`:${chain} - [0:0]`);
    for (const chain of declared) lines.push(`-F ${chain}`);
    for (const d of e.delete ?? []) lines.push(`-D ${d.chain} ${ruleText(d.rule)}`);
    for (const f of e.fill ?? []) for (const rule of f.rules) lines.push(`-A ${f.chain} ${ruleText(rule)}`);
    for (const a of e.append ?? []) lines.push(`-A ${a.chain} ${ruleText(a.rule)}`);
    for (const i of e.insert ?? []) lines.push(`-I ${i.chain} ${i.position} ${ruleText(i.rule)}`);
    for (const chain of e.remove ?? []) lines.push(`-X ${chain}`);
    if (lines.length > 0) out.push(`*${e.table}`, ...lines, 'COMMIT');
  }
  return out.length > 0 ? `${out.join('\n')}\n` : '';
}

/**
 * One `iptables-restore -w --noflush` for one family: the kernel takes each table's part whole or not at all.
 * `transaction` is rendered edits or ready restore text (callers with their own renderer), or input still being
 * written (the tool parses it as it comes; nothing applies before its COMMIT). Nothing to do: no exec.
 */
export async function iptablesRestore(exec: Exec, target: IptablesTarget, transaction: readonly TableEdit[] | string | Iterable<string> | StreamedInput,
  options: Pick<ExecOptions, 'timeoutMs'> = {}): Promise<Result<void, ExecError>> {
  // A ready text, chunks (written as the tool reads them), or input still being made (the tool starts now).
  const text = typeof transaction === 'string' ? transaction : Array.isArray(transaction) ? renderRestore(transaction as readonly TableEdit[]) : null;
  const input = transaction instanceof StreamedInput ? transaction
    : text === null ? nonEmptyChunks(transaction as Iterable<string>) : text === '' ? null : text;
  if (input === null) return ok(undefined);
  // -w: wait for the xtables lock (legacy) instead of failing while another tool holds it.
  const r = await exec.run(iptablesTool(target, 'restore'), ['-w', '--noflush'], { input, ...options });
  return r.ok ? ok(undefined) : r;
}

/** `iptables-save -t TABLE` of one family: the whole table's text (callers pick their own chains from it). */
export function saveTable(exec: Exec, target: IptablesTarget, table: IptablesTable): Promise<Result<string, ExecError>> {
  return exec.run(iptablesTool(target, 'save'), ['-t', table]);
}

/**
 * The rules of the wanted chains in iptables-save text, as their text after `-A CHAIN ` (iptables-save's
 * canonical spelling), in order; a wanted chain that exists but is empty maps to [], a missing one is absent.
 */
export function chainRules(saveText: string, wanted: (chain: string) => boolean): Map<string, string[]> {
  const chains = new Map<string, string[]>();
  for (const line of saveText.split('\n')) {
    if (line.startsWith(':')) {
      const name = line.slice(1).split(' ')[0] ?? '';
      if (wanted(name)) chains.set(name, []);
    } else if (line.startsWith('-A ')) {
      const space = line.indexOf(' ', 3);
      const name = space < 0 ? line.slice(3) : line.slice(3, space);
      if (wanted(name)) chains.get(name)?.push(space < 0 ? '' : line.slice(space + 1));
    }
  }
  return chains;
}

/** The rules of just these chains of one table (one iptables-save). */
export async function readChains(exec: Exec, target: IptablesTarget, table: IptablesTable, chains: readonly string[]): Promise<Result<Map<string, string[]>, ExecError>> {
  const saved = await saveTable(exec, target, table);
  if (!saved.ok) return saved;
  const names = new Set(chains);
  return ok(chainRules(saved.value, (c) => names.has(c)));
}

/** Whether the kernel holds this exact rule (`iptables -C`, which compares as the kernel does, not as text). */
export async function ruleExists(exec: Exec, target: IptablesTarget, table: IptablesTable, chain: string, rule: RuleArgs): Promise<Result<boolean, ExecError>> {
  const r = await exec.run(iptablesTool(target), ['-w', '-t', table, '-C', chain, ...rule]);
  if (r.ok) return ok(true);
  // No such rule, or a set or chain the rule names is absent (so the rule cannot be there either).
  if (r.error.kind === 'object-not-found') return ok(false);
  return r;
}

/** One chain's rules (`iptables -S CHAIN`) as their text after `-A CHAIN `: cheaper than a whole table's save. */
export async function listChain(exec: Exec, target: IptablesTarget, table: IptablesTable, chain: string): Promise<Result<string[], ExecError>> {
  const r = await exec.run(iptablesTool(target), ['-w', '-t', table, '-S', chain]);
  if (!r.ok) return r;
  return ok(r.value.split('\n').filter((l) => l.startsWith(`-A ${chain} `)).map((l) => l.slice(`-A ${chain} `.length)));
}

/**
 * The first rule of a chain as its text after `-A CHAIN ` (undefined: the chain is empty): one tiny exec, cheap
 * enough to check every few seconds that nothing was inserted above a jump of ours.
 */
export async function firstRule(exec: Exec, target: IptablesTarget, table: IptablesTable, chain: string): Promise<Result<string | undefined, ExecError>> {
  const r = await exec.run(iptablesTool(target), ['-w', '-t', table, '-S', chain, '1']);
  if (!r.ok) return r;
  const line = r.value.split('\n').find((l) => l.startsWith(`-A ${chain} `));
  return ok(line?.slice(`-A ${chain} `.length));
}
