// The raw-tools side of the proxy bench: the state the proxy planned, written by the tools an administrator would
// use (one `ipvsadm -R`, one `ip -batch` for the dummy link, its addresses and their local routes, and the very
// ipset/iptables restores the proxy ran), timed in a fresh namespace; and reading a namespace's state back.
import { DUMMY_LINK } from '../src/controllers/proxy/apply-addresses.ts';
import type { ProxyState } from '../src/controllers/proxy/plan-state.ts';
import { processExec } from '../src/kernel/exec.ts';
import type { TestNetns } from '../test/helpers/netns.ts';
import { NODE_IP } from './proxy-cluster.ts';
import type { ExecRecord } from './proxy-counters.ts';

export interface RawState {
  ipvsadmRestore: string;
  ipBatch: string;
  /** The proxy's own ipset/iptables restore runs, replayed as they were. */
  netfilterRestores: ExecRecord[];
}

export interface RawTimes {
  ipvsMs: number;
  addressesMs: number;
  netfilterMs: number;
  totalMs: number;
}

const isRestore = (r: ExecRecord): boolean => r.tool.endsWith('-restore') || (r.tool === 'ipset' && r.args.includes('restore'));

/** The planned state as tool input (only what the bench's plain ClusterIP Services use: rr, no flags, no persistence). */
export function rawStateOf(state: ProxyState, netfilterRuns: readonly ExecRecord[]): RawState {
  const ipvs: string[] = [];
  for (const vs of state.virtualServices()) {
    if (vs.family !== 'ipv4' || vs.schedulerFlags.length > 0 || vs.persistenceSeconds !== undefined) throw new Error(`raw rendering does not cover ${vs.key}`);
    const proto = { TCP: '-t', UDP: '-u', SCTP: '--sctp-service' }[vs.protocol];
    const front = `${proto} ${vs.address}:${vs.port}`;
    ipvs.push(`-A ${front} -s ${vs.scheduler}`);
    for (const d of vs.destinations) ipvs.push(`-a ${front} -r ${d.address}:${d.port} -m -w ${d.weight}`);
  }
  const ip = [`link add ${DUMMY_LINK} type dummy`, `link set ${DUMMY_LINK} up`];
  for (const a of state.addresses()) {
    ip.push(`address add ${a}/32 dev ${DUMMY_LINK} scope link nodad`);
    ip.push(`route replace local ${a}/32 dev ${DUMMY_LINK} table local proto kernel scope host src ${NODE_IP}`);
  }
  return { ipvsadmRestore: ipvs.join('\n') + '\n', ipBatch: ip.join('\n') + '\n', netfilterRestores: netfilterRuns.filter(isRestore) };
}

/** Writes the raw state into `ns` with one process per tool (run through the same exec layer as the proxy's). */
export async function rawFullSync(ns: TestNetns, raw: RawState, timeoutMs: number): Promise<RawTimes> {
  const exec = processExec(ns.name);
  const timed = async (tool: string, args: readonly string[], input: string): Promise<number> => {
    const t = performance.now();
    const r = await exec.run(tool, args, { input, timeoutMs });
    const ms = performance.now() - t;
    if (!r.ok) throw new Error(`raw ${r.error.message}`);
    return ms;
  };
  const ipvsMs = await timed('ipvsadm', ['-R'], raw.ipvsadmRestore);
  const addressesMs = await timed('ip', ['-batch', '-'], raw.ipBatch);
  let netfilterMs = 0;
  for (const r of raw.netfilterRestores) netfilterMs += await timed(r.tool, r.args, r.input ?? '');
  const back = await readBack(ns);
  const lines = raw.ipvsadmRestore.split('\n');
  const wantServices = lines.filter((l) => l.startsWith('-A ')).length;
  const wantDestinations = lines.filter((l) => l.startsWith('-a ')).length;
  if (back.services !== wantServices || back.destinations !== wantDestinations) throw new Error(`ipvsadm -R programmed ${back.services} services, ${back.destinations} destinations`);
  return { ipvsMs, addressesMs, netfilterMs, totalMs: ipvsMs + addressesMs + netfilterMs };
}

/** What a namespace holds, read with the tools (independently of the code under test); `ipvsadm -Sn` timed. */
export async function readBack(ns: TestNetns): Promise<{ services: number; destinations: number; addresses: number; ipvsadmSaveMs: number }> {
  const exec = processExec(ns.name);
  const t = performance.now();
  const saved = await exec.run('ipvsadm', ['-S', '-n'], { timeoutMs: 600_000 });
  const ipvsadmSaveMs = performance.now() - t;
  if (!saved.ok) throw new Error(saved.error.message);
  const addrs = await exec.run('ip', ['-o', '-4', 'address', 'show', 'dev', DUMMY_LINK], { timeoutMs: 600_000 });
  if (!addrs.ok) throw new Error(addrs.error.message);
  const lines = saved.value.split('\n');
  return {
    services: lines.filter((l) => l.startsWith('-A ')).length,
    destinations: lines.filter((l) => l.startsWith('-a ')).length,
    addresses: addrs.value.split('\n').filter((l) => l.includes(' inet ')).length,
    ipvsadmSaveMs,
  };
}
