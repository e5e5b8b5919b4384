// Pure planning of this node's BGP identity (ASN, router id, listen addresses, route-reflector role) and of the
// BGP peers it should have: the iBGP mesh (or same-ASN / route-reflector subsets) and the external peers.
import type { Node } from 'kubernetes-types/core/v1.js';
import type { Options } from '../../cli/options.ts';
import type { AddressFamily, PeerConfig } from '../../bgp/speaker.ts';
import { bestNodeIP, primaryNodeIP } from '../../kube/node-identity.ts';
import { err, ok, type Result } from '../../result.ts';
import { nodeAsn, nodeBgpLocalAddresses, nodeExternalPeers, routeReflectorId, type AnnotatedPeer } from './annotations.ts';
import { familyOf } from '../../net/cidr.ts';
import { enabledFamilies, type LocalBgp, type Problem } from './model.ts';

export type PeerOptions = Pick<Options,
  'clusterAsn' | 'nodesFullMesh' | 'enableIbgp' | 'bgpPort' | 'routerId' | 'bgpGracefulRestart' | 'bgpGracefulRestartTimeMs' |
  'bgpGracefulRestartDeferralTimeMs' | 'bgpHoldTimeMs' | 'externalPeers' | 'peerRouterMultihopTtl' | 'enableIpv4' | 'enableIpv6'>;

export interface PlannedPeer {
  config: PeerConfig;
  kind: 'internal' | 'external';
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
export function planLocalBgp(self: Node, options: PeerOptions): Result<LocalBgp> {
  const name = self.metadata?.name ?? '?';
  const primary = primaryNodeIP(self);
  if (!primary.ok) return primary;
  const own = nodeAsn(self);
  if (!own.ok) return err(`node ${name}: ${own.error}`);
  let asn = options.clusterAsn;
  if (!options.nodesFullMesh) {
    if (own.value === undefined) return err(`node ${name}: --nodes-full-mesh=false needs the annotation kube-router.io/node.asn on this node`);
    asn = own.value;
  }
  let routerId = options.routerId;
  const ipv4 = bestNodeIP(self, 4);
  const ipv6 = bestNodeIP(self, 6);
  if (routerId === 'generate') routerId = uint32ToIpv4(fnv32a(primary.value));
  else if (routerId === '') {
    if (ipv4 === undefined) return err(`node ${name} has no IPv4 address: set --router-id (an IPv4 address or "generate")`);
    routerId = ipv4;
  }
  const listen = nodeBgpLocalAddresses(self);
  if (!listen.ok) return err(`node ${name}: ${listen.error}`);
  const server = routeReflectorId(self, 'server');
  const client = routeReflectorId(self, 'client');
  if (!server.ok) return err(`node ${name}: ${server.error}`);
  if (!client.ok) return err(`node ${name}: ${client.error}`);
  const families = enabledFamilies(options);
  const best = [families.includes('ipv4') ? ipv4 : undefined, families.includes('ipv6') ? ipv6 : undefined].filter((ip): ip is string => !!ip);
  const local: LocalBgp = { asn, routerId, listenAddresses: listen.value ?? best, primaryIp: primary.value };
  if (ipv4 !== undefined && families.includes('ipv4')) local.ipv4 = ipv4;
  if (ipv6 !== undefined && families.includes('ipv6')) local.ipv6 = ipv6;
  if (server.value !== undefined) local.rrServerClusterId = server.value;
  if (client.value !== undefined) local.rrClientClusterId = client.value;
  return ok(local);
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

function internalPeers(self: Node, nodes: readonly Node[], local: LocalBgp, options: PeerOptions, plan: PeerPlan): void {
  const selfName = self.metadata?.name;
  const ownFamily = familyOf(local.primaryIp);
  for (const node of nodes) {
    if (node.metadata?.name === selfName) continue;
    const primary = primaryNodeIP(node);
    if (!primary.ok) continue; // a node without addresses yet: nothing to peer with
    if (familyOf(primary.value) !== ownFamily) continue;
    const server = routeReflectorId(node, 'server');
    const client = routeReflectorId(node, 'client');
    if (!server.ok || !client.ok) {
      plan.problems.push({ subject: node, reason: 'BadRouteReflectorAnnotation', message: (!server.ok ? server : client as { error: string }).error });
      continue;
    }
    // A route-reflector client talks only to route-reflector servers.
    if (local.rrClientClusterId !== undefined && server.value === undefined) continue;
    let peerAsn = 0; // full mesh: accept the ASN the peer's OPEN carries, as upstream (its PeerAsn is 0)
    if (!options.nodesFullMesh) {
      const asn = nodeAsn(node);
      if (!asn.ok) {
        plan.problems.push({ subject: node, reason: 'BadNodeAsn', message: asn.error });
        continue;
      }
      if (asn.value !== local.asn) continue;
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
    if (local.rrServerClusterId !== undefined && client.value !== undefined) {
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

/** The peers this node should have, given every Node. Bad annotations on other nodes skip only those nodes. */
export function planPeers(self: Node, nodes: readonly Node[], local: LocalBgp, options: PeerOptions): PeerPlan {
  const plan: PeerPlan = { peers: new Map(), problems: [] };
  if (options.enableIbgp) internalPeers(self, nodes, local, options, plan);
  let external: AnnotatedPeer[] = [];
  if (options.externalPeers.length > 0) {
    // Global peers from the flags take precedence over the node's annotations.
    external = options.externalPeers.map((p) => ({ ip: p.ip, asn: p.asn, port: p.port, ...(p.password ? { password: p.password } : {}) }));
  } else {
    const annotated = nodeExternalPeers(self);
    if (annotated.ok) external = annotated.value;
    else plan.problems.push({ subject: self, reason: 'BadPeerAnnotation', message: annotated.error });
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
