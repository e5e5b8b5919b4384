// Hand-written TypeScript shapes of the gobgp v3 API messages we send and read (only the fields we use).
//
// They describe the JSON form produced by @grpc/proto-loader with { json: true, longs: String, enums: String }:
// camelCase field names, enums as their names, 64-bit integers as strings, google.protobuf.Any as an object with
// '@type': 'type.googleapis.com/apipb.<Message>' plus the message's fields. Fields left out take proto3 defaults.

export const ANY_PREFIX = 'type.googleapis.com/apipb.';

export interface ApiFamily {
  afi: 'AFI_IP' | 'AFI_IP6';
  safi: 'SAFI_UNICAST';
}

export interface ApiGracefulRestart {
  enabled?: boolean;
  restartTime?: number;
  deferralTime?: number;
  localRestarting?: boolean;
}

export interface ApiGlobal {
  asn: number;
  routerId: string;
  listenPort: number;
  listenAddresses: string[];
  gracefulRestart?: ApiGracefulRestart;
}

export interface ApiAfiSafi {
  config?: { family: ApiFamily; enabled: boolean };
  mpGracefulRestart?: { config: { enabled: boolean } };
  state?: { family?: ApiFamily; received?: string; accepted?: string; advertised?: string };
}

export type ApiSessionState = 'UNKNOWN' | 'IDLE' | 'CONNECT' | 'ACTIVE' | 'OPENSENT' | 'OPENCONFIRM' | 'ESTABLISHED';

export interface ApiTimestamp {
  seconds?: string;
  nanos?: number;
}

export interface ApiPeer {
  conf?: {
    neighborAddress?: string;
    peerAsn?: number;
    authPassword?: string;
    description?: string;
  };
  timers?: {
    config?: { connectRetry?: number; holdTime?: number; keepaliveInterval?: number };
    state?: { uptime?: ApiTimestamp };
  };
  transport?: { localAddress?: string; remotePort?: number; passiveMode?: boolean };
  ebgpMultihop?: { enabled: boolean; multihopTtl: number };
  routeReflector?: { routeReflectorClient: boolean; routeReflectorClusterId?: string };
  gracefulRestart?: ApiGracefulRestart;
  afiSafis?: ApiAfiSafi[];
  state?: {
    neighborAddress?: string;
    peerAsn?: number;
    type?: 'INTERNAL' | 'EXTERNAL';
    sessionState?: ApiSessionState;
    adminState?: 'UP' | 'DOWN' | 'PFX_CT';
  };
}

/** google.protobuf.Any as proto-loader renders it. */
export interface ApiAny {
  '@type': string;
  [field: string]: unknown;
}

export interface ApiIpAddressPrefix extends ApiAny {
  prefixLen: number;
  prefix: string;
}

export interface ApiPath {
  family: ApiFamily;
  nlri: ApiAny;
  pattrs: ApiAny[];
  isWithdraw?: boolean;
  best?: boolean;
  neighborIp?: string;
  sourceAsn?: number;
}

export interface ApiDestination {
  prefix: string;
  paths?: ApiPath[];
}

export type ApiDefinedType = 'PREFIX' | 'NEIGHBOR' | 'COMMUNITY';

export interface ApiPrefix {
  ipPrefix: string;
  /** Left out of responses when 0. */
  maskLengthMin?: number;
  maskLengthMax?: number;
}

export interface ApiDefinedSet {
  /** Absent on responses for PREFIX, the zero value. */
  definedType?: ApiDefinedType;
  name: string;
  list?: string[];
  prefixes?: ApiPrefix[];
}

export type ApiMatchType = 'ANY' | 'ALL' | 'INVERT';

export interface ApiMatchSet {
  type: ApiMatchType;
  name: string;
}

export interface ApiConditions {
  prefixSet?: ApiMatchSet;
  neighborSet?: ApiMatchSet;
  communitySet?: ApiMatchSet;
}

export type ApiRouteAction = 'NONE' | 'ACCEPT' | 'REJECT';

export interface ApiActions {
  routeAction: ApiRouteAction;
  community?: { type: 'ADD'; communities: string[] };
  asPrepend?: { asn: number; repeat: number };
  nexthop?: { self: boolean };
}

export interface ApiStatement {
  name: string;
  conditions?: ApiConditions;
  actions?: ApiActions;
}

export interface ApiPolicy {
  name: string;
  statements?: ApiStatement[];
}

export type ApiPolicyDirection = 'IMPORT' | 'EXPORT';

export interface ApiPolicyAssignment {
  name: string;
  direction: ApiPolicyDirection;
  policies?: { name: string }[];
  defaultAction: ApiRouteAction;
}

export interface ApiWatchEventResponse {
  peer?: { type?: 'UNKNOWN' | 'INIT' | 'END_OF_INIT' | 'STATE'; peer?: ApiPeer };
  table?: { paths?: ApiPath[] };
}
