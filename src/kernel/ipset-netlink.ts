// The operations of kernel/ipset.ts (create, replace through a temporary set, add, del, destroy) written over
// a NETLINK_NETFILTER socket instead of through `ipset -exist restore`, with the same meaning: creating an
// existing set of the same type, adding a present member, deleting an absent one and destroying an absent set
// are no-ops. Messages are sent in bounded windows as the operations are produced (a big state is never held
// whole), and the kernel works through each window on the addon's thread, not on our event loop.
import { err, ok, type Result } from '../result.ts';
import { tmpSetName, type IpsetEntry, type IpsetOp, type IpsetSpec } from './ipset.ts';
import {
  IPSET_ENOENT, ipsetCreateMessage, ipsetDestroyMessage, ipsetEntriesMessages, ipsetSwapMessage, ipsetTypeQuery, typeRevisionOf,
} from './netlink/ipset.ts';
import type { NetlinkSocket, RequestMessage } from './netlink/socket.ts';

/** Bytes of messages sent per window. */
const WINDOW_BYTES = 1024 * 1024;

interface Pending {
  message: RequestMessage;
  /** Destroying a set that may not exist: ENOENT is success. */
  absentOk?: boolean;
  /** What the message does, for the error. */
  what: string;
}

// The highest revision of each set type the kernel has, per socket (a kernel answers the same each time).
const revisions = new WeakMap<NetlinkSocket, Map<string, number>>();
const typeKey = (spec: Pick<IpsetSpec, 'type' | 'family'>): string => `${spec.type}/${spec.family}`;

/**
 * The newest revisions `ipset` 7.x (Debian's) knows: a set is created at most at these, so the node's ipset
 * can still list and save it when the kernel has a newer revision than its userspace.
 */
const USERSPACE_REVISION: Readonly<Record<string, number>> = { 'hash:ip': 6, 'hash:net': 7 };

async function learnRevision(socket: NetlinkSocket, known: Map<string, number>, spec: Pick<IpsetSpec, 'type' | 'family'>): Promise<void> {
  const q = ipsetTypeQuery(spec.type, spec.family);
  const rev = typeRevisionOf(await socket.request(q.type, q.flags, q.payload));
  if (rev === undefined) throw new Error(`ipset: the kernel did not say which revisions of ${spec.type} it has`);
  known.set(typeKey(spec), Math.min(rev, USERSPACE_REVISION[spec.type] ?? rev));
}

/**
 * hashsize from the creation options (the only one the controllers pass): undefined when there are none, null
 * for options not written over netlink (the caller then uses the tool).
 */
function hashsizeOf(spec: IpsetSpec): number | undefined | null {
  const o = spec.options ?? [];
  if (o.length === 0) return undefined;
  return o.length === 2 && o[0] === 'hashsize' && /^\d+$/.test(o[1] ?? '') ? Number(o[1]) : null;
}

/**
 * The revisions of these set types (spec.type / spec.family) the kernel behind the socket has, asked once per
 * socket: with them, setCreationMessages encodes without waiting.
 */
export async function typeRevisions(socket: NetlinkSocket, specs: readonly Pick<IpsetSpec, 'type' | 'family'>[]): Promise<ReadonlyMap<string, number>> {
  let known = revisions.get(socket);
  if (!known) revisions.set(socket, (known = new Map()));
  for (const spec of specs) if (!known.has(typeKey(spec))) await learnRevision(socket, known, spec);
  return known;
}

/**
 * The messages creating one set and adding its members, as `create` writes them; null when the type's revision
 * is not in `known` or the creation options are not ones written over netlink.
 */
export function setCreationMessages(spec: IpsetSpec, members: Iterable<IpsetEntry>, known: ReadonlyMap<string, number>): RequestMessage[] | null {
  const revision = known.get(typeKey(spec));
  const hashsize = hashsizeOf(spec);
  if (revision === undefined || hashsize === null) return null;
  return [
    ipsetCreateMessage({ name: spec.name, type: spec.type, family: spec.family, revision, ...(hashsize !== undefined ? { hashsize } : {}) }),
    ...ipsetEntriesMessages(spec.name, spec.family, 'add', members),
  ];
}

/** A type whose revision must be asked of the kernel before the generator can go on. */
interface NeedRevision {
  need: IpsetSpec;
}

/**
 * The messages of the operations, in order, produced synchronously (a generator per message costs more than
 * the encoding); when a creation needs a revision not known yet it yields a NeedRevision first, and reads the
 * answer from `known` when resumed. Consecutive add (or del) operations on one set become one entries list,
 * as ipset restore batches them; the family of such a change comes from the set's name (inet6:).
 */
function* pendingOf(known: ReadonlyMap<string, number>, ops: Iterable<IpsetOp>): Generator<Pending | NeedRevision> {
  function* create(name: string, spec: IpsetSpec, members: Iterable<IpsetEntry>): Generator<Pending | NeedRevision> {
    const hashsize = hashsizeOf(spec);
    // Caught by writeIpsetOps' caller, which writes the same operations with ipset restore.
    if (hashsize === null) throw new Error(`ipset: creation options ${(spec.options ?? []).join(' ')} are not written over netlink`);
    if (!known.has(typeKey(spec))) yield { need: spec };
    const revision = known.get(typeKey(spec)) as number;
    yield { message: ipsetCreateMessage({ name, type: spec.type, family: spec.family, revision, ...(hashsize !== undefined ? { hashsize } : {}) }), what: `create ${name}` };
    for (const message of ipsetEntriesMessages(name, spec.family, 'add', members)) yield { message, what: `add to ${name}` };
  }
  let run: { op: 'add' | 'del'; set: string; entries: IpsetEntry[] } | null = null;
  function* flush(): Generator<Pending> {
    if (!run) return;
    const r = run;
    run = null;
    for (const message of ipsetEntriesMessages(r.set, r.set.startsWith('inet6:') ? 6 : 4, r.op, r.entries)) yield { message, what: `${r.op} in ${r.set}` };
  }
  for (const op of ops) {
    if (op.op === 'add' || op.op === 'del') {
      if (run && (run.op !== op.op || run.set !== op.set)) yield* flush();
      if (!run) run = { op: op.op, set: op.set, entries: [] };
      run.entries.push(op.op === 'add' ? op.entry : { entry: op.entry });
      continue;
    }
    yield* flush();
    switch (op.op) {
      case 'create':
        yield* create(op.set.name, op.set, op.members ?? []);
        break;
      case 'replace': {
        const tmp = tmpSetName(op.set.name);
        yield { message: ipsetDestroyMessage(tmp), absentOk: true, what: `destroy ${tmp}` };
        yield* create(tmp, op.set, op.members);
        yield { message: ipsetSwapMessage(tmp, op.set.name), what: `swap ${tmp} ${op.set.name}` };
        yield { message: ipsetDestroyMessage(tmp), what: `destroy ${tmp}` };
        break;
      }
      case 'destroy':
        yield { message: ipsetDestroyMessage(op.set), absentOk: true, what: `destroy ${op.set}` };
        yield { message: ipsetDestroyMessage(tmpSetName(op.set)), absentOk: true, what: `destroy ${tmpSetName(op.set)}` };
        break;
    }
  }
  yield* flush();
}

/**
 * Writes the operations in order over the socket. Stops after the first window with a refused message and
 * says which operation it was; the messages before it are applied and later ones of its window may be (the
 * kernel goes on after a refusal). The caller then repeats the whole with `ipset -exist restore`, which is
 * safe after any such partial run: every operation is idempotent and none removes what a rule uses.
 * ok(messages sent).
 */
export async function writeIpsetOps(socket: NetlinkSocket, ops: Iterable<IpsetOp>): Promise<Result<number>> {
  let window: Pending[] = [];
  let bytes = 0;
  let sent = 0;
  const send = async (): Promise<Result<void>> => {
    const batch = window;
    window = [];
    bytes = 0;
    if (batch.length === 0) return ok(undefined);
    const r = await socket.batch(batch.map((p) => p.message));
    sent += batch.length;
    const refused = r.errors.find((e) => !(batch[e.index]?.absentOk && e.errno === IPSET_ENOENT));
    return refused ? err(`ipset over netlink: ${batch[refused.index]?.what ?? 'a message'} refused: ${refused.message}`) : ok(undefined);
  };
  let known = revisions.get(socket);
  if (!known) revisions.set(socket, (known = new Map()));
  try {
    for (const p of pendingOf(known, ops)) {
      if ('need' in p) {
        await learnRevision(socket, known, p.need);
        continue;
      }
      window.push(p);
      bytes += p.message.payload.length + 16;
      if (bytes >= WINDOW_BYTES) {
        const r = await send();
        if (!r.ok) return r;
      }
    }
    const r = await send();
    return r.ok ? ok(sent) : r;
  } catch (e) {
    return err(`ipset over netlink: ${e instanceof Error ? e.message : String(e)}`);
  }
}
