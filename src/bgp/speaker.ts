// Our BGP speaker interface: what the routing controller needs from a BGP daemon, independent of gobgp's API.
//
// The policy vocabulary (defined sets, statements, global import/export assignment with a default action) is
// the subset needed to express upstream kube-router's model: prefix sets for pod CIDRs / service VIPs / default
// route / custom import-reject, neighbor sets for iBGP / external / all peers, export statements that accept with
// optional community add, AS-path prepend and next-hop self, and an import policy that rejects by prefix set.
import type { Result } from '../result.ts';

export type AddressFamily = 'ipv4' | 'ipv6';

/** An error reported by the speaker's API, carrying the gRPC status of the failed call. */
export class BgpError extends Error {
  constructor(
    readonly operation: string,
    /** Numeric gRPC status code (grpc.status), e.g. 14 = UNAVAILABLE, 4 = DEADLINE_EXCEEDED. */
    readonly code: number,
    /** Status code name, e.g. 'UNAVAILABLE'. */
    readonly codeName: string,
    readonly details: string,
  ) {
    super(`${operation}: ${codeName}: ${details}`);
    this.name = 'BgpError';
  }
}

export type BgpResult<T> = Result<T, BgpError>;

export interface GracefulRestartConfig {
  restartTimeSec: number;
  deferralTimeSec?: number;
  /** Set the restart-state (R) bit: we are coming back from a restart, peers should keep our routes. */
  localRestarting?: boolean;
}

export interface GlobalConfig {
  asn: number;
  routerId: string;
  listenAddresses: string[];
  /** BGP TCP listen port; -1 disables listening (outgoing sessions only). */
  listenPort: number;
  gracefulRestart?: GracefulRestartConfig;
}

export interface PeerConfig {
  neighborAddress: string;
  /** 0 = accept whatever ASN the peer's OPEN carries (upstream's full-mesh iBGP uses this). */
  peerAsn: number;
  localAddress?: string;
  remotePort?: number;
  /** TCP MD5 (RFC 2385) key. Never logged. */
  authPassword?: string;
  holdTimeSec?: number;
  keepaliveSec?: number;
  connectRetrySec?: number;
  /** eBGP multihop TTL; multihop is enabled when this is set (upstream: when ttl > 1). */
  multihopTtl?: number;
  routeReflectorClient?: boolean;
  /** Route-reflector cluster id (dotted quad or uint32 as a string). */
  clusterId?: string;
  gracefulRestart?: GracefulRestartConfig;
  families: AddressFamily[];
  /** Never open the TCP connection ourselves; only accept it. */
  passive?: boolean;
  description?: string;
}

export type SessionState = 'unknown' | 'idle' | 'connect' | 'active' | 'opensent' | 'openconfirm' | 'established';

export interface PeerStatus {
  address: string;
  /** The configured peer ASN, or the ASN learned from OPEN once the session is up. */
  asn: number;
  /** Derived by the daemon from local vs peer ASN. */
  type: 'internal' | 'external';
  state: SessionState;
  adminDown: boolean;
  /** Seconds since the session reached Established; 0 when it is not established. */
  uptimeSec: number;
  /** Prefix counts summed over the peer's families. */
  received: number;
  accepted: number;
  advertised: number;
}

export type Origin = 'igp' | 'egp' | 'incomplete';

export interface Path {
  /** CIDR, e.g. '198.18.1.0/24' or '2001:db8::/64'. */
  prefix: string;
  nextHop: string;
  family: AddressFamily;
  origin: Origin;
  /** 'a:b', a decimal uint32, or a well-known name ('no-export', ...). */
  communities?: string[];
  /** Prepend `asn` `repeat` times to the AS path of the originated route. */
  asPathPrepend?: { asn: number; repeat: number };
}

export interface BestPathEvent {
  prefix: string;
  nextHop: string;
  family: AddressFamily;
  withdrawal: boolean;
  /** Neighbor address the path came from; '' for locally originated paths. */
  fromPeer: string;
  isLocal: boolean;
  communities: string[];
}

export interface PeerStateEvent {
  address: string;
  asn: number;
  state: SessionState;
  adminDown: boolean;
}

export interface WatchHandlers {
  onBestPath(event: BestPathEvent): void;
  onPeerState?(event: PeerStateEvent): void;
  /**
   * The event stream broke (e.g. the daemon restarted) and was re-subscribed. Forget every best path learned
   * so far: the events that follow replay the daemon's current best paths from scratch.
   */
  onResync?(): void;
}

export interface Watch {
  close(): void;
}

export interface PrefixMatch {
  /** CIDR. */
  prefix: string;
  /** Match prefixes whose length lies in [min, max]; both default to the CIDR's own length (exact match). */
  maskLengthMin?: number;
  maskLengthMax?: number;
}

export type DefinedSet =
  | { kind: 'prefix'; name: string; prefixes: PrefixMatch[] }
  /** Neighbor addresses or CIDRs; bare addresses mean /32 or /128. */
  | { kind: 'neighbor'; name: string; neighbors: string[] }
  /** Community values or regular expressions over 'a:b' strings (gobgp's community-set semantics). */
  | { kind: 'community'; name: string; communities: string[] };

export type DefinedSetKind = DefinedSet['kind'];

export type SetMatch = 'any' | 'all' | 'invert';

export interface StatementConditions {
  prefixSet?: { name: string; match?: SetMatch };
  neighborSet?: { name: string; match?: SetMatch };
  communitySet?: { name: string; match?: SetMatch };
}

export type RouteAction = 'accept' | 'reject' | 'none';

export interface StatementActions {
  route: RouteAction;
  addCommunities?: string[];
  asPathPrepend?: { asn: number; repeat: number };
  nextHopSelf?: boolean;
}

export interface Statement {
  name: string;
  conditions: StatementConditions;
  actions: StatementActions;
}

export interface Policy {
  name: string;
  statements: Statement[];
}

export type PolicyDirection = 'import' | 'export';

export interface PolicyAssignment {
  /** Policy names, evaluated in order. */
  policies: string[];
  /** What happens to a route no statement accepted or rejected. */
  defaultAction: 'accept' | 'reject';
}

export interface BgpSpeaker {
  start(global: GlobalConfig): Promise<BgpResult<void>>;
  /** Stops BGP (cease to every peer). */
  stop(): Promise<BgpResult<void>>;
  addPeer(peer: PeerConfig): Promise<BgpResult<void>>;
  updatePeer(peer: PeerConfig): Promise<BgpResult<void>>;
  deletePeer(address: string): Promise<BgpResult<void>>;
  listPeers(): Promise<BgpResult<PeerStatus[]>>;
  /** Re-evaluates policies for a peer without tearing the session down (after a policy change). */
  softResetPeer(address: string, direction: 'in' | 'out' | 'both'): Promise<BgpResult<void>>;
  addPath(path: Path): Promise<BgpResult<void>>;
  deletePath(path: Path): Promise<BgpResult<void>>;
  /** Best paths of the global RIB for one family. */
  listBestPaths(family: AddressFamily): Promise<BgpResult<BestPathEvent[]>>;
  watch(handlers: WatchHandlers): Watch;
  /** Adds the set, or adds its elements to an existing set of that name. */
  addDefinedSet(set: DefinedSet): Promise<BgpResult<void>>;
  /** Makes the named set hold exactly these elements (adds the missing, removes the extra). */
  replaceDefinedSet(set: DefinedSet): Promise<BgpResult<void>>;
  /** Deletes the whole set; fails while a policy refers to it. */
  deleteDefinedSet(kind: DefinedSetKind, name: string): Promise<BgpResult<void>>;
  listDefinedSets(kind: DefinedSetKind): Promise<BgpResult<DefinedSet[]>>;
  addPolicy(policy: Policy): Promise<BgpResult<void>>;
  /** Deletes the policy and its statements; fails while it is assigned. */
  deletePolicy(name: string): Promise<BgpResult<void>>;
  listPolicies(): Promise<BgpResult<Policy[]>>;
  /** Replaces the global import or export assignment. */
  setGlobalPolicy(direction: PolicyDirection, assignment: PolicyAssignment): Promise<BgpResult<void>>;
  getGlobalPolicy(direction: PolicyDirection): Promise<BgpResult<PolicyAssignment>>;
  /** Releases the client side (channels, streams); does not touch the daemon. */
  close(): void;
}
