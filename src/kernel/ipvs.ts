// The door to the kernel's IPVS table for the service proxy: the `Ipvs` interface (also implemented in memory by
// test/helpers/fake-ipvs.ts) and its implementation over a generic-netlink socket, optionally in another netns.
import { type Result, err, ok } from '../result.ts';
import { NetlinkError, errnoName, type NetlinkMessage } from './netlink/codec.ts';
import { openGenl, resolveFamily } from './netlink/genl.ts';
import {
  IPVS_GENL_NAME, decodeConfig, decodeDestinationMessage, decodeInfo, decodeServiceMessage, encodeGetConfig,
  encodeGetDestinations, encodeGetInfo, encodeGetService, encodeIpvsOps, encodeSetConfig, type IpvsDestination,
  type IpvsDestinationKey, type IpvsDestinationSpec, type IpvsInfo, type IpvsOp, type IpvsService, type IpvsServiceKey,
  type IpvsServiceSpec, type IpvsTimeouts,
} from './netlink/ipvs.ts';
import type { BatchOptions, NetlinkSocket } from './netlink/socket.ts';

export * from './netlink/ipvs.ts';

/** What the kernel refused, as its errno (EEXIST, ENOENT, ESRCH, EINVAL, ...); never parsed from text. */
export interface IpvsError {
  errno: number;
  /** The errno's name, e.g. 'EEXIST'. */
  code: string;
}

export type IpvsResult<T> = Result<T, IpvsError>;

export interface IpvsOpFailure {
  /** Position of the refused change in the list given to apply(). */
  index: number;
  op: IpvsOp;
  error: IpvsError;
}

/** The outcome of a batch: the kernel carries on after a refused change, so each one has its own. */
export interface IpvsApplyResult {
  applied: number;
  failures: IpvsOpFailure[];
}

export interface Ipvs {
  info(): Promise<IpvsResult<IpvsInfo>>;
  /** Every service in the namespace, kube-router's or not: callers decide what they own. */
  listServices(): Promise<IpvsResult<IpvsService[]>>;
  /** ESRCH when the kernel has no such service. */
  getService(key: IpvsServiceKey): Promise<IpvsResult<IpvsService>>;
  /** EEXIST if present; ENOENT for an unknown scheduler or persistence engine; EINVAL for a bad IPv6 netmask. */
  addService(service: IpvsServiceSpec): Promise<IpvsResult<void>>;
  /** Replaces scheduler, flags, timeout, netmask and persistence engine; ESRCH if absent. */
  updateService(service: IpvsServiceSpec): Promise<IpvsResult<void>>;
  /** Deletes the service and its destinations; ESRCH if absent. */
  deleteService(key: IpvsServiceKey): Promise<IpvsResult<void>>;
  /** As the kernel dumps them; a service that does not exist has none (the kernel reports no error). */
  listDestinations(service: IpvsServiceKey): Promise<IpvsResult<IpvsDestination[]>>;
  /**
   * ESRCH without the service, EEXIST if present, ERANGE for a weight above 2^31-1 or a lower threshold above the
   * upper, EINVAL for a non-unicast address or another family than the service's unless forwarding is 'tunnel'.
   */
  addDestination(service: IpvsServiceKey, destination: IpvsDestinationSpec): Promise<IpvsResult<void>>;
  /** Same checks as add; ENOENT if the destination is absent. */
  updateDestination(service: IpvsServiceKey, destination: IpvsDestinationSpec): Promise<IpvsResult<void>>;
  /** ESRCH without the service, ENOENT without the destination. */
  deleteDestination(service: IpvsServiceKey, destination: IpvsDestinationKey): Promise<IpvsResult<void>>;
  getTimeouts(): Promise<IpvsResult<IpvsTimeouts>>;
  /** A timeout left out or 0 keeps its value (the proxy's --service-*-timeout 0s means "leave the kernel's"). */
  setTimeouts(timeouts: Partial<IpvsTimeouts>): Promise<IpvsResult<void>>;
  /**
   * Many changes, in order, written to the kernel in as few sendtos as fit before their acknowledgements are read;
   * a refused change does not stop the rest. An error result means the socket itself failed (a timeout): an
   * unknown part of the list was applied, so the caller observes again.
   */
  apply(ops: readonly IpvsOp[]): Promise<IpvsResult<IpvsApplyResult>>;
  close(): Promise<void>;
}

export interface OpenIpvsOptions {
  /** A netns file (/run/netns/x): program that namespace's IPVS table. */
  netns?: string;
  timeoutMs?: number;
  /** Chunking of apply() batches (bytes and messages per sendto). */
  batch?: BatchOptions;
}

const EPROTO = 71;
const EPROTONOSUPPORT = 93;

/** An errno-carrying failure as an IpvsError; anything else is a bug and is rethrown. */
export function toIpvsError(e: unknown): IpvsError {
  if (e instanceof NetlinkError) return { errno: e.errno, code: e.code };
  const errno = e instanceof Error ? (e as Error & { errno?: unknown }).errno : undefined;
  if (typeof errno === 'number') return { errno, code: errnoName(errno) };
  throw e;
}

export function ipvsError(errno: number): IpvsError {
  return { errno, code: errnoName(errno) };
}

/**
 * Opens a generic-netlink socket and resolves the IPVS family. EPROTONOSUPPORT when this kernel has no IPVS
 * (the ip_vs module is not loaded); the socket's errno when the namespace cannot be entered.
 */
export async function openIpvs(opts: OpenIpvsOptions = {}): Promise<IpvsResult<Ipvs>> {
  let sock: NetlinkSocket;
  try {
    sock = openGenl({ ...(opts.netns ? { netns: opts.netns } : {}), ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}) });
  } catch (e) {
    return err(toIpvsError(e));
  }
  try {
    const family = await resolveFamily(sock, IPVS_GENL_NAME);
    if (!family) {
      await sock.close();
      return err(ipvsError(EPROTONOSUPPORT));
    }
    return ok(new NetlinkIpvs(sock, family.id, opts.batch ?? {}));
  } catch (e) {
    await sock.close();
    return err(toIpvsError(e));
  }
}

/** Runs one socket operation, turning kernel refusals and socket failures into an IpvsError. */
async function attempt<T>(run: () => Promise<T>): Promise<IpvsResult<T>> {
  try {
    return ok(await run());
  } catch (e) {
    return err(toIpvsError(e));
  }
}

class NetlinkIpvs implements Ipvs {
  constructor(private readonly sock: NetlinkSocket, private readonly familyId: number, private readonly batchOpts: BatchOptions) {}

  info(): Promise<IpvsResult<IpvsInfo>> {
    return this.single(encodeGetInfo(), decodeInfo);
  }

  getTimeouts(): Promise<IpvsResult<IpvsTimeouts>> {
    return this.single(encodeGetConfig(), decodeConfig);
  }

  getService(key: IpvsServiceKey): Promise<IpvsResult<IpvsService>> {
    return this.single(encodeGetService(key), decodeServiceMessage);
  }

  listServices(): Promise<IpvsResult<IpvsService[]>> {
    return attempt(async () => {
      const replies = await this.sock.dump(this.familyId, encodeGetService());
      return replies.map(decodeServiceMessage).filter((s): s is IpvsService => s !== undefined);
    });
  }

  listDestinations(service: IpvsServiceKey): Promise<IpvsResult<IpvsDestination[]>> {
    return attempt(async () => {
      const replies = await this.sock.dump(this.familyId, encodeGetDestinations(service));
      return replies.map((m) => decodeDestinationMessage(m, service.family)).filter((d): d is IpvsDestination => d !== undefined);
    });
  }

  addService(service: IpvsServiceSpec): Promise<IpvsResult<void>> {
    return this.one({ op: 'add-service', service });
  }

  updateService(service: IpvsServiceSpec): Promise<IpvsResult<void>> {
    return this.one({ op: 'update-service', service });
  }

  deleteService(service: IpvsServiceKey): Promise<IpvsResult<void>> {
    return this.one({ op: 'delete-service', service });
  }

  addDestination(service: IpvsServiceKey, destination: IpvsDestinationSpec): Promise<IpvsResult<void>> {
    return this.one({ op: 'add-destination', service, destination });
  }

  updateDestination(service: IpvsServiceKey, destination: IpvsDestinationSpec): Promise<IpvsResult<void>> {
    return this.one({ op: 'update-destination', service, destination });
  }

  deleteDestination(service: IpvsServiceKey, destination: IpvsDestinationKey): Promise<IpvsResult<void>> {
    return this.one({ op: 'delete-destination', service, destination });
  }

  async setTimeouts(timeouts: Partial<IpvsTimeouts>): Promise<IpvsResult<void>> {
    const m = encodeSetConfig(this.familyId, timeouts);
    const r = await attempt(() => this.sock.request(m.type, m.flags, m.payload));
    return r.ok ? ok(undefined) : r;
  }

  apply(ops: readonly IpvsOp[]): Promise<IpvsResult<IpvsApplyResult>> {
    return attempt(async () => {
      const { acked, errors } = await this.sock.batch(encodeIpvsOps(this.familyId, ops), this.batchOpts);
      const failures = errors.map((e) => ({ index: e.index, op: ops[e.index] as IpvsOp, error: toIpvsError(e) }));
      return { applied: acked, failures };
    });
  }

  close(): Promise<void> {
    return this.sock.close();
  }

  private async one(op: IpvsOp): Promise<IpvsResult<void>> {
    const r = await this.apply([op]);
    if (!r.ok) return r;
    const failure = r.value.failures[0];
    return failure ? err(failure.error) : ok(undefined);
  }

  /** A GET request answered by one message, decoded; EPROTO when the reply is not what the command returns. */
  private async single<T>(payload: Buffer, decode: (m: NetlinkMessage) => T | undefined): Promise<IpvsResult<T>> {
    const r = await attempt(() => this.sock.request(this.familyId, 0, payload));
    if (!r.ok) return r;
    for (const m of r.value) {
      const v = decode(m);
      if (v !== undefined) return ok(v);
    }
    return err(ipvsError(EPROTO));
  }
}
