// The three PATCH formats: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and strategic merge patch
// (lists merged by key where the built-in types declare a patch merge key, plus the $patch,
// $setElementOrder, $deleteFromPrimitiveList and $retainKeys directives kubectl sends).
import { badRequest, fail, ok, type Result } from './status-errors.ts';

type Json = unknown;
type JsonMap = Record<string, Json>;

const isMap = (v: Json): v is JsonMap => v !== null && typeof v === 'object' && !Array.isArray(v);

export function mergePatch(target: Json, patch: Json): Json {
  if (!isMap(patch)) return structuredClone(patch);
  const result: JsonMap = isMap(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}

function pointerSteps(pointer: string): string[] | undefined {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) return undefined;
  return pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

interface JsonPatchOp { op: string; path: string; from?: string; value?: Json }

/** Applies an RFC 6902 patch; any failing operation (including a failed "test") rejects the whole patch. */
export function jsonPatch(document: Json, operations: Json): Result<Json> {
  if (!Array.isArray(operations)) return fail(badRequest('json patch must be an array of operations'));
  let doc = structuredClone(document);
  const read = (steps: string[]): { found: boolean; value?: Json } => {
    let node: Json = doc;
    for (const step of steps) {
      if (Array.isArray(node) && /^\d+$/.test(step) && Number(step) < node.length) node = node[Number(step)];
      else if (isMap(node) && Object.hasOwn(node, step)) node = node[step];
      else return { found: false };
    }
    return { found: true, value: node };
  };
  const write = (steps: string[], value: Json, insert: boolean): boolean => {
    if (steps.length === 0) { doc = value; return true; }
    const parent = read(steps.slice(0, -1));
    const last = steps[steps.length - 1] ?? '';
    if (Array.isArray(parent.value)) {
      const index = last === '-' ? parent.value.length : Number(last);
      if (!/^\d+$/.test(last) && last !== '-') return false;
      if (index > parent.value.length || (!insert && index >= parent.value.length)) return false;
      parent.value.splice(index, insert ? 0 : 1, value);
      return true;
    }
    if (!isMap(parent.value)) return false;
    if (!insert && !Object.hasOwn(parent.value, last)) return false;
    parent.value[last] = value;
    return true;
  };
  const remove = (steps: string[]): boolean => {
    const parent = read(steps.slice(0, -1));
    const last = steps[steps.length - 1] ?? '';
    if (Array.isArray(parent.value) && /^\d+$/.test(last) && Number(last) < parent.value.length) { parent.value.splice(Number(last), 1); return true; }
    if (isMap(parent.value) && Object.hasOwn(parent.value, last)) { delete parent.value[last]; return true; }
    return false;
  };
  for (const raw of operations as JsonPatchOp[]) {
    const steps = pointerSteps(String(raw?.path ?? ''));
    const from = raw?.from === undefined ? undefined : pointerSteps(raw.from);
    if (!steps) return fail(badRequest(`invalid JSON pointer "${String(raw?.path)}"`));
    let done: boolean;
    switch (raw.op) {
      case 'add': done = write(steps, structuredClone(raw.value), true); break;
      case 'replace': done = read(steps).found && write(steps, structuredClone(raw.value), false); break;
      case 'remove': done = remove(steps); break;
      case 'test': done = JSON.stringify(read(steps).value) === JSON.stringify(raw.value); break;
      case 'copy':
      case 'move': {
        const source = from ? read(from) : { found: false };
        done = source.found && (raw.op === 'copy' || remove(from ?? [])) && write(steps, structuredClone(source.value), true);
        break;
      }
      default: return fail(badRequest(`unsupported json patch operation "${String(raw.op)}"`));
    }
    if (!done) return fail({ code: 422, reason: 'Invalid', message: `the json patch operation ${raw.op} on "${raw.path}" could not be applied` });
  }
  return ok(doc);
}

/** Patch merge keys of the built-in types ('' = a list of scalars merged as a set); other lists are replaced. */
const MERGE_KEYS: Record<string, string> = {
  '*:metadata.finalizers': '',
  '*:metadata.ownerReferences': 'uid',
  'Pod:spec.containers': 'name',
  'Pod:spec.initContainers': 'name',
  'Pod:spec.ephemeralContainers': 'name',
  'Pod:spec.containers[].ports': 'containerPort',
  'Pod:spec.initContainers[].ports': 'containerPort',
  'Pod:spec.containers[].env': 'name',
  'Pod:spec.initContainers[].env': 'name',
  'Pod:spec.containers[].volumeMounts': 'mountPath',
  'Pod:spec.initContainers[].volumeMounts': 'mountPath',
  'Pod:spec.volumes': 'name',
  'Pod:spec.imagePullSecrets': 'name',
  'Pod:spec.hostAliases': 'ip',
  'Pod:status.conditions': 'type',
  'Pod:status.podIPs': 'ip',
  'Node:status.conditions': 'type',
  'Node:status.addresses': 'type',
  'Node:spec.podCIDRs': '',
  'Service:spec.ports': 'port',
};

function mergeKeyOf(kind: string, path: string): string | undefined {
  // a workload's pod template merges like a pod
  if (kind === 'DaemonSet' && path.startsWith('spec.template.')) return mergeKeyOf('Pod', path.slice('spec.template.'.length));
  return MERGE_KEYS[`${kind}:${path}`] ?? MERGE_KEYS[`*:${path}`];
}

function orderBy(list: Json[], order: Json[], key: string | undefined): Json[] {
  const identity = (item: Json): string => JSON.stringify(key && isMap(item) ? item[key] : item);
  const position = new Map(order.map((item, i) => [identity(item), i]));
  const listed = list.filter((item) => position.has(identity(item)))
    .sort((a, b) => (position.get(identity(a)) ?? 0) - (position.get(identity(b)) ?? 0));
  return [...listed, ...list.filter((item) => !position.has(identity(item)))];
}

function mergeList(kind: string, path: string, original: Json, patch: Json[]): Json {
  const key = mergeKeyOf(kind, path);
  if (key === undefined) return patch.filter((item) => !(isMap(item) && item['$patch'] !== undefined)).map((v) => structuredClone(v));
  const base = Array.isArray(original) ? structuredClone(original) : [];
  if (key === '') return [...base, ...patch.filter((v) => !base.some((b) => JSON.stringify(b) === JSON.stringify(v)))];
  if (patch.some((item) => isMap(item) && item['$patch'] === 'replace')) {
    return patch.filter((item) => !(isMap(item) && item['$patch'] === 'replace'));
  }
  for (const item of patch) {
    if (!isMap(item)) continue;
    const index = base.findIndex((b) => isMap(b) && JSON.stringify(b[key]) === JSON.stringify(item[key]));
    if (item['$patch'] === 'delete') { if (index >= 0) base.splice(index, 1); continue; }
    if (index >= 0) base[index] = strategicMerge(kind, `${path}[]`, base[index], item);
    else base.push(strategicMerge(kind, `${path}[]`, {}, item));
  }
  return base;
}

/** Applies a strategic merge patch to one object of `kind`, at field path `path` ('' for the object itself). */
export function strategicMerge(kind: string, path: string, original: Json, patch: Json): Json {
  if (!isMap(patch)) return structuredClone(patch);
  if (patch['$patch'] === 'replace') {
    const { $patch: _drop, ...rest } = patch;
    return structuredClone(rest);
  }
  let result: JsonMap = isMap(original) ? { ...original } : {};
  const childPath = (field: string): string => (path ? `${path}.${field}` : field);
  for (const [field, value] of Object.entries(patch)) {
    if (field.startsWith('$')) continue;
    if (value === null) { delete result[field]; continue; }
    if (Array.isArray(value)) result[field] = mergeList(kind, childPath(field), result[field], value);
    else if (isMap(value)) result[field] = strategicMerge(kind, childPath(field), result[field], value);
    else result[field] = value;
  }
  for (const [directive, value] of Object.entries(patch)) {
    if (directive.startsWith('$deleteFromPrimitiveList/') && Array.isArray(value)) {
      const field = directive.slice('$deleteFromPrimitiveList/'.length);
      const current = result[field];
      if (Array.isArray(current)) result[field] = current.filter((v) => !value.some((d) => JSON.stringify(d) === JSON.stringify(v)));
    }
    if (directive.startsWith('$setElementOrder/') && Array.isArray(value)) {
      const field = directive.slice('$setElementOrder/'.length);
      const current = result[field];
      if (Array.isArray(current)) result[field] = orderBy(current, value, mergeKeyOf(kind, childPath(field)) || undefined);
    }
  }
  const retain = patch['$retainKeys'];
  if (Array.isArray(retain)) result = Object.fromEntries(Object.entries(result).filter(([k]) => retain.includes(k)));
  return result;
}

/** 'apply' is server-side apply (kubectl apply --server-side), served as create-or-strategic-merge. */
export type PatchType = 'json' | 'merge' | 'strategic' | 'apply';

export function patchTypeOf(contentType: string | undefined): PatchType | undefined {
  const base = (contentType ?? '').split(';')[0]?.trim();
  if (base === 'application/json-patch+json') return 'json';
  if (base === 'application/merge-patch+json') return 'merge';
  if (base === 'application/strategic-merge-patch+json') return 'strategic';
  if (base === 'application/apply-patch+yaml') return 'apply';
  return undefined;
}

export function applyPatch(type: PatchType, kind: string, current: Json, patch: Json): Result<Json> {
  if (type === 'json') return jsonPatch(current, patch);
  if (!isMap(patch)) return fail(badRequest('patch body must be a JSON object'));
  return ok(type === 'merge' ? mergePatch(current, patch) : strategicMerge(kind, '', current, patch));
}
