// Who a request is and whether it may do what it asks. The lab admin (its bearer token or a client certificate
// signed by the lab CA) may do anything; a ServiceAccount token (issued by the lab, HMAC-signed, naming the
// account and its uid) is held to the RBAC objects in the store, watches included. Non-resource GETs
// (discovery, OpenAPI, /version) are open to every authenticated user, as upstream's system:discovery binding.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { LabApi } from './api.ts';
import { parseResourcePath, requestUrl } from './handlers.ts';
import { forbiddenMessage, rbacAllows, serviceAccountUser, type RequestAttributes } from './rbac.ts';
import { type ApiError, unauthorized } from './status-errors.ts';

const OPEN_PATHS = new Set(['/version', '/healthz', '/livez', '/readyz']);
const TOKEN_PREFIX = 'lab-sa';

export type Requester = { kind: 'admin' } | { kind: 'anonymous' } | { kind: 'serviceaccount'; user: string; groups: string[] };

interface TokenClaims { ns: string; name: string; uid: string }

/** Issues and checks the lab's ServiceAccount tokens: `lab-sa.<claims>.<HMAC-SHA256 of the claims>`. */
export class ServiceAccountTokens {
  private readonly key = randomBytes(32);

  issue(namespace: string, name: string, uid: string): string {
    const claims = Buffer.from(JSON.stringify({ ns: namespace, name, uid } satisfies TokenClaims)).toString('base64url');
    return `${TOKEN_PREFIX}.${claims}.${this.sign(claims)}`;
  }

  verify(token: string): TokenClaims | undefined {
    const [prefix, claims, signature] = token.split('.');
    if (prefix !== TOKEN_PREFIX || !claims || !signature) return undefined;
    const given = Buffer.from(signature), wanted = Buffer.from(this.sign(claims));
    if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) return undefined;
    try { return JSON.parse(Buffer.from(claims, 'base64url').toString('utf8')) as TokenClaims; } catch { return undefined; }
  }

  private sign(claims: string): string {
    return createHmac('sha256', this.key).update(claims).digest('base64url');
  }
}

export interface AuthSettings {
  /** The admin bearer token (undefined: none). */
  adminToken: string | undefined;
  clientCerts: boolean;
  tokens: ServiceAccountTokens;
}

function bearer(req: IncomingMessage): string {
  return /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
}

/** The requester, or undefined when the credentials are missing or wrong (401). */
export function authenticate(api: LabApi, settings: AuthSettings, req: IncomingMessage): Requester | undefined {
  if (!settings.adminToken && !settings.clientCerts) return { kind: 'admin' };  // authentication disabled
  if (settings.clientCerts && (req.socket as TLSSocket).authorized === true) return { kind: 'admin' };
  const token = bearer(req);
  if (settings.adminToken && token) {
    const given = Buffer.from(token), wanted = Buffer.from(settings.adminToken);
    if (given.length === wanted.length && timingSafeEqual(given, wanted)) return { kind: 'admin' };
  }
  const claims = token ? settings.tokens.verify(token) : undefined;
  if (claims) {
    // a token outlives neither its ServiceAccount nor a recreated one of the same name
    const account = api.get(api.type('', 'serviceaccounts'), claims.ns, claims.name);
    if (account.ok && account.value.metadata.uid === claims.uid) return { kind: 'serviceaccount', ...serviceAccountUser(claims.ns, claims.name) };
    return undefined;
  }
  if (req.method === 'GET' && OPEN_PATHS.has(requestUrl(req)?.pathname ?? '')) return { kind: 'anonymous' };
  return undefined;
}

function verbOf(method: string, named: boolean, watch: boolean): string {
  switch (method) {
    case 'GET': return watch ? 'watch' : named ? 'get' : 'list';
    case 'POST': return 'create';
    case 'PUT': return 'update';
    case 'PATCH': return 'patch';
    case 'DELETE': return named ? 'delete' : 'deletecollection';
    default: return method.toLowerCase();
  }
}

/** What a request asks for, in RBAC terms. */
export function requestAttributes(req: IncomingMessage, user: string, groups: readonly string[]): RequestAttributes {
  const url = requestUrl(req);
  const path = (url?.pathname ?? '/').replace(/\/+$/, '') || '/';
  const method = req.method ?? 'GET';
  const target = parseResourcePath(path);
  if (!target) return { user, groups, verb: method === 'GET' ? 'get' : method.toLowerCase(), path };
  const watchParam = url?.searchParams.get('watch');
  const watch = target.legacyWatch || watchParam === 'true' || watchParam === '1';
  return {
    user, groups, verb: verbOf(method, target.name !== undefined, watch), apiGroup: target.type.group, resource: target.type.plural,
    ...(target.subresource ? { subresource: target.subresource } : {}),
    ...(target.namespace !== undefined ? { namespace: target.namespace } : {}),
    ...(target.name !== undefined ? { name: target.name } : {}),
  };
}

/** undefined when the requester may make the request, else the 401/403 to answer. */
export function authorizeRequest(api: LabApi, settings: AuthSettings, req: IncomingMessage): ApiError | undefined {
  const requester = authenticate(api, settings, req);
  if (!requester) return unauthorized();
  if (requester.kind !== 'serviceaccount') return undefined;  // admin, or anonymous on an open path
  const attrs = requestAttributes(req, requester.user, requester.groups);
  if (attrs.resource === undefined && attrs.verb === 'get') return undefined;  // discovery
  const rbac = (plural: string): ReturnType<LabApi['listShared']> => api.listShared(api.type('rbac.authorization.k8s.io', plural));
  const state = { clusterRoles: rbac('clusterroles'), clusterRoleBindings: rbac('clusterrolebindings'), roles: rbac('roles'), roleBindings: rbac('rolebindings') };
  if (rbacAllows(state, attrs)) return undefined;
  return { code: 403, reason: 'Forbidden', message: forbiddenMessage(attrs),
    details: { ...(attrs.name !== undefined ? { name: attrs.name } : {}), group: attrs.apiGroup ?? '', kind: attrs.subresource ? `${attrs.resource ?? ''}/${attrs.subresource}` : attrs.resource ?? '' } };
}
