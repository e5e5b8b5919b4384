// Renders ipset changes as `ipset restore` input: new sets, atomic content replacement through a temporary
// set and `swap`, add/del deltas, and (as a separate, later batch) destruction of stale sets.
import type { SetMember, SetSpec } from './model.ts';
import { tmpSetName } from './names.ts';

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

const createLine = (name: string, s: SetSpec): string =>
  `create ${name} ${s.type} family ${s.family === 'ipv4' ? 'inet' : 'inet6'}`;

const memberText = (m: SetMember): string => (m.nomatch ? `${m.entry} nomatch` : m.entry);

/**
 * Input for `ipset -exist restore` (run before the iptables transaction): -exist makes creating an existing
 * identical set, adding a present member and deleting an absent one no-ops, so a re-run is harmless.
 */
export function renderIpsetRestore(c: IpsetChanges): string {
  const lines: string[] = [];
  for (const s of c.create) {
    lines.push(createLine(s.name, s));
    for (const m of s.members) lines.push(`add ${s.name} ${memberText(m)}`);
  }
  for (const s of c.replace) {
    const tmp = tmpSetName(s.name);
    lines.push(createLine(tmp, s), `flush ${tmp}`);
    for (const m of s.members) lines.push(`add ${tmp} ${memberText(m)}`);
    lines.push(`swap ${tmp} ${s.name}`, `destroy ${tmp}`);
  }
  for (const d of c.del) lines.push(`del ${d.set} ${d.member.entry}`);
  for (const a of c.add) lines.push(`add ${a.set} ${memberText(a.member)}`);
  return lines.length ? lines.join('\n') + '\n' : '';
}

/** Input for `ipset -exist restore` after the iptables transaction: destroys stale sets. */
export function renderIpsetDestroy(c: IpsetChanges): string {
  return c.destroy.map((n) => `flush ${n}\ndestroy ${n}\n`).join('');
}
