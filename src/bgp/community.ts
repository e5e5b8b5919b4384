// BGP standard communities (RFC 1997): parsing the forms users write ('a:b', uint32, well-known names) and
// formatting a 32-bit value back as 'a:b'. The accepted forms are the ones kube-router's
// node.bgp.communities annotation documents, which are also the ones gobgp's policy engine parses.
import type { Result } from '../result.ts';


/** Well-known community names (IANA registry) and their values, as gobgp names them. */
const WELL_KNOWN: ReadonlyMap<string, number> = new Map([
  ['internet', 0x00000000],
  ['planned-shut', 0xffff0000],
  ['accept-own', 0xffff0001],
  ['route-filter-translated-v4', 0xffff0002],
  ['route-filter-v4', 0xffff0003],
  ['route-filter-translated-v6', 0xffff0004],
  ['route-filter-v6', 0xffff0005],
  ['llgr-stale', 0xffff0006],
  ['no-llgr', 0xffff0007],
  ['blackhole', 0xffff029a],
  ['no-export', 0xffffff01],
  ['no-advertise', 0xffffff02],
  ['no-export-subconfed', 0xffffff03],
  ['no-peer', 0xffffff04],
]);

const UINT16_MAX = 0xffff;
const UINT32_MAX = 0xffffffff;

/** Parses '65000:100', '4259840100' or 'no-export' (case-insensitive, '_' allowed for '-') into its 32-bit value. */
export function parseCommunity(text: string): Result<number> {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) {
    const n = Number(trimmed);
    return n <= UINT32_MAX ? { ok: true, value: n } : { ok: false, error: `community ${text} exceeds 32 bits` };
  }
  const pair = /^(\d+):(\d+)$/.exec(trimmed);
  if (pair) {
    const high = Number(pair[1]);
    const low = Number(pair[2]);
    if (high > UINT16_MAX || low > UINT16_MAX) return { ok: false, error: `community ${text}: each half must fit in 16 bits` };
    return { ok: true, value: high * 0x10000 + low };
  }
  const known = WELL_KNOWN.get(trimmed.toLowerCase().replaceAll('_', '-'));
  if (known !== undefined) return { ok: true, value: known };
  return { ok: false, error: `cannot parse community ${JSON.stringify(text)}` };
}

/** Formats a 32-bit community as 'high:low'. */
export function formatCommunity(value: number): string {
  return `${Math.floor(value / 0x10000)}:${value % 0x10000}`;
}

/** Parses every community, failing on the first bad one. */
export function parseCommunities(texts: readonly string[]): Result<number[]> {
  const values: number[] = [];
  for (const text of texts) {
    const parsed = parseCommunity(text);
    if (!parsed.ok) return parsed;
    values.push(parsed.value);
  }
  return { ok: true, value: values };
}
