// Pure translation of our routing-policy vocabulary (defined sets, policies, global assignments) to and from gobgp
// v3 API JSON, plus the element diff that turns "replace this set" into gobgp's add/remove-elements calls.
import { formatIp, parseIp } from '../net/ip.ts';
import type {
  DefinedSet, DefinedSetKind, Policy, PolicyAssignment, PolicyDirection, PrefixMatch, RouteAction, SetMatch, Statement,
} from './speaker.ts';
import type {
  ApiActions, ApiConditions, ApiDefinedSet, ApiDefinedType, ApiMatchSet, ApiPolicy, ApiPolicyAssignment, ApiPrefix, ApiRouteAction,
  ApiStatement,
} from './gobgp-api-types.ts';
import { formatCommunity, parseCommunities } from './community.ts';
import type { Result } from '../result.ts';
import { prefixParts } from './gobgp-messages.ts';

/** The assignment name gobgp uses for the global RIB. */
export const GLOBAL_ASSIGNMENT = 'global';

const DEFINED_TYPE: Record<DefinedSetKind, ApiDefinedType> = { prefix: 'PREFIX', neighbor: 'NEIGHBOR', community: 'COMMUNITY' };

export function definedTypeToApi(kind: DefinedSetKind): ApiDefinedType {
  return DEFINED_TYPE[kind];
}

function prefixToApi(match: PrefixMatch): Result<ApiPrefix> {
  const cidr = prefixParts(match.prefix);
  if (!cidr.ok) return cidr;
  const min = match.maskLengthMin ?? cidr.value.length;
  const max = match.maskLengthMax ?? cidr.value.length;
  const familyMax = cidr.value.family === 'ipv4' ? 32 : 128;
  if (min > max || max > familyMax) return { ok: false, error: `invalid mask length range ${min}..${max} for ${match.prefix}` };
  return { ok: true, value: { ipPrefix: `${cidr.value.address}/${cidr.value.length}`, maskLengthMin: min, maskLengthMax: max } };
}

/** gobgp neighbor sets hold CIDRs; a bare address becomes a host prefix. */
function neighborToApi(neighbor: string): Result<string> {
  const ip = parseIp(neighbor);
  if (ip.ok) return { ok: true, value: `${formatIp(ip.value)}/${ip.value.family === 4 ? 32 : 128}` };
  const cidr = prefixParts(neighbor);
  return cidr.ok ? { ok: true, value: `${cidr.value.address}/${cidr.value.length}` } : cidr;
}

export function definedSetToApi(set: DefinedSet): Result<ApiDefinedSet> {
  if (set.name === '') return { ok: false, error: 'defined set without a name' };
  switch (set.kind) {
    case 'prefix': {
      const prefixes: ApiPrefix[] = [];
      for (const match of set.prefixes) {
        const p = prefixToApi(match);
        if (!p.ok) return p;
        prefixes.push(p.value);
      }
      return { ok: true, value: { definedType: 'PREFIX', name: set.name, prefixes } };
    }
    case 'neighbor': {
      const list: string[] = [];
      for (const neighbor of set.neighbors) {
        const n = neighborToApi(neighbor);
        if (!n.ok) return n;
        list.push(n.value);
      }
      return { ok: true, value: { definedType: 'NEIGHBOR', name: set.name, list } };
    }
    case 'community':
      return { ok: true, value: { definedType: 'COMMUNITY', name: set.name, list: [...set.communities] } };
  }
}

/**
 * A set as ListDefinedSet reports it. proto3 leaves out zero enum values, so a PREFIX set (type 0) arrives without
 * definedType: pass the kind that was asked for.
 */
export function definedSetFromApi(set: ApiDefinedSet, requested?: DefinedSetKind): DefinedSet | undefined {
  switch (set.definedType ?? (requested ? DEFINED_TYPE[requested] : 'PREFIX')) {
    case 'PREFIX':
      return {
        kind: 'prefix',
        name: set.name,
        prefixes: (set.prefixes ?? []).map((p) => ({ prefix: p.ipPrefix, maskLengthMin: p.maskLengthMin ?? 0, maskLengthMax: p.maskLengthMax ?? 0 })),
      };
    case 'NEIGHBOR':
      return { kind: 'neighbor', name: set.name, neighbors: [...(set.list ?? [])] };
    case 'COMMUNITY':
      return { kind: 'community', name: set.name, communities: [...(set.list ?? [])] };
    default:
      return undefined;
  }
}

function elementKeys(set: ApiDefinedSet): Map<string, ApiPrefix | string> {
  const keys = new Map<string, ApiPrefix | string>();
  // proto3 leaves zero lengths out of responses.
  for (const p of set.prefixes ?? []) keys.set(`${p.ipPrefix} ${p.maskLengthMin ?? 0}..${p.maskLengthMax ?? 0}`, p);
  for (const item of set.list ?? []) keys.set(item, item);
  return keys;
}

function withElements(template: ApiDefinedSet, elements: (ApiPrefix | string)[]): ApiDefinedSet | undefined {
  if (elements.length === 0) return undefined;
  const prefixes = elements.filter((e): e is ApiPrefix => typeof e !== 'string');
  const list = elements.filter((e): e is string => typeof e === 'string');
  return { definedType: template.definedType, name: template.name, ...(prefixes.length ? { prefixes } : {}), ...(list.length ? { list } : {}) };
}

/** The elements to add to and remove from `current` (a listed set of the same name) so that it equals `desired`. */
export function definedSetDelta(current: ApiDefinedSet, desired: ApiDefinedSet): { add?: ApiDefinedSet; remove?: ApiDefinedSet } {
  const have = elementKeys(current);
  const want = elementKeys(desired);
  const add = withElements(desired, [...want].filter(([k]) => !have.has(k)).map(([, v]) => v));
  const remove = withElements(desired, [...have].filter(([k]) => !want.has(k)).map(([, v]) => v));
  return { ...(add ? { add } : {}), ...(remove ? { remove } : {}) };
}

const MATCH_TO_API: Record<SetMatch, ApiMatchSet['type']> = { any: 'ANY', all: 'ALL', invert: 'INVERT' };
const ROUTE_ACTION_TO_API: Record<RouteAction, ApiRouteAction> = { accept: 'ACCEPT', reject: 'REJECT', none: 'NONE' };

function matchSet(ref: { name: string; match?: SetMatch }): ApiMatchSet {
  return { type: MATCH_TO_API[ref.match ?? 'any'], name: ref.name };
}

function statementToApi(statement: Statement): Result<ApiStatement> {
  const conditions: ApiConditions = {};
  const c = statement.conditions;
  if (c.prefixSet) conditions.prefixSet = matchSet(c.prefixSet);
  if (c.neighborSet) conditions.neighborSet = matchSet(c.neighborSet);
  if (c.communitySet) conditions.communitySet = matchSet(c.communitySet);
  const a = statement.actions;
  const actions: ApiActions = { routeAction: ROUTE_ACTION_TO_API[a.route] };
  if (a.addCommunities && a.addCommunities.length > 0) {
    const values = parseCommunities(a.addCommunities);
    if (!values.ok) return values;
    actions.community = { type: 'ADD', communities: values.value.map(formatCommunity) };
  }
  if (a.asPathPrepend && a.asPathPrepend.repeat > 0) actions.asPrepend = { asn: a.asPathPrepend.asn, repeat: a.asPathPrepend.repeat };
  if (a.nextHopSelf) actions.nexthop = { self: true };
  return { ok: true, value: { name: statement.name, conditions, actions } };
}

export function policyToApi(policy: Policy): Result<ApiPolicy> {
  const statements: ApiStatement[] = [];
  for (const statement of policy.statements) {
    const s = statementToApi(statement);
    if (!s.ok) return { ok: false, error: `policy ${policy.name}: ${s.error}` };
    statements.push(s.value);
  }
  return { ok: true, value: { name: policy.name, statements } };
}

function matchFromApi(set: ApiMatchSet | undefined): { name: string; match: SetMatch } | undefined {
  if (!set || !set.name) return undefined;
  return { name: set.name, match: set.type === 'ALL' ? 'all' : set.type === 'INVERT' ? 'invert' : 'any' };
}

function routeActionFromApi(action: ApiRouteAction | undefined): RouteAction {
  return action === 'ACCEPT' ? 'accept' : action === 'REJECT' ? 'reject' : 'none';
}

function statementFromApi(statement: ApiStatement): Statement {
  const prefixSet = matchFromApi(statement.conditions?.prefixSet);
  const neighborSet = matchFromApi(statement.conditions?.neighborSet);
  const communitySet = matchFromApi(statement.conditions?.communitySet);
  const a = statement.actions;
  return {
    name: statement.name,
    conditions: { ...(prefixSet ? { prefixSet } : {}), ...(neighborSet ? { neighborSet } : {}), ...(communitySet ? { communitySet } : {}) },
    actions: {
      route: routeActionFromApi(a?.routeAction),
      ...(a?.community?.communities?.length ? { addCommunities: [...a.community.communities] } : {}),
      ...(a?.asPrepend?.repeat ? { asPathPrepend: { asn: a.asPrepend.asn, repeat: a.asPrepend.repeat } } : {}),
      ...(a?.nexthop?.self ? { nextHopSelf: true } : {}),
    },
  };
}

export function policyFromApi(policy: ApiPolicy): Policy {
  return { name: policy.name, statements: (policy.statements ?? []).map(statementFromApi) };
}

export function globalAssignmentToApi(direction: PolicyDirection, assignment: PolicyAssignment): ApiPolicyAssignment {
  return {
    name: GLOBAL_ASSIGNMENT,
    direction: direction === 'import' ? 'IMPORT' : 'EXPORT',
    policies: assignment.policies.map((name) => ({ name })),
    defaultAction: assignment.defaultAction === 'accept' ? 'ACCEPT' : 'REJECT',
  };
}

/** gobgp reports an unset default action as NONE, which behaves as accept. */
export function assignmentFromApi(assignment: ApiPolicyAssignment | undefined): PolicyAssignment {
  return {
    policies: (assignment?.policies ?? []).map((p) => p.name),
    defaultAction: assignment?.defaultAction === 'REJECT' ? 'reject' : 'accept',
  };
}
