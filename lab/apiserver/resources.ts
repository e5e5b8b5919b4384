// The resource types the lab API server serves: group/version, kind, scope, short names and subresources.
import type { ObjectMeta } from 'kubernetes-types/meta/v1.d.ts';

/** Object metadata as the server writes it (the published type marks server-set fields read-only). */
export type Metadata = { -readonly [K in keyof ObjectMeta]: ObjectMeta[K] };

/** Any stored API object: typed metadata, the rest is free-form JSON. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: Metadata;
  [field: string]: unknown;
}

export interface ResourceType {
  group: string;            // '' for the core group
  version: string;
  plural: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  shortNames: string[];
  /** Subresources served besides the main resource ('status'). */
  subresources: string[];
  categories: string[];
}

const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

function rt(group: string, version: string, plural: string, kind: string, namespaced: boolean,
  shortNames: string[] = [], subresources: string[] = [], categories: string[] = []): ResourceType {
  return { group, version, plural, singular: kind.toLowerCase(), kind, namespaced, shortNames, subresources, categories };
}

export const RESOURCE_TYPES: readonly ResourceType[] = [
  rt('', 'v1', 'namespaces', 'Namespace', false, ['ns'], ['status']),
  rt('', 'v1', 'nodes', 'Node', false, ['no'], ['status']),
  rt('', 'v1', 'pods', 'Pod', true, ['po'], ['status', 'log'], ['all']),
  rt('', 'v1', 'services', 'Service', true, ['svc'], ['status'], ['all']),
  rt('', 'v1', 'events', 'Event', true, ['ev']),
  rt('', 'v1', 'serviceaccounts', 'ServiceAccount', true, ['sa']),
  rt('', 'v1', 'configmaps', 'ConfigMap', true, ['cm']),
  rt('', 'v1', 'secrets', 'Secret', true),
  rt('apps', 'v1', 'daemonsets', 'DaemonSet', true, ['ds'], ['status'], ['all']),
  rt('rbac.authorization.k8s.io', 'v1', 'clusterroles', 'ClusterRole', false),
  rt('rbac.authorization.k8s.io', 'v1', 'clusterrolebindings', 'ClusterRoleBinding', false),
  rt('rbac.authorization.k8s.io', 'v1', 'roles', 'Role', true),
  rt('rbac.authorization.k8s.io', 'v1', 'rolebindings', 'RoleBinding', true),
  rt('discovery.k8s.io', 'v1', 'endpointslices', 'EndpointSlice', true),
  rt('networking.k8s.io', 'v1', 'networkpolicies', 'NetworkPolicy', true, ['netpol']),
  rt('coordination.k8s.io', 'v1', 'leases', 'Lease', true),
  rt('events.k8s.io', 'v1', 'events', 'Event', true),
];

export function verbsFor(_type: ResourceType): string[] {
  return ALL_VERBS;
}

/** Verbs of a subresource: pods/log is read-only, status subresources are read and written. */
export function subresourceVerbs(subresource: string): string[] {
  return subresource === 'log' ? ['get'] : ['get', 'patch', 'update'];
}

export function groupVersion(type: ResourceType): string {
  return type.group ? `${type.group}/${type.version}` : type.version;
}

/** The store key of a type: core and events.k8s.io events are one stored resource (as in the real server). */
export function storageKey(type: ResourceType): string {
  return type.plural === 'events' ? 'events' : `${type.group}/${type.plural}`;
}

export function findType(group: string, version: string, plural: string): ResourceType | undefined {
  return RESOURCE_TYPES.find((t) => t.group === group && t.version === version && t.plural === plural);
}

export function objectKey(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}
