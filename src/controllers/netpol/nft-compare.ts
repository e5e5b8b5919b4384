// Reads one of our nft tables back from `nft -j list table` and compares it with the table a state becomes:
// the same sets (type, interval flag, elements), the same chains (base-chain hook, type, priority, policy) and,
// rule by rule, the same fingerprint comments (render-nft.ts puts one on every rule we write). Pure.
import type { NftTable } from './render-nft.ts';

/** What the listing holds, in the terms NftTable uses; rules are their comments (null: a rule without one). */
export interface ListedNftTable {
  sets: Map<string, { type: string; interval: boolean; elements: Set<string> }>;
  chains: Map<string, { hook?: string; type?: string; prio?: number; policy?: string; rules: (string | null)[] }>;
}

type Json = Record<string, unknown>;
const isObject = (x: unknown): x is Json => typeof x === 'object' && x !== null && !Array.isArray(x);

/** One set element as text: an address, `addr/len` for a prefix, `a-b` for a range (null: a form we never write). */
function elementText(e: unknown): string | null {
  if (typeof e === 'string') return e;
  if (!isObject(e)) return null;
  const prefix = e['prefix'];
  if (isObject(prefix) && typeof prefix['addr'] === 'string' && typeof prefix['len'] === 'number') return `${prefix['addr']}/${prefix['len']}`;
  const range = e['range'];
  if (Array.isArray(range) && range.length === 2 && range.every((r) => typeof r === 'string')) return `${range[0]}-${range[1]}`;
  return null;
}

/** Parses `nft -j list table …` output; an error for text that is not an nft JSON listing. */
export function parseNftListing(text: string): ListedNftTable {
  const doc: unknown = JSON.parse(text);
  const items = isObject(doc) ? doc['nftables'] : undefined;
  if (!Array.isArray(items)) throw new Error('not an nft JSON listing');
  const out: ListedNftTable = { sets: new Map(), chains: new Map() };
  const chainOf = (name: string) => {
    let c = out.chains.get(name);
    if (!c) out.chains.set(name, (c = { rules: [] }));
    return c;
  };
  for (const item of items) {
    if (!isObject(item)) continue;
    const set = item['set'];
    const chain = item['chain'];
    const rule = item['rule'];
    if (isObject(set) && typeof set['name'] === 'string') {
      const flags = Array.isArray(set['flags']) ? set['flags'] : [];
      const elems = Array.isArray(set['elem']) ? set['elem'] : [];
      // An element in a form we never write makes the set differ from anything we want.
      out.sets.set(set['name'], { type: String(set['type']), interval: flags.includes('interval'), elements: new Set(elems.map((e) => elementText(e) ?? '\u0000')) });
    } else if (isObject(chain) && typeof chain['name'] === 'string') {
      const c = chainOf(chain['name']);
      if (typeof chain['hook'] === 'string') c.hook = chain['hook'];
      if (typeof chain['type'] === 'string') c.type = chain['type'];
      if (typeof chain['prio'] === 'number') c.prio = chain['prio'];
      if (typeof chain['policy'] === 'string') c.policy = chain['policy'];
    } else if (isObject(rule) && typeof rule['chain'] === 'string') {
      chainOf(rule['chain']).rules.push(typeof rule['comment'] === 'string' ? rule['comment'] : null);
    }
  }
  return out;
}

/** nft lists a host prefix (/32, /128) in an interval set as the bare address. */
const listedForm = (entry: string): string => entry.replace(/\/(32|128)$/, '');

/** The comment nft keeps for a rule we render: the text of its `comment "…"` clause. */
const commentOf = (rule: string): string | null => /comment "([^"]*)"$/.exec(rule)?.[1] ?? null;

/** The first difference between the listing and the table we want, or null when they are the same. */
export function nftTableDifference(listed: ListedNftTable, want: NftTable): string | null {
  if (listed.sets.size !== want.sets.length) return `${listed.sets.size} sets listed, ${want.sets.length} wanted`;
  for (const s of want.sets) {
    const have = listed.sets.get(s.name);
    if (!have) return `set ${s.name} missing`;
    if (have.type !== s.type || have.interval !== s.interval) return `set ${s.name} has another type`;
    if (have.elements.size !== s.elements.length || s.elements.some((e) => !have.elements.has(listedForm(e)))) return `set ${s.name} has other elements`;
  }
  if (listed.chains.size !== want.chains.length) return `${listed.chains.size} chains listed, ${want.chains.length} wanted`;
  for (const c of want.chains) {
    const have = listed.chains.get(c.name);
    if (!have) return `chain ${c.name} missing`;
    const base = c.hook ? { hook: c.hook, type: 'filter', prio: 0, policy: 'accept' } : {};
    if (have.hook !== base.hook || have.type !== base.type || have.prio !== base.prio || have.policy !== base.policy) return `chain ${c.name} has another hook`;
    if (have.rules.length !== c.rules.length || c.rules.some((r, i) => commentOf(r) !== have.rules[i])) return `chain ${c.name} has other rules`;
  }
  return null;
}
