// Kubernetes label selectors (matchLabels + matchExpressions) compiled into matchers, with validation that
// returns errors as values so one bad policy is rejected without affecting the others.
import type { LabelSelector } from 'kubernetes-types/meta/v1.js';
import type { Result } from '../../result.ts';

export type Labels = Readonly<Record<string, string>>;

export type Requirement =
  | { key: string; op: 'In' | 'NotIn'; values: readonly string[] }
  | { key: string; op: 'Exists' | 'DoesNotExist' };

/** A validated selector: all requirements must hold; no requirements selects everything. */
export interface CompiledSelector {
  requirements: readonly Requirement[];
}

export interface FieldError {
  field: string;
  message: string;
}

export type Compiled<T> = Result<T, FieldError>;

// Label keys: optional DNS-subdomain prefix "/" then a name of up to 63 characters.
const NAME_RE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$/;
const PREFIX_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const VALUE_RE = /^(([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?)$/;

function validKey(key: string): boolean {
  const slash = key.indexOf('/');
  if (slash < 0) return NAME_RE.test(key);
  const prefix = key.slice(0, slash);
  return prefix.length <= 253 && PREFIX_RE.test(prefix) && NAME_RE.test(key.slice(slash + 1));
}

/** Validates and compiles a selector; `field` is its path in the object, for the error report. */
export function compileSelector(selector: LabelSelector, field: string): Compiled<CompiledSelector> {
  const requirements: Requirement[] = [];
  for (const [key, value] of Object.entries(selector.matchLabels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (!validKey(key)) return { ok: false, error: { field: `${field}.matchLabels`, message: `invalid label key "${key}"` } };
    if (typeof value !== 'string' || !VALUE_RE.test(value)) {
      return { ok: false, error: { field: `${field}.matchLabels`, message: `invalid label value "${String(value)}" for key "${key}"` } };
    }
    requirements.push({ key, op: 'In', values: [value] });
  }
  const expressions = selector.matchExpressions ?? [];
  for (let i = 0; i < expressions.length; i++) {
    const expr = expressions[i];
    const at = `${field}.matchExpressions[${i}]`;
    if (!expr || typeof expr.key !== 'string' || !validKey(expr.key)) {
      return { ok: false, error: { field: `${at}.key`, message: `invalid label key "${String(expr?.key)}"` } };
    }
    const values = expr.values ?? [];
    switch (expr.operator) {
      case 'In':
      case 'NotIn':
        if (values.length === 0) return { ok: false, error: { field: `${at}.values`, message: `operator ${expr.operator} needs at least one value` } };
        if (values.some((v) => typeof v !== 'string' || !VALUE_RE.test(v))) {
          return { ok: false, error: { field: `${at}.values`, message: 'invalid label value' } };
        }
        requirements.push({ key: expr.key, op: expr.operator, values: [...values].sort() });
        break;
      case 'Exists':
      case 'DoesNotExist':
        if (values.length !== 0) return { ok: false, error: { field: `${at}.values`, message: `operator ${expr.operator} takes no values` } };
        requirements.push({ key: expr.key, op: expr.operator });
        break;
      default:
        return { ok: false, error: { field: `${at}.operator`, message: `unknown operator "${String(expr.operator)}"` } };
    }
  }
  return { ok: true, value: { requirements } };
}

/** True if `labels` satisfy every requirement (an empty selector matches everything). */
export function selectorMatches(selector: CompiledSelector, labels: Labels): boolean {
  for (const req of selector.requirements) {
    const has = Object.prototype.hasOwnProperty.call(labels, req.key);
    switch (req.op) {
      case 'In':
        if (!has || !req.values.includes(labels[req.key] as string)) return false;
        break;
      case 'NotIn':
        // A missing key satisfies NotIn, as in Kubernetes.
        if (has && req.values.includes(labels[req.key] as string)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}

export const MATCH_ALL: CompiledSelector = { requirements: [] };
