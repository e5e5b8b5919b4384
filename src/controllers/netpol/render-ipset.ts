// Renders ipset changes as `ipset restore` input (through the shared kernel/ipset.ts script renderer): new
// sets, atomic content replacement through a temporary set and `swap`, add/del deltas, and (as a separate,
// later batch) destruction of stale sets.
import { hashSizeOptions, renderIpsetScript, type IpsetOp, type IpsetSpec } from '../../kernel/ipset.ts';
import type { SetMember, SetSpec } from './model.ts';

export interface IpsetChanges {
  /** Sets that do not exist yet: created and filled. */
  create: SetSpec[];
  /** Sets whose whole content is replaced atomically (fill a temporary set, swap, destroy it). */
  replace: SetSpec[];
  del: { set: string; member: SetMember }[];
  add: { set: string; member: SetMember }[];
  /** Stale sets; destroyed only after the iptables transaction dropped every reference to them. */
  destroy: string[];
}

export function isEmptyIpsetChange(c: IpsetChanges): boolean {
  return c.create.length + c.replace.length + c.del.length + c.add.length + c.destroy.length === 0;
}

/** A planned set as kernel/ipset.ts creates it (sized for its members). */
export const ipsetSpecOf = (s: SetSpec): IpsetSpec => ({ name: s.name, type: s.type, family: s.family === 'ipv4' ? 4 : 6, options: hashSizeOptions(s.members.length) });

/** The operations of `ipset -exist restore` run before the iptables transaction, produced lazily. */
export function* ipsetChangeOps(c: IpsetChanges): Generator<IpsetOp> {
  for (const s of c.create) yield { op: 'create', set: ipsetSpecOf(s), members: s.members };
  for (const s of c.replace) yield { op: 'replace', set: ipsetSpecOf(s), members: s.members };
  for (const d of c.del) yield { op: 'del', set: d.set, entry: d.member.entry };
  for (const a of c.add) yield { op: 'add', set: a.set, entry: a.member };
}

/** The destruction of stale sets, run after the iptables transaction. */
export function* ipsetDestroyOps(c: IpsetChanges): Generator<IpsetOp> {
  for (const set of c.destroy) yield { op: 'destroy', set };
}

/**
 * Input for `ipset -exist restore` (run before the iptables transaction): -exist makes creating an existing
 * identical set, adding a present member and deleting an absent one no-ops, so a re-run is harmless. As one
 * string for tests; the appliers stream ipsetChangeOps instead.
 */
export function renderIpsetRestore(c: IpsetChanges): string {
  return renderIpsetScript(ipsetChangeOps(c));
}

/** Input for `ipset -exist restore` after the iptables transaction: destroys stale sets. */
export function renderIpsetDestroy(c: IpsetChanges): string {
  return renderIpsetScript(ipsetDestroyOps(c));
}
