// Pure translation between our speaker types (global config, peers, paths) and gobgp v3 API JSON messages.
import { parseCidrWithIp } from '../net/cidr.ts';
import { familyName, formatIp, isIp, parseIp } from '../net/ip.ts';
import type {
  AddressFamily, BestPathEvent, GlobalConfig, GracefulRestartConfig, Path, PeerConfig, PeerStateEvent, PeerStatus, SessionState,
} from './speaker.ts';
import {
  ANY_PREFIX, type ApiAny, type ApiFamily, type ApiGlobal, type ApiGracefulRestart, type ApiPath, type ApiPeer, type ApiSessionState,
} from './gobgp-api-types.ts';
import { formatCommunity, parseCommunities } from './community.ts';
import type { Result } from '../result.ts';

export const IPV4_UNICAST: ApiFamily = { afi: 'AFI_IP', safi: 'SAFI_UNICAST' };
export const IPV6_UNICAST: ApiFamily = { afi: 'AFI_IP6', safi: 'SAFI_UNICAST' };

export function familyToApi(family: AddressFamily): ApiFamily {
  return family === 'ipv4' ? IPV4_UNICAST : IPV6_UNICAST;
}

/** A prefix as gobgp's API takes it: the address text (as written, host bits kept) and the length apart. */
export interface ApiPrefixParts {
  address: string;
  length: number;
  family: AddressFamily;
}

/** Splits 'address/len' (src/net's CIDR rules) into the parts gobgp's messages carry. */
export function prefixParts(text: string): Result<ApiPrefixParts> {
  const parsed = parseCidrWithIp(text);
  if (!parsed.ok) return parsed;
  const { ip, cidr } = parsed.value;
  return { ok: true, value: { address: formatIp(ip), length: cidr.prefixLength, family: familyName(cidr.family) } };
}

function gracefulRestartToApi(gr: GracefulRestartConfig): ApiGracefulRestart {
  return {
    enabled: true,
    restartTime: gr.restartTimeSec,
    ...(gr.deferralTimeSec !== undefined ? { deferralTime: gr.deferralTimeSec } : {}),
    ...(gr.localRestarting ? { localRestarting: true } : {}),
  };
}

export function globalToApi(global: GlobalConfig): ApiGlobal {
  return {
    asn: global.asn,
    routerId: global.routerId,
    listenPort: global.listenPort,
    listenAddresses: [...global.listenAddresses],
    ...(global.gracefulRestart ? { gracefulRestart: gracefulRestartToApi(global.gracefulRestart) } : {}),
  };
}

export function peerToApi(peer: PeerConfig): Result<ApiPeer> {
  if (!isIp(peer.neighborAddress)) {
    return { ok: false, error: `invalid neighbor address ${JSON.stringify(peer.neighborAddress)}` };
  }
  if (peer.families.length === 0) return { ok: false, error: `peer ${peer.neighborAddress} has no address family` };
  const timers: { connectRetry?: number; holdTime?: number; keepaliveInterval?: number } = {};
  if (peer.connectRetrySec !== undefined) timers.connectRetry = peer.connectRetrySec;
  if (peer.holdTimeSec !== undefined) timers.holdTime = peer.holdTimeSec;
  if (peer.keepaliveSec !== undefined) timers.keepaliveInterval = peer.keepaliveSec;
  const transport: { localAddress?: string; remotePort?: number; passiveMode?: boolean } = {};
  if (peer.localAddress !== undefined) transport.localAddress = peer.localAddress;
  if (peer.remotePort !== undefined) transport.remotePort = peer.remotePort;
  if (peer.passive) transport.passiveMode = true;
  const api: ApiPeer = {
    conf: {
      neighborAddress: peer.neighborAddress,
      peerAsn: peer.peerAsn,
      ...(peer.authPassword ? { authPassword: peer.authPassword } : {}),
      ...(peer.description ? { description: peer.description } : {}),
    },
    afiSafis: peer.families.map((family) => ({
      config: { family: familyToApi(family), enabled: true },
      ...(peer.gracefulRestart ? { mpGracefulRestart: { config: { enabled: true } } } : {}),
    })),
  };
  if (Object.keys(timers).length > 0) api.timers = { config: timers };
  if (Object.keys(transport).length > 0) api.transport = transport;
  if (peer.multihopTtl !== undefined) api.ebgpMultihop = { enabled: true, multihopTtl: peer.multihopTtl };
  if (peer.routeReflectorClient || peer.clusterId !== undefined) {
    api.routeReflector = {
      routeReflectorClient: peer.routeReflectorClient ?? false,
      ...(peer.clusterId !== undefined ? { routeReflectorClusterId: peer.clusterId } : {}),
    };
  }
  if (peer.gracefulRestart) api.gracefulRestart = gracefulRestartToApi(peer.gracefulRestart);
  return { ok: true, value: api };
}

function sessionStateFromApi(state: ApiSessionState | undefined): SessionState {
  return (state ?? 'UNKNOWN').toLowerCase() as SessionState;
}

/** A peer as ListPeer reports it; `nowSec` is the caller's clock (seconds since the epoch) for the uptime. */
export function peerFromApi(peer: ApiPeer, nowSec: number): PeerStatus {
  const state = sessionStateFromApi(peer.state?.sessionState);
  const upSince = Number(peer.timers?.state?.uptime?.seconds ?? 0);
  let received = 0;
  let accepted = 0;
  let advertised = 0;
  for (const afiSafi of peer.afiSafis ?? []) {
    received += Number(afiSafi.state?.received ?? 0);
    accepted += Number(afiSafi.state?.accepted ?? 0);
    advertised += Number(afiSafi.state?.advertised ?? 0);
  }
  return {
    address: peer.state?.neighborAddress || peer.conf?.neighborAddress || '',
    asn: peer.state?.peerAsn || peer.conf?.peerAsn || 0,
    type: peer.state?.type === 'EXTERNAL' ? 'external' : 'internal',
    state,
    adminDown: peer.state?.adminState === 'DOWN',
    uptimeSec: state === 'established' && upSince > 0 ? Math.max(0, Math.floor(nowSec - upSince)) : 0,
    received,
    accepted,
    advertised,
  };
}

/** The peer part of a WatchEvent peer event. */
export function peerStateEventFromApi(peer: ApiPeer): PeerStateEvent {
  return {
    address: peer.state?.neighborAddress || peer.conf?.neighborAddress || '',
    asn: peer.state?.peerAsn || peer.conf?.peerAsn || 0,
    state: sessionStateFromApi(peer.state?.sessionState),
    adminDown: peer.state?.adminState === 'DOWN',
  };
}

const ORIGIN_CODE = { igp: 0, egp: 1, incomplete: 2 } as const;

export function pathToApi(path: Path): Result<ApiPath> {
  const cidr = prefixParts(path.prefix);
  if (!cidr.ok) return cidr;
  if (cidr.value.family !== path.family) return { ok: false, error: `prefix ${path.prefix} is not ${path.family}` };
  const nextHop = parseIp(path.nextHop);
  const nextHopOk = nextHop.ok && familyName(nextHop.value.family) === path.family;
  if (!nextHopOk) return { ok: false, error: `next hop ${JSON.stringify(path.nextHop)} is not ${path.family}` };
  const family = familyToApi(path.family);
  const nlri: ApiAny = { '@type': `${ANY_PREFIX}IPAddressPrefix`, prefixLen: cidr.value.length, prefix: cidr.value.address };
  const pattrs: ApiAny[] = [{ '@type': `${ANY_PREFIX}OriginAttribute`, origin: ORIGIN_CODE[path.origin] }];
  // IPv4 unicast carries its next hop in NEXT_HOP; other families in MP_REACH_NLRI (RFC 4760), as gobgp expects.
  if (path.family === 'ipv4') pattrs.push({ '@type': `${ANY_PREFIX}NextHopAttribute`, nextHop: path.nextHop });
  else pattrs.push({ '@type': `${ANY_PREFIX}MpReachNLRIAttribute`, family, nextHops: [path.nextHop], nlris: [nlri] });
  if (path.asPathPrepend && path.asPathPrepend.repeat > 0) {
    const numbers = Array.from({ length: path.asPathPrepend.repeat }, () => path.asPathPrepend!.asn);
    pattrs.push({ '@type': `${ANY_PREFIX}AsPathAttribute`, segments: [{ type: 'AS_SEQUENCE', numbers }] });
  }
  if (path.communities && path.communities.length > 0) {
    const communities = parseCommunities(path.communities);
    if (!communities.ok) return communities;
    pattrs.push({ '@type': `${ANY_PREFIX}CommunitiesAttribute`, communities: communities.value });
  }
  return { ok: true, value: { family, nlri, pattrs } };
}

function anyOf(attrs: readonly ApiAny[], message: string): ApiAny | undefined {
  return attrs.find((a) => a['@type'] === `${ANY_PREFIX}${message}`);
}

/** A best-path (or withdrawal) as WatchEvent/ListPath report it; undefined for NLRI types we do not use. */
export function bestPathFromApi(path: ApiPath): BestPathEvent | undefined {
  const nlri = path.nlri;
  if (!nlri || nlri['@type'] !== `${ANY_PREFIX}IPAddressPrefix`) return undefined;
  const family: AddressFamily = path.family?.afi === 'AFI_IP6' ? 'ipv6' : 'ipv4';
  const pattrs = path.pattrs ?? [];
  const nextHopAttr = anyOf(pattrs, 'NextHopAttribute');
  const mpReach = anyOf(pattrs, 'MpReachNLRIAttribute');
  const nextHop = typeof nextHopAttr?.['nextHop'] === 'string'
    ? nextHopAttr['nextHop']
    : Array.isArray(mpReach?.['nextHops']) && typeof mpReach['nextHops'][0] === 'string' ? mpReach['nextHops'][0] : '';
  const communitiesAttr = anyOf(pattrs, 'CommunitiesAttribute');
  const communityValues = Array.isArray(communitiesAttr?.['communities']) ? (communitiesAttr['communities'] as number[]) : [];
  // gobgp renders the source of a locally originated path as Go's nil net.IP, i.e. "<nil>".
  const neighbor = path.neighborIp ?? '';
  const isLocal = neighbor === '' || neighbor === '<nil>';
  return {
    prefix: `${String(nlri['prefix'])}/${Number(nlri['prefixLen'])}`,
    nextHop,
    family,
    withdrawal: path.isWithdraw === true,
    fromPeer: isLocal ? '' : neighbor,
    isLocal,
    communities: communityValues.map(formatCommunity),
  };
}
