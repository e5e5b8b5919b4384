// RBAC evaluation as the real API server's authorizer does it: a request (user, groups, verb, API group,
// resource[/subresource], namespace, name) is allowed when a rule of a Role or ClusterRole bound to one of its
// subjects covers it. Pure: the bindings and roles are passed in, so unit tests check the rules directly.
import type { KubeObject } from './resources.ts';

export interface RequestAttributes {
  user: string;
  groups: readonly string[];
  verb: string;
  /** Resource requests: API group ('' for core), plural, optional subresource, namespace and name. */
  apiGroup?: string;
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  /** Non-resource requests (discovery, /version, /healthz): the URL path. */
  path?: string;
}

export interface PolicyRule {
  verbs?: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

interface Subject { kind?: string; name?: string; namespace?: string }
interface RoleRef { kind?: string; name?: string }

/** The RBAC objects the decision reads. */
export interface RbacState {
  clusterRoles: readonly KubeObject[];
  clusterRoleBindings: readonly KubeObject[];
  roles: readonly KubeObject[];
  roleBindings: readonly KubeObject[];
}

const SA_PREFIX = 'system:serviceaccount:';

/** The user name and groups of a ServiceAccount, as upstream authenticates its tokens. */
export function serviceAccountUser(namespace: string, name: string): { user: string; groups: string[] } {
  return { user: `${SA_PREFIX}${namespace}:${name}`, groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'] };
}

function subjectMatches(subject: Subject, user: string, groups: readonly string[], bindingNamespace: string | undefined): boolean {
  switch (subject.kind) {
    case 'ServiceAccount': {
      // a RoleBinding's ServiceAccount subject without a namespace means the binding's namespace
      const namespace = subject.namespace || bindingNamespace;
      return namespace !== undefined && user === `${SA_PREFIX}${namespace}:${subject.name ?? ''}`;
    }
    case 'User': return user === subject.name;
    case 'Group': return subject.name !== undefined && groups.includes(subject.name);
    default: return false;
  }
}

const covers = (list: readonly string[] | undefined, value: string): boolean => (list ?? []).some((v) => v === '*' || v === value);

function resourceMatches(resources: readonly string[] | undefined, resource: string, subresource: string | undefined): boolean {
  const wanted = subresource ? `${resource}/${subresource}` : resource;
  return (resources ?? []).some((r) => r === '*' || r === wanted || (subresource !== undefined && r === `*/${subresource}`));
}

function pathMatches(urls: readonly string[] | undefined, path: string): boolean {
  return (urls ?? []).some((u) => u === '*' || u === path || (u.endsWith('*') && path.startsWith(u.slice(0, -1))));
}

/** Whether one rule allows the request. */
export function ruleAllows(rule: PolicyRule, attrs: RequestAttributes): boolean {
  if (!covers(rule.verbs, attrs.verb)) return false;
  if (attrs.resource === undefined) return pathMatches(rule.nonResourceURLs, attrs.path ?? '');
  if (!covers(rule.apiGroups, attrs.apiGroup ?? '')) return false;
  if (!resourceMatches(rule.resources, attrs.resource, attrs.subresource)) return false;
  const names = rule.resourceNames ?? [];
  // resourceNames restrict requests that name an object; a list, watch or create without a name is not covered
  return names.length === 0 || (attrs.name !== undefined && names.includes(attrs.name));
}

function rulesOf(role: KubeObject | undefined): PolicyRule[] {
  return role && Array.isArray(role['rules']) ? (role['rules'] as PolicyRule[]) : [];
}

function boundToRequester(binding: KubeObject, attrs: RequestAttributes): boolean {
  const subjects = Array.isArray(binding['subjects']) ? (binding['subjects'] as Subject[]) : [];
  return subjects.some((s) => subjectMatches(s, attrs.user, attrs.groups, binding.metadata.namespace));
}

/** Whether the RBAC objects allow the request. */
export function rbacAllows(state: RbacState, attrs: RequestAttributes): boolean {
  const clusterRole = (name: string | undefined): KubeObject | undefined => state.clusterRoles.find((r) => r.metadata.name === name);
  for (const binding of state.clusterRoleBindings) {
    const ref = (binding['roleRef'] ?? {}) as RoleRef;
    if (ref.kind !== 'ClusterRole' || !boundToRequester(binding, attrs)) continue;
    if (rulesOf(clusterRole(ref.name)).some((rule) => ruleAllows(rule, attrs))) return true;
  }
  // RoleBindings grant only inside their namespace, whether they refer to a Role or a ClusterRole
  if (attrs.namespace === undefined || attrs.resource === undefined) return false;
  for (const binding of state.roleBindings) {
    if (binding.metadata.namespace !== attrs.namespace || !boundToRequester(binding, attrs)) continue;
    const ref = (binding['roleRef'] ?? {}) as RoleRef;
    const role = ref.kind === 'ClusterRole' ? clusterRole(ref.name)
      : state.roles.find((r) => r.metadata.namespace === attrs.namespace && r.metadata.name === ref.name);
    if (rulesOf(role).some((rule) => ruleAllows(rule, attrs))) return true;
  }
  return false;
}

/** The message of upstream's 403 for a denied request. */
export function forbiddenMessage(attrs: RequestAttributes): string {
  if (attrs.resource === undefined) return `forbidden: User "${attrs.user}" cannot ${attrs.verb} path "${attrs.path ?? ''}"`;
  const resource = attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource;
  const what = attrs.apiGroup ? `${attrs.resource}.${attrs.apiGroup}` : attrs.resource;
  const subject = attrs.name !== undefined ? `${what} "${attrs.name}"` : what;
  const scope = attrs.namespace !== undefined ? `in the namespace "${attrs.namespace}"` : 'at the cluster scope';
  return `${subject} is forbidden: User "${attrs.user}" cannot ${attrs.verb} resource "${resource}" in API group "${attrs.apiGroup ?? ''}" ${scope}`;
}
