// The lab's pod runtime (the kubelet's container-runtime side): a pod is a network namespace wired by the
// node's CNI conflist plus one agent process answering on its container ports. hostNetwork pods get no
// namespace of their own; their agent listens in the node's namespace. A warm agent (pool.ts), when one is
// kept, becomes the pod's namespace. Each pod is recorded on disk so later CLI invocations find it.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { logger } from '../../src/observe/log.ts';
import { ipBatch, killNetnsProcesses, killPids, listNetns, netnsExists, pidsInNetns, run } from '../netns/exec.ts';
import { deleteNetwork, readNetwork, networkNamespaces, type LabNetwork } from '../netns/network.ts';
import { labPaths, readJson, removeFile, removeLabDir, writeJson, type LabPaths } from '../netns/state.ts';
import type { LabNode } from '../netns/topology.ts';
import { agentSocketPath, startAgent, stopAgent, stopNamespaceAgent, type AgentPort } from './agents.ts';
import { assignWarmAgent, stopWarmAgents, takeWarmAgent, warmAgents } from './pool.ts';
import { cniAdd, cniDel, defaultConflist, readConflist, resultAddresses, type CniAttachment, type CniConflist, type CniEnvironment } from './cni.ts';

const log = logger('lab/pods');

/** Which lab: its namespace prefix and (optionally) where its state lives. */
export interface LabRef {
  prefix: string;
  stateRoot?: string;
}

export interface PodSpec {
  /** Node name (= node namespace, e.g. `<prefix>-n1`). */
  node: string;
  namespace: string;
  name: string;
  uid: string;
  requestedIp?: string;
  hostNetwork?: boolean;
  ports: AgentPort[];
  /** Conflist to run (kube-router's per-node file); default: bridge + host-local for the node's pod CIDR. */
  conflistFile?: string;
}

export interface PodRecord extends PodSpec {
  /** File name of the record; equals the namespace name for pods with their own namespace. */
  key: string;
  /** Namespace the pod's processes live in (the node's for hostNetwork pods). */
  netns: string;
  containerId: string;
  podIPs: string[];
  agentPid: number;
  agentSocket: string;
  skippedPorts: (AgentPort & { reason: string })[];
  conflistFile?: string;
  createdAt: string;
}

function podKey(spec: Pick<PodSpec, 'node' | 'namespace' | 'name' | 'uid'>): string {
  const hash = createHash('sha256').update(`${spec.namespace}/${spec.name}/${spec.uid}`).digest('hex').slice(0, 8);
  return `${spec.node}-${hash}`;
}

function recordFile(paths: LabPaths, key: string): string {
  return join(paths.pods, `${key}.json`);
}

function requireNetwork(lab: LabRef): LabNetwork {
  const network = readNetwork(lab.prefix, lab.stateRoot);
  if (!network) throw new Error(`lab ${lab.prefix} has no network; create it first`);
  return network;
}

function requireNode(network: LabNetwork, name: string): LabNode {
  const node = network.topology.nodes.find((n) => n.name === name);
  if (!node) throw new Error(`no node ${name} in lab ${network.topology.prefix}`);
  return node;
}

/** The conflist a node's pods are wired with: the given file, else the default one (written for reference). */
export function nodeConflist(paths: LabPaths, node: LabNode, conflistFile?: string): { list: CniConflist; file: string } {
  if (conflistFile) return { list: readConflist(conflistFile), file: conflistFile };
  const file = join(paths.cniConf, `${node.name}.conflist`);
  if (!existsSync(file)) writeJson(file, defaultConflist({ podCidr: node.podCidr, ipamDataDir: join(paths.ipam, node.name) }));
  return { list: readConflist(file), file };
}

function attachment(record: PodRecord): CniAttachment {
  const args: [string, string][] = [
    ['K8S_POD_NAMESPACE', record.namespace],
    ['K8S_POD_NAME', record.name],
    ['K8S_POD_INFRA_CONTAINER_ID', record.containerId],
    ['K8S_POD_UID', record.uid],
  ];
  if (record.requestedIp) args.push(['IP', record.requestedIp]);
  return { containerId: record.containerId, netnsPath: `/run/netns/${record.netns}`, ifName: 'eth0', args };
}

function cniEnv(paths: LabPaths, node: string): CniEnvironment {
  return { execNetns: node, cacheDir: paths.cniCache };
}

async function mustSucceed(argv: string[]): Promise<void> {
  const r = await run(argv);
  if (r.code !== 0) throw new Error(`${argv.join(' ')} failed: ${r.stderr.trim()}`);
}

/** Loopback up and the node's CNI chain (ADD); fills in the record's conflist and pod IPs. */
async function wirePod(paths: LabPaths, node: LabNode, record: PodRecord): Promise<void> {
  await mustSucceed(['ip', '-n', record.netns, 'link', 'set', 'lo', 'up']);
  const { list, file } = nodeConflist(paths, node, record.conflistFile);
  record.conflistFile = file;
  const added = await cniAdd(list, attachment(record), cniEnv(paths, node.netns));
  if (!added.ok) throw new Error(`CNI ADD for ${record.namespace}/${record.name} failed in plugin ${added.error.plugin}: ${added.error.msg}`);
  record.podIPs = resultAddresses(added.value);
}

/** Creates a pod and resolves once every listener is bound. Throws (after cleaning up) on failure. */
export async function createPod(lab: LabRef, spec: PodSpec): Promise<{ podIPs: string[]; netnsName: string }> {
  const started = Date.now();
  const network = requireNetwork(lab);
  const paths = network.paths;
  const node = requireNode(network, spec.node);
  const key = podKey(spec);
  if (existsSync(recordFile(paths, key))) throw new Error(`pod ${spec.namespace}/${spec.name} (${spec.uid}) already exists on ${spec.node}`);
  const netns = spec.hostNetwork ? node.netns : key;
  const record: PodRecord = {
    ...spec,
    key,
    netns,
    containerId: key,
    podIPs: spec.hostNetwork ? [node.ip] : [],
    agentPid: 0,
    agentSocket: spec.hostNetwork ? join(paths.sockets, `${key}.sock`) : agentSocketPath(paths, netns),
    skippedPorts: [],
    createdAt: new Date().toISOString(),
  };
  // recorded before anything exists, so a failed or interrupted create is still torn down
  writeJson(recordFile(paths, key), record);
  try {
    const identity = `${spec.namespace}/${spec.name}`;
    const warm = spec.hostNetwork ? undefined : takeWarmAgent(paths);
    let started: Promise<{ pid: number; skipped: PodRecord['skippedPorts'] }>;
    if (warm) {
      record.agentPid = warm.pid;
      record.agentSocket = warm.socketPath;
      writeJson(recordFile(paths, key), record);
      // the warm agent already sits in a fresh namespace: naming it makes it the pod's
      await mustSucceed(['ip', 'netns', 'attach', netns, String(warm.pid)]);
      started = assignWarmAgent(warm, identity, spec.ports).then((skipped) => ({ pid: warm.pid, skipped }));
    } else {
      if (!spec.hostNetwork) await mustSucceed(['ip', 'netns', 'add', netns]);
      // the agent's listeners bind to the wildcard address, so it starts while CNI wires eth0
      started = startAgent({ netns, socketPath: record.agentSocket, identity, ports: spec.ports, logFile: join(paths.logs, `${key}.log`) });
    }
    const [wired, agent] = await Promise.allSettled([spec.hostNetwork ? Promise.resolve() : wirePod(paths, node, record), started]);
    if (agent.status === 'fulfilled') {
      record.agentPid = agent.value.pid;
      record.skippedPorts = agent.value.skipped;
    }
    writeJson(recordFile(paths, key), record);
    if (wired.status === 'rejected') throw wired.reason;
    if (agent.status === 'rejected') throw agent.reason;
  } catch (e) {
    await deletePodRecord(paths, record);
    throw e;
  }
  for (const p of record.skippedPorts) log.warn({ pod: `${spec.namespace}/${spec.name}`, port: p.port, protocol: p.protocol }, `port not opened: ${p.reason}`);
  log.debug({ pod: `${spec.namespace}/${spec.name}`, node: spec.node, podIPs: record.podIPs, ms: Date.now() - started }, 'pod created');
  return { podIPs: record.podIPs, netnsName: netns };
}

/**
 * Kills the pod's processes, runs CNI DEL, removes its namespace and record.
 */
async function deletePodRecord(paths: LabPaths, record: PodRecord): Promise<void> {
  if (record.agentPid > 0) await stopAgent(record.agentPid);
  if (!record.hostNetwork) {
    await killNetnsProcesses(record.netns);
    const node = record.node;
    if (record.conflistFile && existsSync(record.conflistFile) && netnsExists(node)) {
      const deleted = await cniDel(readConflist(record.conflistFile), attachment(record), cniEnv(paths, node));
      if (!deleted.ok) log.warn({ pod: `${record.namespace}/${record.name}`, plugin: deleted.error.plugin, error: deleted.error.msg }, 'CNI DEL failed');
    }
    if (netnsExists(record.netns)) await mustSucceed(['ip', 'netns', 'del', record.netns]);
  }
  removeFile(record.agentSocket);
  removeFile(recordFile(paths, record.key));
}

/**
 * Keeps `count` agents started ahead of time for the next pods (the lab kubelet calls this after creating
 * pods): a pod that gets one is listening as soon as CNI is done. Resolves with how many were started.
 */
export function keepAgentsWarm(lab: LabRef, count: number): Promise<number> {
  return warmAgents(requireNetwork(lab).paths, count);
}

/** Every pod recorded in the lab. */
export function listPods(lab: LabRef): PodRecord[] {
  const paths = labPaths(lab.prefix, lab.stateRoot);
  if (!existsSync(paths.pods)) return [];
  return readdirSync(paths.pods)
    .filter((f) => f.endsWith('.json'))
    .map((f) => readJson<PodRecord>(join(paths.pods, f)))
    .filter((r): r is PodRecord => r !== undefined);
}

export function findPod(lab: LabRef, namespace: string, name: string): PodRecord | undefined {
  return listPods(lab).find((p) => p.namespace === namespace && p.name === name);
}

/** Deletes a pod by namespace/name; false when no such pod is recorded. */
export async function deletePod(lab: LabRef, pod: { namespace: string; name: string }): Promise<boolean> {
  const record = findPod(lab, pod.namespace, pod.name);
  if (!record) return false;
  await deletePodRecord(labPaths(lab.prefix, lab.stateRoot), record);
  return true;
}

/**
 * Removes everything the lab created: every agent (stopped all at once), any process left in a pod namespace,
 * the pod namespaces (one `ip -batch`; no CNI DEL: the node namespaces and IPAM data go too, so DEL would undo
 * nothing), the network and the state directory. Returns the namespaces left with the prefix (should be none).
 */
export async function teardownLab(lab: LabRef): Promise<string[]> {
  const paths = labPaths(lab.prefix, lab.stateRoot);
  const pods = listPods(lab);
  const network = readNetwork(lab.prefix, lab.stateRoot);
  await Promise.all([
    stopWarmAgents(paths),
    ...pods.filter((p) => p.agentPid > 0).map((p) => stopAgent(p.agentPid)),
    ...(network ? networkNamespaces(network.topology).map((ns) => stopNamespaceAgent(paths, ns)) : []),
  ]);
  const podNamespaces = pods.filter((p) => !p.hostNetwork).map((p) => p.netns);
  await killPids([...pidsInNetns(podNamespaces).values()].flat());
  ipBatch(undefined, podNamespaces.filter(netnsExists).map((ns) => `netns del ${ns}`));
  for (const p of pods) removeFile(recordFile(paths, p.key));
  await deleteNetwork(lab.prefix, lab.stateRoot);
  removeLabDir(paths);
  return listNetns().filter((n) => n.startsWith(`${lab.prefix}-`));
}

/**
 * Maps a CLI-style reference (`kube-router-lab exec|probe`) to a network namespace: "node/NAME" -> that
 * node's namespace, "external" -> the external client's, "NS/POD" -> the pod's (the node's for hostNetwork
 * pods), else a namespace name of the lab.
 */
export function resolveNamespace(lab: LabRef, ref: string): string {
  if (ref === 'external') {
    const external = readNetwork(lab.prefix, lab.stateRoot)?.topology.external;
    if (!external) throw new Error(`lab ${lab.prefix} has no external client`);
    return external.netns;
  }
  if (ref.startsWith('node/')) {
    const name = ref.slice('node/'.length);
    const node = readNetwork(lab.prefix, lab.stateRoot)?.topology.nodes.find((n) => n.name === name || n.netns === name);
    if (!node) throw new Error(`no node ${name} in lab ${lab.prefix}`);
    return node.netns;
  }
  const slash = ref.indexOf('/');
  if (slash > 0) {
    const pod = findPod(lab, ref.slice(0, slash), ref.slice(slash + 1));
    if (!pod) throw new Error(`no pod ${ref} in lab ${lab.prefix}`);
    return pod.netns;
  }
  if (!ref.startsWith(`${lab.prefix}-`) || !listNetns().includes(ref)) throw new Error(`no namespace ${ref} in lab ${lab.prefix}`);
  return ref;
}
