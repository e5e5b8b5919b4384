// The API semantics on top of the object store: create (generateName), update with optimistic concurrency,
// status subresources, graceful pod deletion, finalizers, defaulting, validation and admission hooks.
// Both the HTTP handlers and the in-process control loops write through this class.
import { randomBytes, randomUUID } from 'node:crypto';
import { ObjectStore, type StoreListener } from './store.ts';
import { applyDefaults } from './defaults.ts';
import { validateObject, validateUpdate } from './validate.ts';
import { groupVersion, RESOURCE_TYPES, storageKey, type KubeObject, type ResourceType } from './resources.ts';
import {
  alreadyExists, badRequest, conflict, fail, forbidden, invalid, notFound, ok, type ApiError, type Result,
} from './status-errors.ts';

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE';

export interface AdmissionRequest { operation: Operation; type: ResourceType; object: KubeObject; oldObject?: KubeObject }
/** May mutate request.object; returning an error rejects the write. */
export type AdmissionHook = (request: AdmissionRequest) => ApiError | undefined;

/** dryRun: run defaulting, validation and admission, store nothing (kubectl --dry-run=server). */
export interface WriteOptions { dryRun?: boolean }

export interface DeleteOptions extends WriteOptions {
  gracePeriodSeconds?: number;
  preconditions?: { uid?: string; resourceVersion?: string };
}

export interface LabApiOptions {
  /** How many change events watches can resume from (older resourceVersions get 410 Gone). */
  eventWindow?: number;
  /** Remove gracefully deleted pods once their grace period ran out, even if no kubelet confirmed. Default true. */
  expireGracefulDeletes?: boolean;
}

const now = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
/**
 * Whether two JSON values are equal as JSON (key order ignored, undefined fields absent), optionally ignoring
 * some top-level fields. A walk rather than two sorted serialisations: updates compare every write this way.
 */
function jsonEqual(a: unknown, b: unknown, ignore?: ReadonlySet<string>): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((v, i) => jsonEqual(v, b[i]));
  }
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const defined = (r: Record<string, unknown>): string[] => Object.keys(r).filter((k) => r[k] !== undefined && !ignore?.has(k));
  const keys = defined(ra);
  if (keys.length !== defined(rb).length) return false;
  return keys.every((k) => rb[k] !== undefined && jsonEqual(ra[k], rb[k]));
}
const STATUS_AND_META = new Set(['metadata', 'status']);

export class LabApi {
  readonly objects: ObjectStore;
  private readonly hooks: AdmissionHook[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly expireGracefulDeletes: boolean;

  constructor(options: LabApiOptions = {}) {
    this.objects = new ObjectStore(options.eventWindow ?? 1000);
    this.expireGracefulDeletes = options.expireGracefulDeletes ?? true;
    for (const name of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) {
      this.create(this.type('', 'namespaces'), { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    }
  }

  type(group: string, plural: string): ResourceType {
    const found = RESOURCE_TYPES.find((t) => t.group === group && t.plural === plural);
    if (!found) throw new Error(`no resource ${plural}.${group}`);
    return found;
  }

  addAdmissionHook(hook: AdmissionHook): void { this.hooks.push(hook); }
  /** Store change events; listeners must treat the objects as read-only. */
  subscribe(listener: StoreListener): () => void { return this.objects.subscribe(listener); }

  get(type: ResourceType, namespace: string | undefined, name: string): Result<KubeObject> {
    const found = this.objects.get(storageKey(type), type.namespaced ? namespace : undefined, name);
    return found ? ok(this.present(type, found)) : fail(notFound({ group: type.group, plural: type.plural, name }));
  }

  /** The stored object itself (read-only, no copy), for control loops on hot paths. */
  getShared(type: ResourceType, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.objects.peek(storageKey(type), type.namespaced ? namespace : undefined, name);
  }

  /** Current objects of a type (all namespaces when namespace is undefined), in key order. */
  list(type: ResourceType, namespace?: string): KubeObject[] {
    return this.objects.list(storageKey(type)).map((e) => this.present(type, e.object))
      .filter((o) => !namespace || !type.namespaced || o.metadata.namespace === namespace);
  }

  /**
   * Like list() but without copies (a top-level copy only where the stored apiVersion/kind differ, as for
   * events.k8s.io events): read-only, for hot paths. `after`: only objects whose namespace/name key sorts after it.
   */
  listShared(type: ResourceType, namespace?: string, after = ''): KubeObject[] {
    const version = groupVersion(type);
    const shared = this.objects.shared(storageKey(type), namespace && type.namespaced ? namespace : undefined, after);
    return shared.map((o) => (o.apiVersion === version && o.kind === type.kind ? o : { ...o, apiVersion: version, kind: type.kind }));
  }

  create(type: ResourceType, input: KubeObject, options: WriteOptions = {}): Result<KubeObject> {
    const object = structuredClone(input);
    object.apiVersion = groupVersion(type);
    object.kind = type.kind;
    const meta = object.metadata ?? {};
    object.metadata = meta;
    if (!type.namespaced) delete meta.namespace;
    else if (!meta.namespace) return fail(badRequest('the namespace of the object must be set'));
    else if (!this.objects.has('/namespaces', undefined, meta.namespace)) {
      return fail(notFound({ group: '', plural: 'namespaces', name: meta.namespace }));
    } else if (this.objects.get('/namespaces', undefined, meta.namespace)?.metadata.deletionTimestamp) {
      return fail(forbidden(`${type.plural} "${meta.name ?? ''}" is forbidden: unable to create new content in namespace ${meta.namespace} because it is being terminated`));
    }
    if (!meta.name && meta.generateName) meta.name = meta.generateName + randomBytes(4).toString('hex').slice(0, 5);
    if (meta.name && this.objects.has(storageKey(type), meta.namespace, meta.name)) {
      return fail(alreadyExists({ group: type.group, plural: type.plural, name: meta.name }));
    }
    // as upstream: a client cannot create a pod or service with a status; the kubelet/LB controller writes it later
    if (type.plural === 'pods' || type.plural === 'services' || type.plural === 'daemonsets') delete object['status'];
    applyDefaults(object);
    const rejected = this.check(type, { operation: 'CREATE', type, object });
    if (rejected) return fail(rejected);
    meta.uid = randomUUID();
    meta.creationTimestamp = now();
    meta.generation = 1;
    delete meta.deletionTimestamp; delete meta.deletionGracePeriodSeconds; delete meta.managedFields;
    if (options.dryRun) return ok(this.present(type, object));
    return ok(this.present(type, this.objects.put(storageKey(type), object)));
  }

  /** Replaces an object (or with subresource 'status', only its status); a stale resourceVersion is a 409 Conflict. */
  update(type: ResourceType, input: KubeObject, subresource?: string, options: WriteOptions = {}): Result<KubeObject> {
    const namespace = type.namespaced ? input.metadata?.namespace : undefined;
    const name = input.metadata?.name ?? '';
    const q = { group: type.group, plural: type.plural, name };
    const existing = this.objects.get(storageKey(type), namespace, name);
    if (!existing) return fail(notFound(q));
    const wantedRv = input.metadata.resourceVersion;
    if (wantedRv && wantedRv !== existing.metadata.resourceVersion) {
      return fail(conflict(q, 'the object has been modified; please apply your changes to the latest version and try again'));
    }
    if (input.metadata.uid && input.metadata.uid !== existing.metadata.uid) return fail(conflict(q, 'Precondition failed: UID in precondition does not match'));
    let object: KubeObject;
    if (subresource === 'status') {
      object = { ...structuredClone(existing), status: structuredClone(input['status']) };
    } else {
      object = structuredClone(input);
      object.metadata = { ...input.metadata };
      if (type.subresources.includes('status') && existing['status'] !== undefined) object['status'] = structuredClone(existing['status']);
      for (const field of ['uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation'] as const) {
        if (existing.metadata[field] === undefined) delete object.metadata[field];
        else (object.metadata as Record<string, unknown>)[field] = existing.metadata[field];
      }
      delete object.metadata.managedFields;
    }
    object.apiVersion = groupVersion(type);
    object.kind = type.kind;
    object.metadata.namespace = existing.metadata.namespace;
    applyDefaults(object);
    const rejected = this.check(type, { operation: 'UPDATE', type, object, oldObject: existing });
    if (rejected) return fail(rejected);
    object.metadata.resourceVersion = existing.metadata.resourceVersion;
    if (jsonEqual(object, existing)) return ok(this.present(type, existing));
    if (!jsonEqual(object, existing, STATUS_AND_META)) object.metadata.generation = (existing.metadata.generation ?? 0) + 1;
    if (options.dryRun) return ok(this.present(type, object));
    const stored = this.objects.put(storageKey(type), object);
    if (stored.metadata.deletionTimestamp && (stored.metadata.finalizers ?? []).length === 0 && !this.gracePending(type, stored)) {
      this.objects.remove(storageKey(type), namespace, name);
    }
    return ok(this.present(type, stored));
  }

  /** Deletes an object; pods on a node and objects with finalizers only get a deletionTimestamp first. */
  delete(type: ResourceType, namespace: string | undefined, name: string, options: DeleteOptions = {}): Result<KubeObject> {
    const ns = type.namespaced ? namespace : undefined;
    const q = { group: type.group, plural: type.plural, name };
    const existing = this.objects.get(storageKey(type), ns, name);
    if (!existing) return fail(notFound(q));
    const pre = options.preconditions ?? {};
    if (pre.uid && pre.uid !== existing.metadata.uid) return fail(conflict(q, 'Precondition failed: UID in precondition does not match'));
    if (pre.resourceVersion && pre.resourceVersion !== existing.metadata.resourceVersion) {
      return fail(conflict(q, 'Precondition failed: ResourceVersion in precondition does not match'));
    }
    if (options.dryRun) return ok(this.present(type, existing));
    if (type.plural === 'namespaces') this.deleteNamespaceContents(name);
    const grace = this.graceFor(type, existing, options.gracePeriodSeconds);
    const finalizers = existing.metadata.finalizers ?? [];
    if (grace === 0 && finalizers.length === 0) return ok(this.present(type, this.objects.remove(storageKey(type), ns, name) ?? existing));
    const already = existing.metadata.deletionGracePeriodSeconds;
    if (existing.metadata.deletionTimestamp && already !== undefined && already <= grace) return ok(this.present(type, existing));
    existing.metadata.deletionTimestamp = new Date(Date.now() + grace * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
    existing.metadata.deletionGracePeriodSeconds = grace;
    const marked = this.objects.put(storageKey(type), existing);
    if (grace > 0 && this.expireGracefulDeletes) this.expireLater(type, marked, grace);
    return ok(this.present(type, marked));
  }

  /** Cancels pending grace-period timers (the server is stopping). */
  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private graceFor(type: ResourceType, object: KubeObject, requested: number | undefined): number {
    if (type.plural !== 'pods') return 0;
    const spec = (object['spec'] ?? {}) as { nodeName?: string; terminationGracePeriodSeconds?: number };
    if (!spec.nodeName) return 0;  // never scheduled: nothing to stop, removed at once (as upstream)
    const phase = (object['status'] as { phase?: string } | undefined)?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') return 0;
    return Math.max(0, requested ?? spec.terminationGracePeriodSeconds ?? 30);
  }

  private gracePending(type: ResourceType, object: KubeObject): boolean {
    return type.plural === 'pods' && (object.metadata.deletionGracePeriodSeconds ?? 0) > 0;
  }

  private expireLater(type: ResourceType, marked: KubeObject, grace: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      const current = this.objects.get(storageKey(type), marked.metadata.namespace, marked.metadata.name ?? '');
      if (!current || current.metadata.uid !== marked.metadata.uid || !current.metadata.deletionTimestamp) return;
      if ((current.metadata.finalizers ?? []).length > 0) return;
      this.objects.remove(storageKey(type), current.metadata.namespace, current.metadata.name ?? '');
    }, grace * 1000);
    timer.unref();
    this.timers.add(timer);
  }

  private deleteNamespaceContents(namespace: string): void {
    for (const type of RESOURCE_TYPES) {
      if (!type.namespaced || type.group === 'events.k8s.io') continue;
      for (const { object } of this.objects.list(storageKey(type))) {
        if (object.metadata.namespace === namespace) this.objects.remove(storageKey(type), namespace, object.metadata.name ?? '');
      }
    }
  }

  private check(type: ResourceType, request: AdmissionRequest): ApiError | undefined {
    const causes = [...validateObject(request.object),
      ...(request.oldObject ? validateUpdate(request.object, request.oldObject) : [])];
    if (causes.length > 0) return invalid(type.kind, type.group, request.object.metadata.name ?? '', causes);
    for (const hook of this.hooks) {
      const rejected = hook(request);
      if (rejected) return rejected;
    }
    return undefined;
  }

  /** Events are stored once; events.k8s.io/v1 readers see the same objects under their own apiVersion. */
  private present(type: ResourceType, object: KubeObject): KubeObject {
    object.apiVersion = groupVersion(type);
    object.kind = type.kind;
    return object;
  }
}
