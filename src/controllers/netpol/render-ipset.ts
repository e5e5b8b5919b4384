// Renders ipset changes as `ipset restore` input (through the shared kernel/ipset.ts script renderer): new
// sets, atomic content replacement through a temporary set and `swap`, add/del deltas, and (as a separate,
// later batch) destruction of stale sets.
import { renderIpsetScript, type IpsetOp, type IpsetSpec } from '../../kernel/ipset.ts';
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

const spec = (s: SetSpec): IpsetSpec => ({ name: s.name, type: s.type, family: s.family === 'ipv4' ? 4 : 6 });

/**
 * Input for `ipset -exist restore` (run before the iptables transaction): -exist makes creating an existing
 * identical set, adding a present member and deleting an absent one no-ops, so a re-run is harmless.
 */
export function renderIpsetRestore(c: IpsetChanges): string {
  return renderIpsetScript([
    ...c.create.map((s): IpsetOp => ({ op: 'create', set: spec(s), members: s.members })),
    ...c.replace.map((s): IpsetOp => ({ op: 'replace', set: spec(s), members: s.members })),
    ...c.del.map((d): IpsetOp => ({ op: 'del', set: d.set, entry: d.member.entry })),
    ...c.add.map((a): IpsetOp => ({ op: 'add', set: a.set, entry: a.member })),
  ]);
}

/** Input for `ipset -exist restore` after the iptables transaction: destroys stale sets. */
export function renderIpsetDestroy(c: IpsetChanges): string {
  return renderIpsetScript(c.destroy.map((set): IpsetOp => ({ op: 'destroy', set })));
}
