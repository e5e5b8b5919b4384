// Turns a networking.k8s.io/v1 NetworkPolicy into a validated, normalised form the planner works on:
// policyTypes defaulted as the API server does, selectors compiled, CIDRs parsed, ports checked.
import type { NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort } from 'kubernetes-types/networking/v1.js';
import { cidrContains, formatCidr, parseCidrWithIp, type Cidr } from '../../net/cidr.ts';
import { splitZeroPrefix } from './addresses.ts';
import type { L4Protocol, PolicyRejection } from './model.ts';
import { compileSelector, MATCH_ALL, type Compiled, type CompiledSelector, type FieldError } from './selectors.ts';

export type Direction = 'ingress' | 'egress';

export type NormalizedPeer =
  /** namespaceSelector null: the policy's own namespace only. */
  | { kind: 'pods'; podSelector: CompiledSelector; namespaceSelector: CompiledSelector | null }
  /** `blocks` are the CIDR split for ipset (a /0 becomes two /1); `except` excludes under them. */
  | { kind: 'ipBlock'; blocks: Cidr[]; except: Cidr[] };

export type NormalizedPort =
  | { protocol: L4Protocol; kind: 'all' }
  | { protocol: L4Protocol; kind: 'range'; from: number; to: number }
  | { protocol: L4Protocol; kind: 'named'; name: string };

export interface NormalizedRule {
  /** null: no from/to, every peer matches. */
  peers: NormalizedPeer[] | null;
  /** null: no ports, every port and protocol matches. */
  ports: NormalizedPort[] | null;
}

export interface NormalizedPolicy {
  key: string;
  namespace: string;
  name: string;
  podSelector: CompiledSelector;
  /** null when the policy does not govern that direction. Empty array: isolates, allows nothing. */
  ingress: NormalizedRule[] | null;
  egress: NormalizedRule[] | null;
  /** Set when the policy was rejected: it then selects and isolates, but allows nothing. */
  rejection?: PolicyRejection;
  /**
   * ipBlock CIDRs written with host bits set ("10.0.0.1/8"), one line each. The API server accepts them and so
   * do we, as the network they are in; the controller logs them once per policy version.
   */
  normalizedCidrs: string[];
}

export const policyKeyOf = (p: NetworkPolicy): string => `${p.metadata?.namespace ?? 'default'}/${p.metadata?.name ?? ''}`;

class Rejected extends Error {
  constructor(readonly fieldError: FieldError) { super(fieldError.message); }
}

function need<T>(r: Compiled<T>): T {
  if (!r.ok) throw new Rejected(r.error);
  return r.value;
}

function parseCidrAt(text: unknown, field: string, normalized: string[]): Cidr {
  const p = typeof text === 'string' ? parseCidrWithIp(text) : { ok: false as const, error: 'missing CIDR' };
  if (!p.ok) throw new Rejected({ field, message: p.error });
  if (p.value.hostBitsSet) normalized.push(`${field}: "${String(text)}" has host bits set; used as ${formatCidr(p.value.cidr)}`);
  return p.value.cidr;
}

function normalizePeer(peer: NetworkPolicyPeer, field: string, normalized: string[]): NormalizedPeer {
  if (peer.ipBlock) {
    if (peer.podSelector || peer.namespaceSelector) {
      throw new Rejected({ field, message: 'ipBlock cannot be combined with podSelector or namespaceSelector' });
    }
    const cidr = parseCidrAt(peer.ipBlock.cidr, `${field}.ipBlock.cidr`, normalized);
    const except = (peer.ipBlock.except ?? []).map((e, j) => {
      const c = parseCidrAt(e, `${field}.ipBlock.except[${j}]`, normalized);
      if (!cidrContains(cidr, c) || c.prefixLength <= cidr.prefixLength) {
        throw new Rejected({ field: `${field}.ipBlock.except[${j}]`, message: `except ${e} is not strictly inside ${String(peer.ipBlock?.cidr)}` });
      }
      return c;
    });
    // An except inside another except adds nothing and would overlap in an nft interval set.
    const kept = except.filter((c, i) => !except.some((o, k) => k !== i && cidrContains(o, c) && (o.prefixLength < c.prefixLength || k < i)));
    return { kind: 'ipBlock', blocks: splitZeroPrefix(cidr), except: kept };
  }
  if (!peer.podSelector && !peer.namespaceSelector) {
    throw new Rejected({ field, message: 'peer must set podSelector, namespaceSelector or ipBlock' });
  }
  return {
    kind: 'pods',
    podSelector: peer.podSelector ? need(compileSelector(peer.podSelector, `${field}.podSelector`)) : MATCH_ALL,
    namespaceSelector: peer.namespaceSelector ? need(compileSelector(peer.namespaceSelector, `${field}.namespaceSelector`)) : null,
  };
}

function normalizeProtocol(p: string | undefined, field: string): L4Protocol {
  const proto = (p ?? 'TCP').toUpperCase();
  if (proto === 'TCP' || proto === 'UDP' || proto === 'SCTP') return proto.toLowerCase() as L4Protocol;
  throw new Rejected({ field, message: `unsupported protocol "${String(p)}"` });
}

const validPort = (n: number): boolean => Number.isInteger(n) && n >= 1 && n <= 65535;

function normalizePort(port: NetworkPolicyPort, field: string): NormalizedPort {
  const protocol = normalizeProtocol(port.protocol, `${field}.protocol`);
  if (port.port === undefined || port.port === null) {
    if (port.endPort !== undefined) throw new Rejected({ field: `${field}.endPort`, message: 'endPort needs a numeric port' });
    return { protocol, kind: 'all' };
  }
  if (typeof port.port === 'string' && !/^\d+$/.test(port.port)) {
    if (port.endPort !== undefined) throw new Rejected({ field: `${field}.endPort`, message: 'endPort cannot be used with a named port' });
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(port.port) || port.port.length > 15) {
      throw new Rejected({ field: `${field}.port`, message: `invalid port name "${port.port}"` });
    }
    return { protocol, kind: 'named', name: port.port };
  }
  const from = Number(port.port);
  if (!validPort(from)) throw new Rejected({ field: `${field}.port`, message: `invalid port ${String(port.port)}` });
  const to = port.endPort ?? from;
  if (!validPort(to) || to < from) throw new Rejected({ field: `${field}.endPort`, message: `endPort ${String(port.endPort)} must be >= port ${from}` });
  return { protocol, kind: 'range', from, to };
}

function normalizeRules(
  rules: { peers?: NetworkPolicyPeer[]; ports?: NetworkPolicyPort[] }[], field: string, peerField: string, normalized: string[],
): NormalizedRule[] {
  return rules.map((rule, i) => ({
    peers: rule.peers && rule.peers.length > 0 ? rule.peers.map((p, j) => normalizePeer(p, `${field}[${i}].${peerField}[${j}]`, normalized)) : null,
    ports: rule.ports && rule.ports.length > 0 ? rule.ports.map((p, j) => normalizePort(p, `${field}[${i}].ports[${j}]`)) : null,
  }));
}

/** Directions the policy governs: policyTypes, or as the API server defaults it when absent. */
function directionsOf(p: NetworkPolicy): { ingress: boolean; egress: boolean } {
  const types = p.spec?.policyTypes;
  if (!types || types.length === 0) return { ingress: true, egress: (p.spec?.egress?.length ?? 0) > 0 };
  for (const t of types) {
    if (t !== 'Ingress' && t !== 'Egress') throw new Rejected({ field: 'spec.policyTypes', message: `unknown policy type "${t}"` });
  }
  return { ingress: types.includes('Ingress'), egress: types.includes('Egress') };
}

/** Validates a policy. A rejected policy still isolates its targets (fail closed) but allows nothing. */
export function normalizePolicy(p: NetworkPolicy): NormalizedPolicy {
  const namespace = p.metadata?.namespace ?? 'default';
  const name = p.metadata?.name ?? '';
  const key = `${namespace}/${name}`;
  let podSelector: CompiledSelector | null = null;
  let dirs = { ingress: true, egress: true };
  const normalizedCidrs: string[] = [];
  try {
    podSelector = need(compileSelector(p.spec?.podSelector ?? {}, 'spec.podSelector'));
    dirs = directionsOf(p);
    return {
      key, namespace, name, podSelector, normalizedCidrs,
      ingress: dirs.ingress ? normalizeRules((p.spec?.ingress ?? []).map((r) => ({ peers: r.from, ports: r.ports })), 'spec.ingress', 'from', normalizedCidrs) : null,
      egress: dirs.egress ? normalizeRules((p.spec?.egress ?? []).map((r) => ({ peers: r.to, ports: r.ports })), 'spec.egress', 'to', normalizedCidrs) : null,
    };
  } catch (e) {
    if (!(e instanceof Rejected)) throw e;
    // An unreadable podSelector leaves the targets unknown: fail closed for the whole namespace.
    return {
      key, namespace, name, podSelector: podSelector ?? MATCH_ALL,
      ingress: dirs.ingress ? [] : null,
      egress: dirs.egress ? [] : null,
      rejection: { policy: key, field: e.fieldError.field, message: e.fieldError.message },
      normalizedCidrs: [],
    };
  }
}
