// Creates, lists and removes the lab's kernel network: an underlay namespace with bridges, node namespaces
// attached by veth pairs (both ends created inside lab namespaces, never in the host's), optional static
// pod-CIDR routes and an optional external client. What it creates is recorded in network.json first, so
// teardown removes exactly that.
import { existsSync } from 'node:fs';
import { logger } from '../../src/observe/log.ts';
import { execIn, ipBatch, killPids, listNetns, pidsInNetns } from './exec.ts';
import { ensureLabDirs, labPaths, readJson, removeFile, writeJson, type LabPaths } from './state.ts';
import { ipv4Cidr, planTopology, type LabTopology, type TopologyOptions } from './topology.ts';

const log = logger('lab/netns');

export interface LabNetwork {
  topology: LabTopology;
  paths: LabPaths;
  createdAt: string;
}

export interface CreateNetworkOptions extends TopologyOptions {
  /** Parent directory of the per-prefix state directory (default /run/krt-lab). */
  stateRoot?: string;
}

/** All namespaces a topology consists of (underlay first, the external client last). */
export function networkNamespaces(topology: LabTopology): string[] {
  return [...routerNamespaces(topology), ...(topology.external ? [topology.external.netns] : [])];
}

/** The namespaces that forward packets: the underlay and the nodes (not the external client). */
function routerNamespaces(topology: LabTopology): string[] {
  return [topology.underlayNetns, ...topology.nodes.map((n) => n.netns)];
}

/** Builds the network; on any failure removes what it had created and rethrows. */
export async function createNetwork(opts: CreateNetworkOptions): Promise<LabNetwork> {
  const started = Date.now();
  const topology = planTopology(opts);
  const paths = labPaths(opts.prefix, opts.stateRoot);
  if (existsSync(paths.network)) throw new Error(`lab ${opts.prefix} already exists (${paths.network}); tear it down first`);
  const existing = new Set(listNetns());
  const clash = networkNamespaces(topology).filter((n) => existing.has(n));
  if (clash.length > 0) throw new Error(`namespaces already exist: ${clash.join(', ')}`);
  ensureLabDirs(paths);
  const network: LabNetwork = { topology, paths, createdAt: new Date().toISOString() };
  // recorded before anything exists: teardown after a half-done create removes what got made
  writeJson(paths.network, network);
  try {
    await applyTopology(topology);
  } catch (e) {
    await deleteNetwork(opts.prefix, opts.stateRoot);
    throw e;
  }
  log.info({ prefix: opts.prefix, nodes: topology.nodes.length, ms: Date.now() - started }, 'lab network created');
  return network;
}

async function applyTopology(t: LabTopology): Promise<void> {
  const host: string[] = networkNamespaces(t).map((ns) => `netns add ${ns}`);
  for (const node of [...t.nodes, ...(t.external ? [t.external] : [])]) {
    host.push(`link add ${node.underlayPort} netns ${t.underlayNetns} type veth peer name eth0 netns ${node.netns}`);
  }
  ipBatch(undefined, host);

  const underlay = ['link set lo up'];
  for (const subnet of t.subnets) {
    underlay.push(`link add ${subnet.bridge} type bridge`, `link set ${subnet.bridge} up`);
    if (subnet.gateway) underlay.push(`addr add ${subnet.gateway}/${ipv4Cidr(subnet.cidr).bits} dev ${subnet.bridge}`);
  }
  for (const node of t.nodes) {
    underlay.push(`link set ${node.underlayPort} master ${t.subnets[node.subnet]!.bridge}`, `link set ${node.underlayPort} up`);
  }
  if (t.external) underlay.push(`link set ${t.external.underlayPort} master ${t.subnets[0]!.bridge}`, `link set ${t.external.underlayPort} up`);
  for (const r of t.routes.filter((r) => r.netns === t.underlayNetns)) underlay.push(`route add ${r.dst} via ${r.via}`);
  ipBatch(t.underlayNetns, underlay);

  if (t.external) {
    const e = t.external;
    // no default route: nothing leaves the lab; only what an upstream router would send to the cluster
    ipBatch(e.netns, ['link set lo up', `addr add ${e.ip}/${ipv4Cidr(t.subnets[0]!.cidr).bits} dev eth0`, 'link set eth0 up',
      ...e.routes.map((dst) => `route add ${dst} via ${e.via}`)]);
  }

  for (const node of t.nodes) {
    const subnet = t.subnets[node.subnet]!;
    const lines = ['link set lo up', `addr add ${node.ip}/${ipv4Cidr(subnet.cidr).bits} dev eth0`, 'link set eth0 up'];
    // nodes on different underlay subnets reach each other through the underlay namespace
    for (const other of t.subnets) if (other !== subnet && subnet.gateway) lines.push(`route add ${other.cidr} via ${subnet.gateway}`);
    for (const r of t.routes.filter((r) => r.netns === node.netns)) lines.push(`route add ${r.dst} via ${r.via}`);
    ipBatch(node.netns, lines);
  }
  // sysctls are per namespace: one small shell per namespace. The external client ignores ICMP redirects, so
  // its traffic keeps going through the node its routes name (that node forwards on the interface it came in by).
  const sysctls = [
    ...routerNamespaces(t).map((ns) => ({ ns, script: 'echo 1 > /proc/sys/net/ipv4/ip_forward' })),
    ...(t.external ? [{ ns: t.external.netns, script: 'for c in all eth0; do echo 0 > /proc/sys/net/ipv4/conf/$c/accept_redirects; done' }] : []),
  ];
  await Promise.all(
    sysctls.map(async ({ ns, script }) => {
      const r = await execIn(ns, ['sh', '-c', script]);
      if (r.code !== 0) throw new Error(`setting sysctls in ${ns} failed: ${r.stderr}`);
    }),
  );
}

/** Reads the recorded network of a lab, or undefined when none was created. */
export function readNetwork(prefix: string, stateRoot?: string): LabNetwork | undefined {
  return readJson<LabNetwork>(labPaths(prefix, stateRoot).network);
}

/**
 * Removes the recorded namespaces (killing any process still inside them first) and the record.
 * Pods must be deleted before (lab/pods/runtime.ts teardownLab does both). Returns the namespaces removed.
 */
export async function deleteNetwork(prefix: string, stateRoot?: string): Promise<string[]> {
  const paths = labPaths(prefix, stateRoot);
  const network = readJson<LabNetwork>(paths.network);
  if (!network) return [];
  const present = new Set(listNetns());
  const removed = networkNamespaces(network.topology).filter((ns) => present.has(ns));
  const left = [...pidsInNetns(removed).entries()].filter(([, pids]) => pids.length > 0);
  if (left.length > 0) log.info({ processes: Object.fromEntries(left) }, 'killing processes left in lab namespaces');
  await killPids(left.flatMap(([, pids]) => pids));
  ipBatch(undefined, removed.map((ns) => `netns del ${ns}`));
  removeFile(paths.network);
  log.info({ prefix, removed: removed.length }, 'lab network deleted');
  return removed;
}

export interface NetworkListing {
  network?: LabNetwork;
  /** Recorded namespaces that exist. */
  present: string[];
  /** Recorded namespaces that are gone. */
  missing: string[];
  /** Namespaces named `<prefix>-*` that exist, recorded or not (pods included). */
  withPrefix: string[];
}

/** What of a lab exists in the kernel, compared with what was recorded. */
export function listNetwork(prefix: string, stateRoot?: string): NetworkListing {
  const network = readNetwork(prefix, stateRoot);
  const all = listNetns();
  const exists = new Set(all);
  const recorded = network ? networkNamespaces(network.topology) : [];
  return {
    ...(network ? { network } : {}),
    present: recorded.filter((n) => exists.has(n)),
    missing: recorded.filter((n) => !exists.has(n)),
    withPrefix: all.filter((n) => n.startsWith(`${prefix}-`)).sort(),
  };
}
