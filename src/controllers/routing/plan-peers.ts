// Pure planning of this node's BGP identity (ASN, router id, listen addresses, route-reflector role) and of the
// BGP peers it should have: the iBGP mesh (or same-ASN / route-reflector subsets) and the external peers. Node
// annotations go through LastGoodSettings: a bad one is a Problem and keeps its last valid value (or the default).
import type { Node } from 'kubernetes-types/core/v1.js';
import type { AddressFamily, PeerConfig } from '../../bgp/speaker.ts';
import { bestNodeIP, primaryNodeIP } from '../../kube/node-identity.ts';
import { err, ok, type Result } from '../../result.ts';
import { ANNOTATION, nodeAsn, nodeBgpLocalAddresses, nodeExternalPeers, routeReflectorId, type AnnotatedPeer } from './annotations.ts';
import { familyOf } from '../../net/cidr.ts';
import type { RoutingConfig } from './config.ts';
import type { LastGoodSettings } from './last-good.ts';
import { enabledFamilies, type LocalBgp, type Problem } from './model.ts';

export type PeerOptions = Pick<RoutingConfig,
  'clusterAsn' | 'nodesFullMesh' | 'enableIbgp' | 'bgpPort' | 'routerId' | 'bgpGracefulRestart' | 'bgpGracefulRestartTimeMs' |
  'bgpGracefulRestartDeferralTimeMs' | 'bgpHoldTimeMs' | 'externalPeers' | 'peerRouterMultihopTtl' | 'enableIpv4' | 'enableIpv6'>;

export interface PlannedPeer {
  config: PeerConfig;
  kind: 'internal' | 'external';
}

export interface LocalPlan {
  local: LocalBgp;
  /** Bad annotations on this node (each disabled only its own setting). */
  problems: Problem[];
}

export interface PeerPlan {
  /** Keyed by neighbor address. */
  peers: Map<string, PlannedPeer>;
  problems: Problem[];
}

/** FNV-1a (32 bit) of the text, as upstream's `--router-id=generate` hashes the primary IP. */
export function fnv32a(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

function uint32ToIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 0xff).join('.');
}

/** This node's ASN, router id, listen addresses and route-reflector role; an error stops BGP from starting. */
export function planLocalBgp(self: Node, options: PeerOptions, lastGood: LastGoodSettings): Result<LocalPlan> {
  const name = self.metadata?.name ?? '?';
  const primary = primaryNodeIP(self);
  if (!primary.ok) return primary;
  const problems: Problem[] = [];
  let asn = options.clusterAsn;
  // As upstream, node.asn is read only without full mesh; in full mesh it is ignored whatever its value.
  if (!options.nodesFullMesh) {
    const parsed = nodeAsn(self);
    const own = lastGood.settle(self, ANNOTATION.nodeAsn, parsed, undefined, 'BadNodeAsn', problems);
    if (own === undefined) {
      const why = parsed.ok ? '' : ` (${parsed.error})`;
      return err(`node ${name}: --nodes-full-mesh=false needs the annotation ${ANNOTATION.nodeAsn} on this node${why}`);
    }
    asn = own;
  }
  let routerId = options.routerId;
  const ipv4 = bestNodeIP(self, 4);
  const ipv6 = bestNodeIP(self, 6);
  if (routerId === 'generate') routerId = uint32ToIpv4(fnv32a(primary.value));
  else if (routerId === '') {
    if (ipv4 === undefined) return err(`node ${name} has no IPv4 address: set --router-id (an IPv4 address or "generate")`);
    routerId = ipv4;
  }
  const listen = lastGood.settle(self, ANNOTATION.bgpLocalAddresses, nodeBgpLocalAddresses(self), undefined, 'BadBgpLocalAddresses', problems);
  const { server, client } = routeReflectorRole(self, lastGood, problems);
  const families = enabledFamilies(options);
  const best = [families.includes('ipv4') ? ipv4 : undefined, families.includes('ipv6') ? ipv6 : undefined].filter((ip): ip is string => !!ip);
  const local: LocalBgp = { asn, routerId, listenAddresses: listen ?? best, primaryIp: primary.value };
  if (ipv4 !== undefined && families.includes('ipv4')) local.ipv4 = ipv4;
  if (ipv6 !== undefined && families.includes('ipv6')) local.ipv6 = ipv6;
  if (server !== undefined) local.rrServerClusterId = server;
  if (client !== undefined) local.rrClientClusterId = client;
  return ok({ local, problems });
}

/** A node's rr.server / rr.client cluster ids (undefined: not in that role). */
function routeReflectorRole(node: Node, lastGood: LastGoodSettings, problems: Problem[]): { server?: string; client?: string } {
  const reason = 'BadRouteReflectorAnnotation';
  return {
    server: lastGood.settle(node, ANNOTATION.rrServer, routeReflectorId(node, 'server'), undefined, reason, problems),
    client: lastGood.settle(node, ANNOTATION.rrClient, routeReflectorId(node, 'client'), undefined, reason, problems),
  };
}

function gracefulRestart(options: PeerOptions): PeerConfig['gracefulRestart'] | undefined {
  if (!options.bgpGracefulRestart) return undefined;
  return {
    restartTimeSec: Math.round(options.bgpGracefulRestartTimeMs / 1000),
    deferralTimeSec: Math.round(options.bgpGracefulRestartDeferralTimeMs / 1000),
  };
}

function nodeFamilies(node: Node, options: PeerOptions): AddressFamily[] {
  return enabledFamilies(options).filter((f) => bestNodeIP(node, f === 'ipv4' ? 4 : 6) !== undefined);
}

function internalPeers(self: Node, nodes: readonly Node[], local: LocalBgp, options: PeerOptions, lastGood: LastGoodSettings, plan: PeerPlan): void {
  const selfName = self.metadata?.name;
  const ownFamily = familyOf(local.primaryIp);
  for (const node of nodes) {
    if (node.metadata?.name === selfName) continue;
    const primary = primaryNodeIP(node);
    if (!primary.ok) continue; // a node without addresses yet: nothing to peer with
    if (familyOf(primary.value) !== ownFamily) continue;
    const { server, client } = routeReflectorRole(node, lastGood, plan.problems);
    // A route-reflector client talks only to route-reflector servers.
    if (local.rrClientClusterId !== undefined && server === undefined) continue;
    let peerAsn = 0; // full mesh: accept the ASN the peer's OPEN carries, as upstream (its PeerAsn is 0)
    if (!options.nodesFullMesh) {
      // No valid ASN ever: the node is in no ASN, so no same-ASN peer.
      const asn = lastGood.settle(node, ANNOTATION.nodeAsn, nodeAsn(node), undefined, 'BadNodeAsn', plan.problems);
      if (asn !== local.asn) continue;
      peerAsn = local.asn;
    }
    const config: PeerConfig = {
      neighborAddress: primary.value,
      peerAsn,
      localAddress: local.primaryIp,
      remotePort: options.bgpPort,
      families: nodeFamilies(node, options),
      description: node.metadata?.name ?? '',
    };
    const gr = gracefulRestart(options);
    if (gr) config.gracefulRestart = gr;
    if (local.rrServerClusterId !== undefined && client !== undefined) {
      config.routeReflectorClient = true;
      config.clusterId = local.rrServerClusterId;
    }
    plan.peers.set(config.neighborAddress, { config, kind: 'internal' });
  }
}

function externalPeerConfig(peer: AnnotatedPeer, local: LocalBgp, options: PeerOptions, localFamilies: AddressFamily[]): PeerConfig {
  const config: PeerConfig = {
    neighborAddress: peer.ip,
    peerAsn: peer.asn,
    localAddress: peer.localIp ?? local.primaryIp,
    remotePort: peer.port ?? options.bgpPort,
    holdTimeSec: Math.round(options.bgpHoldTimeMs / 1000),
    families: localFamilies,
  };
  if (peer.password) config.authPassword = peer.password;
  if (options.peerRouterMultihopTtl > 1) config.multihopTtl = options.peerRouterMultihopTtl;
  const gr = gracefulRestart(options);
  if (gr) config.gracefulRestart = gr;
  return config;
}

/** The peers this node should have, given every Node. A bad annotation disables only its own setting. */
export function planPeers(self: Node, nodes: readonly Node[], local: LocalBgp, options: PeerOptions, lastGood: LastGoodSettings): PeerPlan {
  const plan: PeerPlan = { peers: new Map(), problems: [] };
  if (options.enableIbgp) internalPeers(self, nodes, local, options, lastGood, plan);
  let external: AnnotatedPeer[] = [];
  if (options.externalPeers.length > 0) {
    // Global peers from the flags take precedence over the node's annotations.
    external = options.externalPeers.map((p) => ({ ip: p.ip, asn: p.asn, port: p.port, ...(p.password ? { password: p.password } : {}) }));
  } else {
    // One setting, whether from kube-router.io/peers or the peer.* CSV annotations: a bad edit keeps the last valid set.
    external = lastGood.settle(self, ANNOTATION.peers, nodeExternalPeers(self), [], 'BadPeerAnnotation', plan.problems);
  }
  const localFamilies = nodeFamilies(self, options);
  for (const peer of external) {
    const config = externalPeerConfig(peer, local, options, localFamilies);
    if (familyOf(config.neighborAddress) !== familyOf(config.localAddress ?? '')) {
      plan.problems.push({
        subject: self, reason: 'PeerFamilyMismatch',
        message: `external peer ${peer.ip} is skipped: its family differs from the local address ${config.localAddress}`,
      });
      continue;
    }
    plan.peers.set(config.neighborAddress, { config, kind: 'external' });
  }
  return plan;
}
