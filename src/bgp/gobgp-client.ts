// BgpSpeaker implemented over gobgpd's gRPC API (gobgp 3.10, protos loaded at run time): unary calls with deadlines,
// server streams collected into arrays, and a self-healing WatchEvent subscription.
import { logger } from '../observe/log.ts';
import {
  BgpError, type AddressFamily, type BestPathEvent, type BgpResult, type BgpSpeaker, type DefinedSet, type DefinedSetKind, type GlobalConfig,
  type Path, type PeerConfig, type PeerStatus, type Policy, type PolicyAssignment, type PolicyDirection, type Watch, type WatchHandlers,
} from './speaker.ts';
import type { ApiDefinedSet, ApiDestination, ApiPeer, ApiPolicy, ApiPolicyAssignment } from './gobgp-api-types.ts';
import { createGobgpRawClient, type GobgpRawClient } from './gobgp-proto.ts';
import { bestPathFromApi, familyToApi, globalToApi, pathToApi, peerFromApi, peerToApi } from './gobgp-messages.ts';
import {
  assignmentFromApi, definedSetDelta, definedSetFromApi, definedSetToApi, definedTypeToApi, GLOBAL_ASSIGNMENT, globalAssignmentToApi,
  policyFromApi, policyToApi,
} from './gobgp-policy-messages.ts';
import { watchGobgp, type WatchRetry } from './gobgp-watch.ts';
import { SecretScrubber } from './gobgpd-log.ts';
import type { Result } from '../result.ts';

const log = logger('bgp');

const INVALID_ARGUMENT = 3;

export interface GobgpSpeakerOptions {
  /** grpc target of gobgpd's API, e.g. GobgpdSupervisor.apiTarget. */
  target: string;
  /** Deadline of each call (default 10 s). */
  callTimeoutMs?: number;
  protoDir?: string;
  /** Shared with the supervisor so passwords we configure never reach the log through gobgpd either. */
  scrubber?: SecretScrubber;
  watchRetry?: WatchRetry;
}

function invalid<T>(operation: string, parsed: Result<T>): BgpResult<T> {
  return parsed.ok ? parsed : { ok: false, error: new BgpError(operation, INVALID_ARGUMENT, 'INVALID_ARGUMENT', parsed.error) };
}

function done(result: BgpResult<unknown>): BgpResult<void> {
  return result.ok ? { ok: true, value: undefined } : result;
}

/** Connects (lazily: grpc dials on first call) to a gobgpd API. Fails only if the protos cannot be loaded. */
export function connectGobgp(opts: GobgpSpeakerOptions): Result<GobgpSpeaker> {
  const scrubber = opts.scrubber ?? new SecretScrubber();
  const raw = createGobgpRawClient({ target: opts.target, ...(opts.protoDir ? { protoDir: opts.protoDir } : {}), scrub: (s) => scrubber.scrub(s) });
  if (!raw.ok) return raw;
  return { ok: true, value: new GobgpSpeaker(raw.value, scrubber, opts.callTimeoutMs ?? 10_000, opts.watchRetry) };
}

export class GobgpSpeaker implements BgpSpeaker {
  private readonly watches = new Set<Watch>();

  constructor(
    private readonly api: GobgpRawClient,
    private readonly scrubber: SecretScrubber,
    private readonly timeoutMs: number,
    private readonly watchRetry?: WatchRetry,
  ) {}

  private call<Res = unknown>(method: string, request: unknown): Promise<BgpResult<Res>> {
    return this.api.unary<unknown, Res>(method, request, this.timeoutMs);
  }

  private list<Res>(method: string, request: unknown): Promise<BgpResult<Res[]>> {
    return this.api.stream<unknown, Res>(method, request, this.timeoutMs);
  }

  async start(global: GlobalConfig): Promise<BgpResult<void>> {
    log.info({ asn: global.asn, routerId: global.routerId, listen: global.listenAddresses, port: global.listenPort }, 'starting BGP');
    return done(await this.call('startBgp', { global: globalToApi(global) }));
  }

  async stop(): Promise<BgpResult<void>> {
    return done(await this.call('stopBgp', {}));
  }

  async addPeer(peer: PeerConfig): Promise<BgpResult<void>> {
    const api = invalid('addPeer', peerToApi(peer));
    if (!api.ok) return api;
    this.scrubber.add(peer.authPassword);
    return done(await this.call('addPeer', { peer: api.value }));
  }

  async updatePeer(peer: PeerConfig): Promise<BgpResult<void>> {
    const api = invalid('updatePeer', peerToApi(peer));
    if (!api.ok) return api;
    this.scrubber.add(peer.authPassword);
    return done(await this.call('updatePeer', { peer: api.value, doSoftResetIn: true }));
  }

  async deletePeer(address: string): Promise<BgpResult<void>> {
    return done(await this.call('deletePeer', { address }));
  }

  async listPeers(): Promise<BgpResult<PeerStatus[]>> {
    const res = await this.list<{ peer?: ApiPeer }>('listPeer', { enableAdvertised: true });
    if (!res.ok) return res;
    const nowSec = Date.now() / 1000;
    return { ok: true, value: res.value.flatMap((r) => (r.peer ? [peerFromApi(r.peer, nowSec)] : [])) };
  }

  async softResetPeer(address: string, direction: 'in' | 'out' | 'both'): Promise<BgpResult<void>> {
    return done(await this.call('resetPeer', { address, soft: true, direction: direction.toUpperCase() }));
  }

  async addPath(path: Path): Promise<BgpResult<void>> {
    const api = invalid('addPath', pathToApi(path));
    if (!api.ok) return api;
    return done(await this.call('addPath', { tableType: 'GLOBAL', path: api.value }));
  }

  async deletePath(path: Path): Promise<BgpResult<void>> {
    const api = invalid('deletePath', pathToApi(path));
    if (!api.ok) return api;
    return done(await this.call('deletePath', { tableType: 'GLOBAL', family: api.value.family, path: api.value }));
  }

  async listBestPaths(family: AddressFamily): Promise<BgpResult<BestPathEvent[]>> {
    const res = await this.list<{ destination?: ApiDestination }>('listPath', { tableType: 'GLOBAL', family: familyToApi(family) });
    if (!res.ok) return res;
    const best: BestPathEvent[] = [];
    for (const { destination } of res.value) {
      for (const p of destination?.paths ?? []) {
        const event = p.best ? bestPathFromApi(p) : undefined;
        if (event) best.push(event);
      }
    }
    return { ok: true, value: best };
  }

  watch(handlers: WatchHandlers): Watch {
    const w = watchGobgp(this.api, handlers, this.watchRetry);
    this.watches.add(w);
    return { close: () => { this.watches.delete(w); w.close(); } };
  }

  async addDefinedSet(set: DefinedSet): Promise<BgpResult<void>> {
    const api = invalid('addDefinedSet', definedSetToApi(set));
    if (!api.ok) return api;
    return done(await this.call('addDefinedSet', { definedSet: api.value }));
  }

  async replaceDefinedSet(set: DefinedSet): Promise<BgpResult<void>> {
    const desired = invalid('replaceDefinedSet', definedSetToApi(set));
    if (!desired.ok) return desired;
    const existing = await this.list<{ definedSet?: ApiDefinedSet }>('listDefinedSet', { definedType: desired.value.definedType, name: set.name });
    if (!existing.ok) return existing;
    const current = existing.value.map((r) => r.definedSet).find((d) => d?.name === set.name);
    if (!current) return done(await this.call('addDefinedSet', { definedSet: desired.value }));
    const delta = definedSetDelta(current, desired.value);
    if (delta.add) {
      const added = await this.call('addDefinedSet', { definedSet: delta.add });
      if (!added.ok) return added;
    }
    if (delta.remove) return done(await this.call('deleteDefinedSet', { definedSet: delta.remove, all: false }));
    return { ok: true, value: undefined };
  }

  async deleteDefinedSet(kind: DefinedSetKind, name: string): Promise<BgpResult<void>> {
    return done(await this.call('deleteDefinedSet', { definedSet: { definedType: definedTypeToApi(kind), name }, all: true }));
  }

  async listDefinedSets(kind: DefinedSetKind): Promise<BgpResult<DefinedSet[]>> {
    const res = await this.list<{ definedSet?: ApiDefinedSet }>('listDefinedSet', { definedType: definedTypeToApi(kind) });
    if (!res.ok) return res;
    return { ok: true, value: res.value.flatMap((r) => { const s = r.definedSet && definedSetFromApi(r.definedSet, kind); return s ? [s] : []; }) };
  }

  async addPolicy(policy: Policy): Promise<BgpResult<void>> {
    const api = invalid('addPolicy', policyToApi(policy));
    if (!api.ok) return api;
    return done(await this.call('addPolicy', { policy: api.value, referExistingStatements: false }));
  }

  async deletePolicy(name: string): Promise<BgpResult<void>> {
    return done(await this.call('deletePolicy', { policy: { name }, preserveStatements: false, all: true }));
  }

  async listPolicies(): Promise<BgpResult<Policy[]>> {
    const res = await this.list<{ policy?: ApiPolicy }>('listPolicy', {});
    if (!res.ok) return res;
    return { ok: true, value: res.value.flatMap((r) => (r.policy ? [policyFromApi(r.policy)] : [])) };
  }

  async setGlobalPolicy(direction: PolicyDirection, assignment: PolicyAssignment): Promise<BgpResult<void>> {
    return done(await this.call('setPolicyAssignment', { assignment: globalAssignmentToApi(direction, assignment) }));
  }

  async getGlobalPolicy(direction: PolicyDirection): Promise<BgpResult<PolicyAssignment>> {
    const apiDirection = direction === 'import' ? 'IMPORT' : 'EXPORT';
    const res = await this.list<{ assignment?: ApiPolicyAssignment }>('listPolicyAssignment', { name: GLOBAL_ASSIGNMENT, direction: apiDirection });
    if (!res.ok) return res;
    return { ok: true, value: assignmentFromApi(res.value.map((r) => r.assignment).find((a) => a?.direction === apiDirection)) };
  }

  /** Closes the client and every watch opened through it. */
  close(): void {
    for (const w of this.watches) w.close();
    this.watches.clear();
    this.api.close();
  }
}
