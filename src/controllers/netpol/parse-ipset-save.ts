// Parses `ipset save` output into the sets this controller owns (type, family, members with nomatch),
// skipping every set it does not own.
import { canonicalIp } from '../../net/ip.ts';
import { netMemberText, parseNetMember } from './addresses.ts';
import { isOwnedSet, type Family, type SetMember, type SetSpec } from './model.ts';

export interface ObservedSet extends SetSpec {
  /** Options we do not create sets with (e.g. timeout); the set must be re-created to match. */
  foreignOptions: boolean;
}

function memberOf(type: SetSpec['type'], text: string): string | undefined {
  if (type === 'hash:ip') {
    const ip = canonicalIp(text);
    return ip.ok ? ip.value : undefined;
  }
  const c = parseNetMember(text);
  return c.ok ? netMemberText(c.value) : undefined;
}

/** Our sets by name, members sorted; unreadable members are dropped (the diff then re-adds what is missing). */
export function parseIpsetSave(text: string): Map<string, ObservedSet> {
  const sets = new Map<string, ObservedSet>();
  for (const raw of text.split('\n')) {
    const words = raw.trim().split(/\s+/);
    const [verb, name] = words;
    if (!name || !isOwnedSet(name)) continue;
    if (verb === 'create') {
      const type = words[2];
      if (type !== 'hash:ip' && type !== 'hash:net') {
        sets.set(name, { name, type: 'hash:ip', family: 'ipv4', members: [], foreignOptions: true });
        continue;
      }
      const familyWord = words[words.indexOf('family') + 1];
      const family: Family = familyWord === 'inet6' ? 'ipv6' : 'ipv4';
      sets.set(name, { name, type, family, members: [], foreignOptions: words.includes('timeout') || words.includes('counters') });
    } else if (verb === 'add') {
      const set = sets.get(name);
      const entry = words[2] !== undefined && set ? memberOf(set.type, words[2]) : undefined;
      if (!set || entry === undefined) continue;
      const member: SetMember = words.includes('nomatch') ? { entry, nomatch: true } : { entry };
      set.members.push(member);
    }
  }
  for (const set of sets.values()) set.members.sort((a, b) => (a.entry < b.entry ? -1 : a.entry > b.entry ? 1 : 0));
  return sets;
}
