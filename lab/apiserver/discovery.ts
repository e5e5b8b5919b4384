// Discovery documents (/version, /api, /apis, resource lists) and the minimal OpenAPI v3 index that tells
// kubectl the server validates fields itself (so `kubectl create/apply` need no client-side schema).
import { groupVersion, RESOURCE_TYPES, subresourceVerbs, verbsFor, type ResourceType } from './resources.ts';

export const SERVER_VERSION = { major: '1', minor: '30', gitVersion: 'v1.30.6', platform: 'linux/amd64' };

export function versionInfo(): Record<string, string> {
  return { ...SERVER_VERSION, gitCommit: 'lab', gitTreeState: 'clean', buildDate: '2026-01-01T00:00:00Z',
    goVersion: 'go1.22.0', compiler: 'gc' };
}

export function coreVersions(serverAddress: string): Record<string, unknown> {
  return { kind: 'APIVersions', versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

function groups(): Map<string, string[]> {
  const byGroup = new Map<string, string[]>();
  for (const t of RESOURCE_TYPES) {
    if (!t.group) continue;
    const versions = byGroup.get(t.group) ?? [];
    if (!versions.includes(t.version)) versions.push(t.version);
    byGroup.set(t.group, versions);
  }
  return byGroup;
}

function groupEntry(name: string, versions: string[]): Record<string, unknown> {
  const list = versions.map((version) => ({ groupVersion: `${name}/${version}`, version }));
  return { name, versions: list, preferredVersion: list[0] };
}

export function groupList(): Record<string, unknown> {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: [...groups()].map(([name, versions]) => groupEntry(name, versions)) };
}

export function apiGroup(name: string): Record<string, unknown> | undefined {
  const versions = groups().get(name);
  return versions ? { kind: 'APIGroup', apiVersion: 'v1', ...groupEntry(name, versions) } : undefined;
}

function resourceEntries(type: ResourceType): Record<string, unknown>[] {
  const main = { name: type.plural, singularName: type.singular, namespaced: type.namespaced, kind: type.kind,
    verbs: verbsFor(type), ...(type.shortNames.length ? { shortNames: type.shortNames } : {}),
    ...(type.categories.length ? { categories: type.categories } : {}) };
  const subs = type.subresources.map((sub) => ({ name: `${type.plural}/${sub}`, singularName: '',
    namespaced: type.namespaced, kind: sub === 'log' ? 'Pod' : type.kind, verbs: subresourceVerbs(sub) }));
  return [main, ...subs];
}

export function resourceList(group: string, version: string): Record<string, unknown> | undefined {
  const types = RESOURCE_TYPES.filter((t) => t.group === group && t.version === version);
  if (types.length === 0) return undefined;
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version,
    resources: types.flatMap(resourceEntries) };
}

function openApiPath(gv: string): string {
  return gv === 'v1' ? 'api/v1' : `apis/${gv}`;
}

/** GET /openapi/v3: one entry per group/version this server serves. */
export function openApiIndex(): Record<string, unknown> {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const t of RESOURCE_TYPES) {
    const path = openApiPath(groupVersion(t));
    paths[path] = { serverRelativeURL: `/openapi/v3/${path}?hash=lab${SERVER_VERSION.minor}` };
  }
  return { paths };
}

/** GET /openapi/v3/<path>: PATCH operations that accept the fieldValidation parameter (no schemas). */
export function openApiGroupVersion(path: string): Record<string, unknown> | undefined {
  const types = RESOURCE_TYPES.filter((t) => openApiPath(groupVersion(t)) === path);
  if (types.length === 0) return undefined;
  const paths: Record<string, unknown> = {};
  for (const t of types) {
    const prefix = t.group ? `/apis/${t.group}/${t.version}` : '/api/v1';
    const url = `${prefix}${t.namespaced ? '/namespaces/{namespace}' : ''}/${t.plural}/{name}`;
    paths[url] = {
      patch: {
        operationId: `patch${t.kind}`,
        parameters: [{ name: 'fieldValidation', in: 'query', schema: { type: 'string', uniqueItems: true } }],
        requestBody: { content: { 'application/merge-patch+json': { schema: { type: 'object' } } } },
        responses: { '200': { description: 'OK' } },
        'x-kubernetes-action': 'patch',
        'x-kubernetes-group-version-kind': { group: t.group, version: t.version, kind: t.kind },
      },
    };
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes', version: SERVER_VERSION.gitVersion }, paths, components: {} };
}
