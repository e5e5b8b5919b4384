// Every conformance case, in the order the full suite runs them.
import { dynamicCases } from './cases-dynamic.ts';
import { portCases } from './cases-ports.ts';
import { selectorCases } from './cases-selectors.ts';
import type { ConformanceCase } from './policies.ts';

export const ALL_CASES: readonly ConformanceCase[] = [...selectorCases, ...portCases, ...dynamicCases];

/** Cases picked by (a prefix of) their name; throws if one is missing so a renamed case cannot vanish silently. */
export function casesNamed(...prefixes: string[]): ConformanceCase[] {
  return prefixes.map((p) => {
    const found = ALL_CASES.find((c) => c.name.startsWith(p));
    if (!found) throw new Error(`no conformance case named "${p}…"`);
    return found;
  });
}
