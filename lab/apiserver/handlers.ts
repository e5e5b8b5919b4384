// HTTP request dispatch: resource URL parsing, discovery, and the verbs (list/get/create/update/patch/delete/watch).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseYaml } from 'yaml';
import type { LabApi } from './api.ts';
import { findType, type KubeObject, type ResourceType } from './resources.ts';
import { apiGroup, coreVersions, groupList, openApiGroupVersion, openApiIndex, resourceList, versionInfo } from './discovery.ts';
import { filterMatches, parseFieldSelector, parseLabelSelector, type ObjectFilter } from './selectors.ts';
import { badRequest, fail, gone, methodNotAllowed, notFound, ok, statusBody, type ApiError, type Result } from './status-errors.ts';
import { applyPatch, patchTypeOf } from './patch.ts';
import { toTable, wantsTable } from './table.ts';
import { serveWatch, type WatchSettings } from './watch.ts';

export interface ResourceTarget { type: ResourceType; namespace?: string; name?: string; subresource?: string; legacyWatch: boolean }

/** Maps /api/v1/... and /apis/<group>/<version>/... onto a resource type, namespace, name and subresource. */
export function parseResourcePath(path: string): ResourceTarget | undefined {
  const segments: string[] = [];
  for (const raw of path.split('/').filter((s) => s !== '')) {
    try { segments.push(decodeURIComponent(raw)); } catch { return undefined; }  // a malformed %-escape names nothing
  }
  let group: string, version: string, rest: string[];
  if (segments[0] === 'api' && segments[1] === 'v1') [group, version, rest] = ['', 'v1', segments.slice(2)];
  else if (segments[0] === 'apis' && segments.length >= 4) [group, version, rest] = [segments[1] ?? '', segments[2] ?? '', segments.slice(3)];
  else return undefined;
  const legacyWatch = rest[0] === 'watch';
  if (legacyWatch) rest = rest.slice(1);
  const nested = rest[0] === 'namespaces' && rest.length >= 3 ? findType(group, version, rest[2] ?? '') : undefined;
  if (nested?.namespaced) {
    return { type: nested, namespace: rest[1], ...(rest[3] ? { name: rest[3] } : {}), ...(rest[4] ? { subresource: rest[4] } : {}), legacyWatch };
  }
  const type = findType(group, version, rest[0] ?? '');
  if (!type || rest.length > 3) return undefined;
  return { type, ...(rest[1] ? { name: rest[1] } : {}), ...(rest[2] ? { subresource: rest[2] } : {}), legacyWatch };
}

/** A pod's log text (container: the one asked for, else the pod's first), or undefined when this source does not run the pod. */
export type PodLogSource = (namespace: string, name: string, container: string | undefined) => Result<string> | undefined;

export interface HandlerContext { api: LabApi; watch: WatchSettings; serverAddress: string; podLogs?: readonly PodLogSource[] }

/** GET pods/<name>/log (`kubectl logs`): the text a kubelet captured; tailLines honoured, follow is not. */
function servePodLog(ctx: HandlerContext, res: ServerResponse, namespace: string, name: string, query: URLSearchParams): void {
  const pod = ctx.api.get(ctx.api.type('', 'pods'), namespace, name);
  if (!pod.ok) { sendError(res, pod.error); return; }
  let text: Result<string> | undefined;
  for (const source of ctx.podLogs ?? []) { text = source(namespace, name, query.get('container') ?? undefined); if (text) break; }
  if (!text) { sendError(res, badRequest(`pod "${name}" has no logs: no lab kubelet runs its containers`)); return; }
  if (!text.ok) { sendError(res, text.error); return; }
  const tail = Number(query.get('tailLines') ?? '-1');
  const lines = text.value.split(/(?<=\n)/);
  const body = tail >= 0 ? lines.slice(Math.max(0, lines.length - tail)).join('') : text.value;
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** The request's URL, or undefined when its target cannot be parsed (answered 400, never thrown). */
export function requestUrl(req: IncomingMessage): URL | undefined {
  try { return new URL(req.url ?? '/', 'http://lab'); } catch { return undefined; }
}

function sendJson(res: ServerResponse, code: number, body: unknown): void {
  // the client went away (e.g. mid-list): there is no one to answer
  if (res.destroyed || res.writableEnded) return;
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendError(res: ServerResponse, error: ApiError): void {
  sendJson(res, error.code, statusBody(error));
}

async function readBody(req: IncomingMessage): Promise<Result<unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return ok(undefined);
  const yamlBody = /yaml/.test(req.headers['content-type'] ?? '');
  try { return ok(yamlBody ? parseYaml(text) : JSON.parse(text)); } catch (e) { return fail(badRequest(`invalid ${yamlBody ? 'YAML' : 'JSON'} body: ${(e as Error).message}`)); }
}

function discovery(path: string, ctx: HandlerContext): unknown {
  if (path === '/version') return versionInfo();
  if (path === '/api') return coreVersions(ctx.serverAddress);
  if (path === '/apis') return groupList();
  if (path === '/api/v1') return resourceList('', 'v1');
  if (path === '/openapi/v3') return openApiIndex();
  if (path.startsWith('/openapi/v3/')) return openApiGroupVersion(path.slice('/openapi/v3/'.length));
  const m = /^\/apis\/([^/]+)(?:\/([^/]+))?$/.exec(path);
  if (m) return m[2] ? resourceList(m[1] ?? '', m[2]) : apiGroup(m[1] ?? '');
  if (['/healthz', '/livez', '/readyz'].includes(path)) return 'ok';
  return undefined;
}

function filterOf(query: URLSearchParams, namespace: string | undefined): Result<ObjectFilter> {
  const labels = parseLabelSelector(query.get('labelSelector'));
  if (!labels.ok) return labels;
  const fields = parseFieldSelector(query.get('fieldSelector'));
  if (!fields.ok) return fields;
  return ok({ labels: labels.value, fields: fields.value, ...(namespace ? { namespace } : {}) });
}

interface ContinueToken { rv: number; after: string }

function list(ctx: HandlerContext, target: ResourceTarget, query: URLSearchParams, filter: ObjectFilter): Result<{ items: KubeObject[]; meta: Record<string, unknown> }> {
  let after = '';
  const token = query.get('continue');
  if (token) {
    let parsed: ContinueToken;
    try { parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as ContinueToken; } catch { return fail(badRequest('invalid continue token')); }
    if (parsed.rv < ctx.api.objects.oldestResumableRv) {
      return fail(gone('The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.'));
    }
    after = parsed.after;
  }
  const key = (o: KubeObject): string => (o.metadata.namespace ? `${o.metadata.namespace}/` : '') + (o.metadata.name ?? '');
  const matching = ctx.api.listShared(target.type, target.namespace, after).filter((o) => filterMatches(filter, o));
  const limit = Number(query.get('limit') ?? '0');
  const rv = String(ctx.api.objects.resourceVersion);
  if (!(limit > 0) || matching.length <= limit) return ok({ items: matching, meta: { resourceVersion: rv } });
  const page = matching.slice(0, limit);
  const last = page[page.length - 1];
  const next = Buffer.from(JSON.stringify({ rv: Number(rv), after: last ? key(last) : '' })).toString('base64url');
  return ok({ items: page, meta: { resourceVersion: rv, continue: next, remainingItemCount: matching.length - limit } });
}

async function handleResource(ctx: HandlerContext, req: IncomingMessage, res: ServerResponse, target: ResourceTarget, query: URLSearchParams): Promise<void> {
  const { api } = ctx;
  const { type, namespace, name, subresource } = target;
  if (subresource && !type.subresources.includes(subresource)) { sendError(res, notFound({ group: type.group, plural: `${type.plural}/${subresource}`, name: name ?? '' })); return; }
  const method = req.method ?? 'GET';
  if (subresource === 'log') {
    if (method !== 'GET') { sendError(res, methodNotAllowed(`${method} is not supported on pods/log`)); return; }
    servePodLog(ctx, res, namespace ?? 'default', name ?? '', query); return;
  }
  const asTable = wantsTable(req.headers.accept);
  const include = query.get('includeObject') ?? 'Metadata';
  const write = { dryRun: query.getAll('dryRun').includes('All') };
  const reply = (result: Result<KubeObject>, code = 200): void => {
    if (!result.ok) { sendError(res, result.error); return; }
    sendJson(res, code, asTable && method === 'GET' ? toTable(type.kind, [result.value], { resourceVersion: result.value.metadata.resourceVersion }, include) : result.value);
  };
  if (!name) {
    const filter = filterOf(query, type.namespaced ? namespace : undefined);
    if (!filter.ok) { sendError(res, filter.error); return; }
    if (method === 'GET' && (target.legacyWatch || query.get('watch') === 'true' || query.get('watch') === '1')) {
      const timeout = Number(query.get('timeoutSeconds') ?? '1800');
      serveWatch(api, ctx.watch, res, { type, filter: filter.value, resourceVersion: query.get('resourceVersion') ?? undefined,
        allowBookmarks: query.get('allowWatchBookmarks') === 'true', timeoutSeconds: timeout > 0 ? timeout : 1800, asTable, includeObject: include });
      return;
    }
    if (method === 'GET') {
      const listed = list(ctx, target, query, filter.value);
      if (!listed.ok) { sendError(res, listed.error); return; }
      const { items, meta } = listed.value;
      const listVersion = type.group ? `${type.group}/${type.version}` : 'v1';
      sendJson(res, 200, asTable ? toTable(type.kind, items, meta, include) : { kind: `${type.kind}List`, apiVersion: listVersion, metadata: meta, items });
      return;
    }
    if (method === 'POST') {
      const body = await readBody(req);
      if (!body.ok) { sendError(res, body.error); return; }
      const object = (body.value ?? {}) as KubeObject;
      object.metadata = { ...object.metadata };
      if (type.namespaced) {
        if (object.metadata.namespace && object.metadata.namespace !== namespace) {
          sendError(res, badRequest('the namespace of the provided object does not match the namespace sent on the request')); return;
        }
        object.metadata.namespace = namespace;
      }
      reply(api.create(type, object, write), 201);
      return;
    }
    if (method === 'DELETE') {
      const removed: KubeObject[] = [];
      for (const object of api.list(type, namespace).filter((o) => filterMatches(filter.value, o))) {
        const result = api.delete(type, object.metadata.namespace, object.metadata.name ?? '', write);
        if (result.ok) removed.push(result.value);
      }
      sendJson(res, 200, { kind: `${type.kind}List`, apiVersion: type.group ? `${type.group}/${type.version}` : 'v1', metadata: {}, items: removed });
      return;
    }
    sendError(res, methodNotAllowed(`${method} is not supported on a collection`));
    return;
  }
  if (method === 'GET') { reply(api.get(type, namespace, name)); return; }
  if (method === 'PUT') {
    const body = await readBody(req);
    if (!body.ok) { sendError(res, body.error); return; }
    const object = (body.value ?? {}) as KubeObject;
    if (object.metadata?.name && object.metadata.name !== name) { sendError(res, badRequest('the name of the object does not match the name on the URL')); return; }
    object.metadata = { ...object.metadata, name, ...(type.namespaced ? { namespace } : {}) };
    reply(api.update(type, object, subresource, write));
    return;
  }
  if (method === 'PATCH') {
    const patchType = patchTypeOf(req.headers['content-type']);
    if (!patchType) { sendError(res, { code: 415, reason: 'UnsupportedMediaType', message: `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml` }); return; }
    const body = await readBody(req);
    if (!body.ok) { sendError(res, body.error); return; }
    if (patchType === 'apply' && !query.get('fieldManager')) {
      sendError(res, { code: 422, reason: 'Invalid', message: 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch' }); return;
    }
    const current = api.get(type, namespace, name);
    // Server-side apply of an object that does not exist yet creates it (no field ownership is tracked:
    // a later apply merges like a strategic merge patch and does not remove fields it no longer sets).
    if (patchType === 'apply' && !current.ok && current.error.code === 404) {
      const object = (body.value ?? {}) as KubeObject;
      object.metadata = { ...object.metadata, name, ...(type.namespaced ? { namespace } : {}) };
      reply(api.create(type, object, write), 201);
      return;
    }
    if (!current.ok) { sendError(res, current.error); return; }
    const patched = applyPatch(patchType, type.kind, current.value, body.value);
    if (!patched.ok) { sendError(res, patched.error); return; }
    const object = patched.value as KubeObject;
    object.metadata = { ...object.metadata, name, ...(type.namespaced ? { namespace } : {}) };
    reply(api.update(type, object, subresource, write));
    return;
  }
  if (method === 'DELETE') {
    const body = await readBody(req);
    if (!body.ok) { sendError(res, body.error); return; }
    const options = (body.value ?? {}) as { gracePeriodSeconds?: number; preconditions?: { uid?: string; resourceVersion?: string } };
    const graceQuery = query.get('gracePeriodSeconds');
    const grace = options.gracePeriodSeconds ?? (graceQuery !== null ? Number(graceQuery) : undefined);
    reply(api.delete(type, namespace, name, { ...write, ...(grace !== undefined ? { gracePeriodSeconds: grace } : {}), ...(options.preconditions ? { preconditions: options.preconditions } : {}) }));
    return;
  }
  sendError(res, methodNotAllowed(`${method} is not supported`));
}

export async function handleRequest(ctx: HandlerContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = requestUrl(req);
  if (!url) { sendError(res, badRequest(`malformed request URL ${JSON.stringify(req.url)}`)); return; }
  const path = url.pathname.replace(/\/+$/, '') || '/';
  if (req.method === 'GET') {
    const doc = discovery(path, ctx);
    if (typeof doc === 'string') { res.writeHead(200, { 'Content-Type': 'text/plain' }); res.end(doc); return; }
    if (doc !== undefined) { sendJson(res, 200, doc); return; }
  }
  const target = parseResourcePath(path);
  if (!target) { sendError(res, { code: 404, reason: 'NotFound', message: 'the server could not find the requested resource' }); return; }
  await handleResource(ctx, req, res, target, url.searchParams);
}

