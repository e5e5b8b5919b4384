// nftables for every controller: one `nft -f` transaction (the kernel commits it whole or not at all) and
// reading back one named table. Callers only ever name their own tables.
import { ok, type Result } from '../result.ts';
import { nonEmptyChunks, type Exec, type ExecError, type ExecOptions } from './exec.ts';

/** Runs a transaction (`nft -f -`), given whole or as chunks written as nft reads them; nothing to do: no exec. */
export async function nftApply(exec: Exec, transaction: string | Iterable<string>, options: Pick<ExecOptions, 'timeoutMs'> = {}): Promise<Result<void, ExecError>> {
  const input = typeof transaction === 'string' ? (transaction === '' ? null : transaction) : nonEmptyChunks(transaction);
  if (input === null) return ok(undefined);
  const r = await exec.run('nft', ['-f', '-'], { input, ...options });
  return r.ok ? ok(undefined) : r;
}

/** Whether the kernel would take a transaction (`nft -c -f -`: validated in the kernel, never committed). */
export async function nftCheck(exec: Exec, transaction: string | Iterable<string>): Promise<Result<void, ExecError>> {
  const r = await exec.run('nft', ['-c', '-f', '-'], { input: transaction });
  return r.ok ? ok(undefined) : r;
}

/**
 * One table's listing (`nft [-j] list table FAMILY NAME`; family ip, ip6, inet, ...), or undefined when it does
 * not exist. Listed by name: nft answers fast for an absent table, while `list tables` fetches the whole ruleset.
 */
export async function nftListTable(exec: Exec, family: string, table: string, format: 'json' | 'text' = 'text'): Promise<Result<string | undefined, ExecError>> {
  const r = await exec.run('nft', [...(format === 'json' ? ['-j'] : []), 'list', 'table', family, table]);
  if (r.ok) return r;
  return r.error.kind === 'object-not-found' ? ok(undefined) : r;
}
