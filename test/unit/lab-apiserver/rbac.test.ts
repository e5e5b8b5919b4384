// RBAC evaluation (pure) and its enforcement over HTTP for ServiceAccount tokens.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rbacAllows, ruleAllows, serviceAccountUser, type RbacState, type RequestAttributes } from '../../../lab/apiserver/rbac.ts';
import type { KubeObject } from '../../../lab/apiserver/resources.ts';
import { call, startTestServer, type TestServer } from './helpers.ts';

const sa = serviceAccountUser('kube-system', 'kube-router');
const req = (verb: string, resource: string, extra: Partial<RequestAttributes> = {}): RequestAttributes =>
  ({ ...sa, verb, apiGroup: '', resource, ...extra });
const obj = (kind: string, name: string, fields: Record<string, unknown>, namespace?: string): KubeObject =>
  ({ apiVersion: 'rbac.authorization.k8s.io/v1', kind, metadata: { name, ...(namespace ? { namespace } : {}) }, ...fields });

describe('RBAC rules', () => {
  it('match verbs, groups, resources, subresources and resourceNames as upstream', () => {
    const rule = { verbs: ['get', 'list'], apiGroups: [''], resources: ['nodes'] };
    assert.equal(ruleAllows(rule, req('get', 'nodes')), true);
    assert.equal(ruleAllows(rule, req('watch', 'nodes')), false);
    assert.equal(ruleAllows(rule, req('get', 'nodes', { apiGroup: 'apps' })), false);
    assert.equal(ruleAllows(rule, req('get', 'nodes', { subresource: 'status' })), false, 'nodes does not cover nodes/status');
    assert.equal(ruleAllows({ verbs: ['patch'], apiGroups: [''], resources: ['nodes/status'] }, req('patch', 'nodes', { subresource: 'status' })), true);
    assert.equal(ruleAllows({ verbs: ['*'], apiGroups: ['*'], resources: ['*/status'] }, req('update', 'services', { subresource: 'status' })), true);
    const named = { verbs: ['get', 'list'], apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['kube-router'] };
    assert.equal(ruleAllows(named, req('get', 'leases', { apiGroup: 'coordination.k8s.io', name: 'kube-router' })), true);
    assert.equal(ruleAllows(named, req('get', 'leases', { apiGroup: 'coordination.k8s.io', name: 'other' })), false);
    assert.equal(ruleAllows(named, req('list', 'leases', { apiGroup: 'coordination.k8s.io' })), false, 'a list names nothing');
    assert.equal(ruleAllows({ verbs: ['get'], nonResourceURLs: ['/metrics'] }, { ...sa, verb: 'get', path: '/metrics' }), true);
  });

  it('binds through ClusterRoleBindings cluster-wide and RoleBindings only in their namespace', () => {
    const state: RbacState = {
      clusterRoles: [obj('ClusterRole', 'reader', { rules: [{ verbs: ['list'], apiGroups: [''], resources: ['pods'] }] })],
      clusterRoleBindings: [],
      roles: [obj('Role', 'lease', { rules: [{ verbs: ['update'], apiGroups: ['coordination.k8s.io'], resources: ['leases'] }] }, 'kube-system')],
      roleBindings: [
        obj('RoleBinding', 'lease', { roleRef: { kind: 'Role', name: 'lease' }, subjects: [{ kind: 'ServiceAccount', name: 'kube-router' }] }, 'kube-system'),
        obj('RoleBinding', 'reader', { roleRef: { kind: 'ClusterRole', name: 'reader' }, subjects: [{ kind: 'Group', name: 'system:serviceaccounts:kube-system' }] }, 'apps'),
      ],
    };
    const lease = { apiGroup: 'coordination.k8s.io', name: 'x' };
    assert.equal(rbacAllows(state, req('update', 'leases', { ...lease, namespace: 'kube-system' })), true);
    assert.equal(rbacAllows(state, req('update', 'leases', { ...lease, namespace: 'default' })), false);
    assert.equal(rbacAllows(state, req('list', 'pods', { namespace: 'apps' })), true, 'ClusterRole via RoleBinding, group subject');
    assert.equal(rbacAllows(state, req('list', 'pods')), false, 'a RoleBinding grants nothing cluster-wide');
    const bound = { ...state, clusterRoleBindings: [obj('ClusterRoleBinding', 'reader', {
      roleRef: { kind: 'ClusterRole', name: 'reader' }, subjects: [{ kind: 'ServiceAccount', name: 'kube-router', namespace: 'kube-system' }] })] };
    assert.equal(rbacAllows(bound, req('list', 'pods')), true);
    assert.equal(rbacAllows(bound, { ...serviceAccountUser('default', 'kube-router'), verb: 'list', apiGroup: '', resource: 'pods' }), false, 'same name, other namespace');
  });
});

describe('RBAC over HTTP for ServiceAccount tokens', () => {
  let server: TestServer;
  let saToken: string;
  const as = (token: string): Record<string, string> => ({ Authorization: `Bearer ${token}` });
  const admin = (): Record<string, string> => as(server.token ?? '');
  const rbac = '/apis/rbac.authorization.k8s.io/v1';

  before(async () => {
    server = await startTestServer({ token: undefined });
    assert.equal((await call(server.url, 'POST', '/api/v1/namespaces/kube-system/serviceaccounts', { metadata: { name: 'kube-router' } }, undefined, admin())).status, 201);
    assert.equal((await call(server.url, 'POST', `${rbac}/clusterroles`, { metadata: { name: 'system:kube-router' },
      rules: [{ apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] }, { apiGroups: [''], resources: ['nodes/status'], verbs: ['patch'] }] }, undefined, admin())).status, 201);
    assert.equal((await call(server.url, 'POST', `${rbac}/clusterrolebindings`, { metadata: { name: 'kube-router' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'system:kube-router' },
      subjects: [{ kind: 'ServiceAccount', name: 'kube-router', namespace: 'kube-system' }] }, undefined, admin())).status, 201);
    const issued = server.serviceAccountToken('kube-system', 'kube-router');
    assert.ok(issued.ok);
    saToken = issued.value;
  });
  after(async () => { await server.close(); });

  it('allows what the ClusterRole grants and answers 403 with a Status otherwise; the admin token stays all-powerful', async () => {
    assert.equal((await call(server.url, 'GET', '/api/v1/nodes', undefined, undefined, as(saToken))).status, 200);
    assert.equal((await call(server.url, 'GET', '/apis', undefined, undefined, as(saToken))).status, 200, 'discovery is open');
    const denied = await call(server.url, 'GET', '/api/v1/namespaces/default/pods', undefined, undefined, as(saToken));
    assert.equal(denied.status, 403);
    assert.equal(denied.body.kind, 'Status');
    assert.equal(denied.body.reason, 'Forbidden');
    assert.match(denied.body.message, /User "system:serviceaccount:kube-system:kube-router" cannot list resource "pods" in API group "" in the namespace "default"/);
    const status = await call(server.url, 'PATCH', '/api/v1/nodes/n1/status', {}, 'application/merge-patch+json', as(saToken));
    assert.equal(status.status, 404, 'nodes/status patch is allowed (the node just does not exist)');
    assert.equal((await call(server.url, 'PATCH', '/api/v1/nodes/n1', {}, 'application/merge-patch+json', as(saToken))).status, 403);
    assert.equal((await call(server.url, 'GET', '/api/v1/namespaces/default/pods', undefined, undefined, admin())).status, 200);
    assert.equal((await call(server.url, 'GET', '/api/v1/nodes', undefined, undefined, as(`${saToken}x`))).status, 401, 'a forged signature');
  });

  it('authorises watches and follows ClusterRole edits at once', async () => {
    const watch = await fetch(`${server.url}/api/v1/services?watch=true`, { headers: as(saToken) });
    assert.equal(watch.status, 403);
    await watch.body?.cancel();
    const allowed = new AbortController();
    const granted = await fetch(`${server.url}/api/v1/nodes?watch=true&timeoutSeconds=5`, { headers: as(saToken), signal: allowed.signal });
    assert.equal(granted.status, 200);
    allowed.abort();
    assert.equal((await call(server.url, 'PATCH', `${rbac}/clusterroles/system:kube-router`, { rules: [{ apiGroups: [''], resources: ['nodes'], verbs: ['get', 'watch'] }] },
      'application/merge-patch+json', admin())).status, 200);
    const removed = await call(server.url, 'GET', '/api/v1/nodes', undefined, undefined, as(saToken));
    assert.equal(removed.status, 403, 'list was removed from the role');
  });

  it('a token dies with its ServiceAccount', async () => {
    await call(server.url, 'POST', '/api/v1/namespaces/default/serviceaccounts', { metadata: { name: 'short' } }, undefined, admin());
    const issued = server.serviceAccountToken('default', 'short');
    assert.ok(issued.ok);
    assert.equal((await call(server.url, 'GET', '/version', undefined, undefined, as(issued.value))).status, 200);
    await call(server.url, 'DELETE', '/api/v1/namespaces/default/serviceaccounts/short', undefined, undefined, admin());
    assert.equal((await call(server.url, 'GET', '/api/v1/nodes', undefined, undefined, as(issued.value))).status, 401);
    assert.equal(server.serviceAccountToken('default', 'missing').ok, false);
  });
});
