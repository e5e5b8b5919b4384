// Label selectors (equality- and set-based) and field selectors as the list/watch query parameters carry them.
import type { KubeObject } from './resources.ts';
import { badRequest, fail, ok, type Result } from './status-errors.ts';

export type LabelRequirement =
  | { op: 'exists' | 'notexists'; key: string }
  | { op: 'in' | 'notin'; key: string; values: string[] };

export interface FieldRequirement { path: string; equals: boolean; value: string }

/** Splits on commas that are not inside a parenthesised value set. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) { parts.push(current); current = ''; continue; }
    current += ch;
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

const KEY = /^([a-z0-9A-Z.\-_/]+)$/;

export function parseLabelSelector(text: string | null | undefined): Result<LabelRequirement[]> {
  const requirements: LabelRequirement[] = [];
  for (const part of splitTopLevel(text ?? '')) {
    const setMatch = /^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(part);
    if (setMatch) {
      const values = (setMatch[3] ?? '').split(',').map((v) => v.trim());
      requirements.push({ op: setMatch[2] as 'in' | 'notin', key: setMatch[1] ?? '', values });
      continue;
    }
    const eqMatch = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(part);
    if (eqMatch) {
      const key = eqMatch[1] ?? '';
      requirements.push({ op: eqMatch[2] === '!=' ? 'notin' : 'in', key, values: [eqMatch[3] ?? ''] });
      continue;
    }
    if (part.startsWith('!') && KEY.test(part.slice(1).trim())) {
      requirements.push({ op: 'notexists', key: part.slice(1).trim() });
      continue;
    }
    if (KEY.test(part)) { requirements.push({ op: 'exists', key: part }); continue; }
    return fail(badRequest(`unable to parse requirement: "${part}"`));
  }
  return ok(requirements);
}

export function labelsMatch(requirements: readonly LabelRequirement[], labels: Record<string, string> | undefined): boolean {
  const have = labels ?? {};
  return requirements.every((r) => {
    const present = Object.hasOwn(have, r.key);
    switch (r.op) {
      case 'exists': return present;
      case 'notexists': return !present;
      case 'in': return present && r.values.includes(have[r.key] ?? '');
      case 'notin': return !present || !r.values.includes(have[r.key] ?? '');
    }
  });
}

export function parseFieldSelector(text: string | null | undefined): Result<FieldRequirement[]> {
  const requirements: FieldRequirement[] = [];
  for (const part of splitTopLevel(text ?? '')) {
    const m = /^([^=!]+)(==|=|!=)(.*)$/.exec(part);
    if (!m) return fail(badRequest(`invalid selector: '${part}'; can't understand '${part}'`));
    requirements.push({ path: (m[1] ?? '').trim(), equals: m[2] !== '!=', value: (m[3] ?? '').trim() });
  }
  return ok(requirements);
}

/** Reads a dotted field path ("spec.nodeName", "involvedObject.uid") as the string a field selector compares. */
export function fieldValue(object: KubeObject, path: string): string {
  let node: unknown = object;
  for (const step of path.split('.')) {
    if (node === null || typeof node !== 'object') return '';
    node = (node as Record<string, unknown>)[step];
  }
  if (node === undefined || node === null) return '';
  return typeof node === 'object' ? JSON.stringify(node) : String(node);
}

export function fieldsMatch(requirements: readonly FieldRequirement[], object: KubeObject): boolean {
  return requirements.every((r) => (fieldValue(object, r.path) === r.value) === r.equals);
}

/** Both selectors of a list or watch request, compiled once. */
export interface ObjectFilter { labels: LabelRequirement[]; fields: FieldRequirement[]; namespace?: string }

export function filterMatches(filter: ObjectFilter, object: KubeObject): boolean {
  if (filter.namespace && object.metadata.namespace !== filter.namespace) return false;
  return labelsMatch(filter.labels, object.metadata.labels) && fieldsMatch(filter.fields, object);
}

/** Whether a map-style selector (Service.spec.selector) selects these labels. */
export function mapSelectorMatches(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}
