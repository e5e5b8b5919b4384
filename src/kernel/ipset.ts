// ipset for every controller: one `ipset -exist restore` script per batch of set operations that names only
// the caller's sets, whole-content replacement through a temporary set and `swap` (one temporary naming
// scheme for all), and reading back chosen sets. Member-only changes may also go over netlink (netlink/ipset.ts).
import { createHash } from 'node:crypto';
import { ok, type Result } from '../result.ts';
import { inChunks, nonEmptyChunks, type Exec, type ExecError, type ExecOptions } from './exec.ts';
import type { IpFamily } from '../net/ip.ts';

/** ipset names are at most 31 characters (IPSET_MAXNAMELEN 32 with the NUL). */
export const IPSET_NAME_MAX = 31;

/** kube-router names a set's IPv6 twin with this prefix (`inet6:kube-router-svip`), as upstream does. */
export const IPV6_SET_PREFIX = 'inet6:';

/** The set of that family for a base name. */
export const familySetName = (base: string, family: IpFamily): string => (family === 6 ? IPV6_SET_PREFIX + base : base);

const TMP_PREFIX = 'KUBE-TMP-';

/**
 * The temporary set that stands in for `real` while its content is replaced: KUBE-TMP- and 16 hex characters
 * of sha256(real), 25 characters for any name, distinct per real set, so two owners never share one.
 */
export function tmpSetName(real: string): string {
  return TMP_PREFIX + createHash('sha256').update(real).digest('hex').slice(0, 16);
}

export interface IpsetSpec {
  name: string;
  /** e.g. hash:ip, hash:net, hash:ip,port */
  type: string;
  family: IpFamily;
  /** Creation options after the family, e.g. ['hashsize', '1024', 'maxelem', '65536', 'timeout', '0']. */
  options?: readonly string[];
}

/** A member as ipset spells it (`198.18.1.2`, `198.18.0.0/16`, `198.18.1.2,tcp:80`), possibly an exception. */
/**
 * Creation options that size a hash set's table for `members` entries. The kernel starts a set at 1024 buckets
 * and rehashes all of it each time it grows while a big set is filled: a 17k-member set filled ~35% slower
 * than one created at its size (measured with ipset 7.17). Only ever larger than the default; `-exist`
 * accepts an existing set whose hashsize differs, so a set is never refused for it.
 */
export function hashSizeOptions(members: number): string[] {
  if (members <= 2048) return [];
  let size = 1024;
  while (size < members / 2) size *= 2;
  return ['hashsize', String(size)];
}

export interface IpsetEntry {
  entry: string;
  nomatch?: boolean;
}

export type IpsetOp =
  /** Created when missing (an existing set with the same type and options is kept), then these members added. */
  | { op: 'create'; set: IpsetSpec; members?: readonly IpsetEntry[] }
  /** Content replaced atomically: a temporary set is filled and swapped in. The set must exist (see create). */
  | { op: 'replace'; set: IpsetSpec; members: readonly IpsetEntry[] }
  | { op: 'add'; set: string; entry: IpsetEntry }
  | { op: 'del'; set: string; entry: string }
  /** Destroyed, with any temporary of it a failed script left behind; absent: nothing. No rule may still use it. */
  | { op: 'destroy'; set: string };

const createLine = (name: string, s: IpsetSpec): string =>
  [`create ${name} ${s.type} family ${s.family === 4 ? 'inet' : 'inet6'}`, ...(s.options ?? [])].join(' ');

const entryText = (m: IpsetEntry): string => (m.nomatch ? `${m.entry} nomatch` : m.entry);

/**
 * The script for `ipset -exist restore`. -exist makes creating an identical existing set, adding a present
 * member, deleting an absent one and destroying an absent set no-ops, so a script can run again after a failure.
 */
export function renderIpsetScript(ops: Iterable<IpsetOp>): string {
  return [...inChunks(ipsetScriptLines(ops))].join('');
}

/** The script's lines, produced lazily (one set's members at a time), for streaming into `ipset restore`. */
export function* ipsetScriptLines(ops: Iterable<IpsetOp>): Generator<string> {
  for (const o of ops) {
    switch (o.op) {
      case 'create':
        yield createLine(o.set.name, o.set);
        for (const m of o.members ?? []) yield `add ${o.set.name} ${entryText(m)}`;
        break;
      case 'replace': {
        const tmp = tmpSetName(o.set.name);
        // A temporary left by a failed run may be of another type: destroy it rather than reuse it.
        yield `destroy ${tmp}`;
        yield createLine(tmp, o.set);
        for (const m of o.members) yield `add ${tmp} ${entryText(m)}`;
        yield `swap ${tmp} ${o.set.name}`;
        yield `destroy ${tmp}`;
        break;
      }
      case 'add': yield `add ${o.set} ${entryText(o.entry)}`; break;
      case 'del': yield `del ${o.set} ${o.entry}`; break;
      // No flush first: a set still in use must fail to go, not lose its members.
      case 'destroy': yield `destroy ${o.set}`; yield `destroy ${tmpSetName(o.set)}`; break;
    }
  }
}

/**
 * Runs the operations (or a ready script) as one `ipset -exist restore`; nothing to do: no exec. Operations
 * are rendered and written in bounded chunks as ipset reads them.
 */
export async function ipsetRestore(exec: Exec, script: Iterable<IpsetOp> | string, options: Pick<ExecOptions, 'timeoutMs'> = {}): Promise<Result<void, ExecError>> {
  const input = typeof script === 'string' ? (script === '' ? null : script) : nonEmptyChunks(inChunks(ipsetScriptLines(script)));
  if (input === null) return ok(undefined);
  const r = await exec.run('ipset', ['-exist', 'restore'], { input, ...options });
  return r.ok ? ok(undefined) : r;
}

/** Every set's name (`ipset list -n`): callers keep only their own. */
export async function listSetNames(exec: Exec): Promise<Result<string[], ExecError>> {
  const r = await exec.run('ipset', ['list', '-n']);
  return r.ok ? ok(r.value.split('\n').map((l) => l.trim()).filter((l) => l !== '')) : r;
}

/** `ipset save` text of just these sets, in one exec (save commands fed to `ipset restore`). */
export async function saveSets(exec: Exec, names: readonly string[]): Promise<Result<string, ExecError>> {
  if (names.length === 0) return ok('');
  return exec.run('ipset', ['restore'], { input: names.map((n) => `save ${n}\n`).join('') });
}
