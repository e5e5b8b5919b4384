// Every API resource kube-router reads or writes and the verbs it uses on each, declared once: the reflectors'
// paths and the Event recorder's calls are built from these, and the deploy/ ClusterRoles are tested against
// them (test/unit/deploy/rbac.test.ts), so a new API call cannot ship without its RBAC rule.
import { resourcePath } from './client.ts';

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete';

export interface ApiResource {
  /** RBAC apiGroup: '' for the core group. */
  group: string;
  version: string;
  /** Plural resource name as in URLs and RBAC rules. */
  resource: string;
}

/** The resources the cluster cache can reflect (list + watch, cluster-wide). */
export const REFLECTED_RESOURCES = {
  nodes: { group: '', version: 'v1', resource: 'nodes' },
  pods: { group: '', version: 'v1', resource: 'pods' },
  namespaces: { group: '', version: 'v1', resource: 'namespaces' },
  services: { group: '', version: 'v1', resource: 'services' },
  endpointslices: { group: 'discovery.k8s.io', version: 'v1', resource: 'endpointslices' },
  networkpolicies: { group: 'networking.k8s.io', version: 'v1', resource: 'networkpolicies' },
} as const satisfies Record<string, ApiResource>;

export type ReflectedResourceName = keyof typeof REFLECTED_RESOURCES;

/** What a reflector does: one list, then watches (src/kube/reflector.ts). */
export const REFLECTOR_VERBS: readonly Verb[] = ['list', 'watch'];

/** core/v1 Events (src/observe/events.ts): created, then their count patched on repeats. */
export const EVENTS: ApiResource = { group: '', version: 'v1', resource: 'events' };
export const EVENT_VERBS: readonly Verb[] = ['create', 'patch'];

/** apiVersion as written in objects and paths: `v1` or `group/v1`. */
export function apiVersionOf(r: ApiResource): string {
  return r.group === '' ? r.version : `${r.group}/${r.version}`;
}

/** Cluster-wide collection path, e.g. /apis/discovery.k8s.io/v1/endpointslices. */
export function collectionPath(r: ApiResource): string {
  return resourcePath(apiVersionOf(r), r.resource);
}

export interface Permission {
  apiGroup: string;
  resource: string;
  verb: Verb;
}

/**
 * Everything a daemon watching `reflected` needs from the API server: list/watch on each reflected resource,
 * and create/patch on Events (every running daemon records Events).
 */
export function permissionsFor(reflected: readonly ReflectedResourceName[]): Permission[] {
  const out: Permission[] = [];
  for (const name of new Set(reflected)) {
    const r = REFLECTED_RESOURCES[name];
    for (const verb of REFLECTOR_VERBS) out.push({ apiGroup: r.group, resource: r.resource, verb });
  }
  for (const verb of EVENT_VERBS) out.push({ apiGroup: EVENTS.group, resource: EVENTS.resource, verb });
  return out;
}
