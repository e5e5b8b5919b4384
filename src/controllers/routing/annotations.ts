// Parsing of the kube-router.io/* Node annotations the routes controller reads (ASN, route reflector, external
// peers, communities, AS-path prepend, custom import rejects, BGP listen addresses): pure, errors are values.
import type { Node } from 'kubernetes-types/core/v1.js';
import { parse as parseYaml } from 'yaml';
import { formatCommunity, parseCommunities } from '../../bgp/community.ts';
import { decodeStrictBase64 } from '../../config/go-values.ts';
import { isCidr } from '../../net/cidr.ts';
import { isIp, parseIp } from '../../net/ip.ts';
import { err, ok, type Result } from '../../result.ts';

export const ANNOTATION = {
  nodeAsn: 'kube-router.io/node.asn',
  rrServer: 'kube-router.io/rr.server',
  rrClient: 'kube-router.io/rr.client',
  peers: 'kube-router.io/peers',
  peerIps: 'kube-router.io/peer.ips',
  peerAsns: 'kube-router.io/peer.asns',
  peerPasswords: 'kube-router.io/peer.passwords',
  peerLocalIps: 'kube-router.io/peer.localips',
  peerPorts: 'kube-router.io/peer.ports',
  communities: 'kube-router.io/node.bgp.communities',
  customImportReject: 'kube-router.io/node.bgp.customimportreject',
  pathPrependAs: 'kube-router.io/path-prepend.as',
  pathPrependRepeat: 'kube-router.io/path-prepend.repeat-n',
  bgpLocalAddresses: 'kube-router.io/bgp-local-addresses',
} as const;

/** An external peer as a node annotation describes it (before local defaults are filled in). */
export interface AnnotatedPeer {
  ip: string;
  asn: number;
  port?: number;
  localIp?: string;
  /** Decoded TCP-MD5 key; never logged. */
  password?: string;
  bfdEnabled?: boolean;
}

function annotations(node: Node): Record<string, string> {
  return node.metadata?.annotations ?? {};
}

function csv(text: string): string[] {
  return text.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/** A uint32 ASN from decimal text, 1..4294967295. */
export function parseAsn(text: string): Result<number> {
  const trimmed = text.trim();
  if (!/^\d{1,10}$/.test(trimmed)) return err(`"${text}" is not an ASN`);
  const asn = Number(trimmed);
  return asn >= 1 && asn <= 0xffffffff ? ok(asn) : err(`ASN ${asn} is out of range 1-4294967295`);
}

function parsePort(text: string | number): Result<number> {
  const port = typeof text === 'number' ? text : /^\d{1,5}$/.test(text.trim()) ? Number(text.trim()) : NaN;
  return Number.isInteger(port) && port >= 1 && port <= 65535 ? ok(port) : err(`"${text}" is not a TCP port`);
}

/** The node's own ASN from kube-router.io/node.asn; undefined when the annotation is absent. */
export function nodeAsn(node: Node): Result<number | undefined> {
  const text = annotations(node)[ANNOTATION.nodeAsn];
  if (text === undefined) return ok(undefined);
  const asn = parseAsn(text);
  return asn.ok ? asn : err(`annotation ${ANNOTATION.nodeAsn}: ${asn.error}`);
}

/** A route-reflector cluster id: a uint32 or an IPv4 address (kept as text, as gobgp accepts both). */
export function parseClusterId(text: string): Result<string> {
  const trimmed = text.trim();
  if (/^\d{1,10}$/.test(trimmed) && Number(trimmed) <= 0xffffffff) return ok(trimmed);
  if (parseIp(trimmed).ok && !trimmed.includes(':')) return ok(trimmed);
  return err(`"${text}" is not a route-reflector cluster id (uint32 or IPv4 address)`);
}

/** The rr.server / rr.client cluster id of a node, or undefined when that annotation is absent. */
export function routeReflectorId(node: Node, role: 'server' | 'client'): Result<string | undefined> {
  const key = role === 'server' ? ANNOTATION.rrServer : ANNOTATION.rrClient;
  const text = annotations(node)[key];
  if (text === undefined) return ok(undefined);
  const id = parseClusterId(text);
  return id.ok ? id : err(`annotation ${key}: ${id.error}`);
}

function parseYamlPeer(entry: unknown, index: number): Result<AnnotatedPeer> {
  const where = `annotation ${ANNOTATION.peers} entry ${index}`;
  if (typeof entry !== 'object' || entry === null) return err(`${where}: not a mapping`);
  const e = entry as Record<string, unknown>;
  const ip = typeof e['remoteip'] === 'string' ? e['remoteip'].trim() : '';
  if (!isIp(ip)) return err(`${where}: remoteip is required and must be an IP address`);
  if (e['remoteasn'] === undefined) return err(`${where}: remoteasn is required`);
  const asn = parseAsn(String(e['remoteasn']));
  if (!asn.ok) return err(`${where}: remoteasn: ${asn.error}`);
  const peer: AnnotatedPeer = { ip, asn: asn.value };
  if (e['localip'] !== undefined) {
    const localIp = String(e['localip']).trim();
    if (!isIp(localIp)) return err(`${where}: localip "${localIp}" is not an IP address`);
    peer.localIp = localIp;
  }
  if (e['password'] !== undefined) {
    const password = decodeStrictBase64(String(e['password']));
    if (!password.ok) return err(`${where}: password: ${password.error}`);
    peer.password = password.value;
  }
  if (e['port'] !== undefined) {
    const port = parsePort(typeof e['port'] === 'number' ? e['port'] : String(e['port']));
    if (!port.ok) return err(`${where}: port: ${port.error}`);
    peer.port = port.value;
  }
  const bfd = e['bfd'];
  if (typeof bfd === 'object' && bfd !== null && (bfd as Record<string, unknown>)['enabled'] === true) peer.bfdEnabled = true;
  return ok(peer);
}

function parseCsvPeers(a: Record<string, string>): Result<AnnotatedPeer[]> {
  const ips = csv(a[ANNOTATION.peerIps] ?? '');
  const asns = csv(a[ANNOTATION.peerAsns] ?? '');
  if (ips.length !== asns.length) return err(`annotations ${ANNOTATION.peerIps} and ${ANNOTATION.peerAsns} have different lengths`);
  const optional = (key: string): Result<string[] | undefined> => {
    if (a[key] === undefined) return ok(undefined);
    const list = csv(a[key]);
    return list.length === ips.length ? ok(list) : err(`annotation ${key} must have one entry per peer IP (${ips.length})`);
  };
  const passwords = optional(ANNOTATION.peerPasswords);
  const localIps = optional(ANNOTATION.peerLocalIps);
  const ports = optional(ANNOTATION.peerPorts);
  for (const r of [passwords, localIps, ports]) if (!r.ok) return r;
  const peers: AnnotatedPeer[] = [];
  for (const [i, ip] of ips.entries()) {
    if (!isIp(ip)) return err(`annotation ${ANNOTATION.peerIps}: "${ip}" is not an IP address`);
    const asn = parseAsn(asns[i] ?? '');
    if (!asn.ok) return err(`annotation ${ANNOTATION.peerAsns}: ${asn.error}`);
    const peer: AnnotatedPeer = { ip, asn: asn.value };
    const password = passwords.ok ? passwords.value?.[i] : undefined;
    if (password !== undefined) {
      const decoded = decodeStrictBase64(password);
      if (!decoded.ok) return err(`annotation ${ANNOTATION.peerPasswords}: entry ${i}: ${decoded.error}`);
      peer.password = decoded.value;
    }
    const localIp = localIps.ok ? localIps.value?.[i] : undefined;
    if (localIp !== undefined) {
      if (!isIp(localIp)) return err(`annotation ${ANNOTATION.peerLocalIps}: "${localIp}" is not an IP address`);
      peer.localIp = localIp;
    }
    const port = ports.ok ? ports.value?.[i] : undefined;
    if (port !== undefined) {
      const parsed = parsePort(port);
      if (!parsed.ok) return err(`annotation ${ANNOTATION.peerPorts}: ${parsed.error}`);
      peer.port = parsed.value;
    }
    peers.push(peer);
  }
  return ok(peers);
}

/** Per-node external peers: kube-router.io/peers (YAML) when present, else the deprecated peer.* CSV annotations. */
export function nodeExternalPeers(node: Node): Result<AnnotatedPeer[]> {
  const a = annotations(node);
  const yamlText = a[ANNOTATION.peers];
  if (yamlText === undefined) return parseCsvPeers(a);
  let doc: unknown;
  try {
    doc = parseYaml(yamlText);
  } catch (e) {
    return err(`annotation ${ANNOTATION.peers} is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return ok([]);
  if (!Array.isArray(doc)) return err(`annotation ${ANNOTATION.peers} must be a YAML list`);
  const peers: AnnotatedPeer[] = [];
  for (const [i, entry] of doc.entries()) {
    const peer = parseYamlPeer(entry, i);
    if (!peer.ok) return peer;
    peers.push(peer.value);
  }
  return ok(peers);
}

/** Communities added towards external peers, canonical 'a:b' text. */
export function nodeCommunities(node: Node): Result<string[]> {
  const text = annotations(node)[ANNOTATION.communities];
  if (text === undefined) return ok([]);
  const parsed = parseCommunities(csv(text));
  return parsed.ok ? ok(parsed.value.map(formatCommunity)) : err(`annotation ${ANNOTATION.communities}: ${parsed.error}`);
}

/** AS-path prepend towards external peers; both annotations are required together. */
export function nodePathPrepend(node: Node): Result<{ asn: number; repeat: number } | undefined> {
  const a = annotations(node);
  const asText = a[ANNOTATION.pathPrependAs];
  const repeatText = a[ANNOTATION.pathPrependRepeat];
  if (asText === undefined && repeatText === undefined) return ok(undefined);
  if (asText === undefined || repeatText === undefined) {
    return err(`annotations ${ANNOTATION.pathPrependAs} and ${ANNOTATION.pathPrependRepeat} must be set together`);
  }
  const asn = parseAsn(asText);
  if (!asn.ok) return err(`annotation ${ANNOTATION.pathPrependAs}: ${asn.error}`);
  const repeat = /^\d{1,3}$/.test(repeatText.trim()) ? Number(repeatText.trim()) : NaN;
  if (!(repeat >= 0 && repeat <= 255)) return err(`annotation ${ANNOTATION.pathPrependRepeat}: "${repeatText}" is not a count 0-255`);
  // Upstream accepts 0 (a uint8); prepending an ASN zero times is no prepend at all.
  return ok(repeat === 0 ? undefined : { asn: asn.value, repeat });
}

/** Prefixes rejected on import from every peer (each matches its own length up to a host route). */
export function nodeCustomImportRejects(node: Node): Result<string[]> {
  const text = annotations(node)[ANNOTATION.customImportReject];
  if (text === undefined) return ok([]);
  const cidrs = csv(text);
  const bad = cidrs.find((c) => !isCidr(c));
  return bad === undefined ? ok(cidrs) : err(`annotation ${ANNOTATION.customImportReject}: "${bad}" is not a CIDR`);
}

/** BGP listen addresses from kube-router.io/bgp-local-addresses; undefined when absent. */
export function nodeBgpLocalAddresses(node: Node): Result<string[] | undefined> {
  const text = annotations(node)[ANNOTATION.bgpLocalAddresses];
  if (text === undefined) return ok(undefined);
  const ips = csv(text);
  const bad = ips.find((ip) => !isIp(ip));
  return bad === undefined ? ok(ips) : err(`annotation ${ANNOTATION.bgpLocalAddresses}: "${bad}" is not an IP address`);
}
