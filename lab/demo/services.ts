// The demo's Service part: the ClusterIP Service "web" probed from the client pod, and a NodePort Service
// "web-nodeport" probed on the first node's address from another node and from the lab's external client. Each
// line says which pods answered and the client address they saw, so masquerading is visible too.
import { probe, type ProbeResult } from '../probe/probe.ts';
import { resolveNamespace, type LabRef } from '../pods/runtime.ts';
import { labTimeoutScale, type ClusterRecord } from '../cluster/layout.ts';
import { DEMO_NAMESPACE, nodePortServiceManifest } from './manifests.ts';

const say = (text = ''): void => { process.stdout.write(text + '\n'); };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Probes after the first answer: enough for the scheduler (rr) to show it spreads over the pods. */
const PROBES_AFTER_FIRST = 5;

export type Kubectl = (args: string[], input?: string, show?: boolean) => Promise<string>;

/** What one pod reported over repeated connections: how many it answered, and the client addresses it saw. */
export interface PodAnswers {
  count: number;
  clients: Set<string>;
}

/** What repeated connections to one address saw, per answering pod. */
export interface Tally {
  tries: number;
  answers: Map<string, PodAnswers>;
  lastFailure?: ProbeResult;
}

/**
 * Connects from `from` to host:port until the first answer (the proxy programs a Service a moment after it and
 * its endpoints exist; up to `waitMs`), then PROBES_AFTER_FIRST more times.
 */
export async function tallyAnswers(lab: LabRef, from: string, host: string, port: number, waitMs: number): Promise<Tally> {
  const tally: Tally = { tries: 0, answers: new Map() };
  const deadline = Date.now() + waitMs;
  let extra = 0;
  while (tally.answers.size === 0 ? Date.now() < deadline : extra++ < PROBES_AFTER_FIRST) {
    const r = await probe(lab, { from, host, port, timeoutMs: 1000 });
    tally.tries++;
    if (r.connected && r.answer) {
      const pod = tally.answers.get(r.answer) ?? { count: 0, clients: new Set<string>() };
      pod.count++;
      if (r.client) pod.clients.add(r.client);
      tally.answers.set(r.answer, pod);
    } else {
      tally.lastFailure = r;
      if (tally.answers.size === 0) await sleep(500);
    }
  }
  return tally;
}

/** "5/5 connections answered by demo/web-1 ×2 (saw 198.51.100.12), demo/web-2 ×3 (saw 198.51.100.11)", or why nothing answered. */
export function describeTally(t: Tally): string {
  if (t.answers.size === 0) {
    const why = t.lastFailure ? `${t.lastFailure.error ?? 'error'}${t.lastFailure.detail ? `: ${t.lastFailure.detail}` : ''}` : 'not tried';
    return `no answer in ${t.tries} connections (${why})`;
  }
  const answered = [...t.answers].sort(([a], [b]) => a.localeCompare(b))
    .map(([pod, { count, clients }]) => `${pod} ×${count}${clients.size > 0 ? ` (saw ${[...clients].sort().join(' and ')})` : ''}`).join(', ');
  return `${[...t.answers.values()].reduce((sum, p) => sum + p.count, 0)}/${t.tries} connections answered by ${answered}`;
}

export interface ServicesShown {
  clusterIp: Tally;
  /** Absent in a one-node lab. */
  nodePortFromNode?: Tally;
  nodePortFromExternal?: Tally;
}

/** Steps `first` (ClusterIP) and `first`+1 (NodePort) of the demo; the workload and Service "web" exist already. */
export async function showServices(kubectl: Kubectl, record: ClusterRecord, first: number): Promise<ServicesShown> {
  const lab: LabRef = { prefix: record.options.prefix };
  const client = resolveNamespace(lab, `${DEMO_NAMESPACE}/client`);
  const waitMs = 20_000 * labTimeoutScale();
  const clusterIp = (await kubectl(['get', 'service', 'web', '-n', DEMO_NAMESPACE, '-o', 'jsonpath={.spec.clusterIP}'], undefined, false)).trim();
  say(`${first}. ClusterIP Service "web" (${clusterIp}:80) in front of web-1..3, served by kube-router's IPVS proxy on every node:`);
  const shown: ServicesShown = { clusterIp: await tallyAnswers(lab, client, clusterIp, 80, waitMs) };
  say(`   ClusterIP: client on ${record.nodes[0]!.name} -> ${clusterIp}:80: ${describeTally(shown.clusterIp)}`);
  say();

  say(`${first + 1}. NodePort Service "web-nodeport" in front of web-1..3:`);
  await kubectl(['apply', '-f', '-'], nodePortServiceManifest());
  const nodePort = Number((await kubectl(['get', 'service', 'web-nodeport', '-n', DEMO_NAMESPACE, '-o', 'jsonpath={.spec.ports[0].nodePort}'], undefined, false)).trim());
  say(`   the API server gave it nodePort ${nodePort}: that port on every node's address reaches the pods.`);
  const target = record.nodes[0]!;
  const other = record.nodes[1];
  if (other) {
    shown.nodePortFromNode = await tallyAnswers(lab, resolveNamespace(lab, `node/${other.name}`), target.ip, nodePort, waitMs);
    say(`   NodePort: node ${other.name} (${other.ip}) -> ${target.name} ${target.ip}:${nodePort}: ${describeTally(shown.nodePortFromNode)}`);
  } else {
    say('   (a one-node lab has no other node to probe the NodePort from)');
  }
  if (record.external) {
    shown.nodePortFromExternal = await tallyAnswers(lab, resolveNamespace(lab, 'external'), target.ip, nodePort, waitMs);
    say(`   NodePort: external client (${record.external.ip}) -> ${target.name} ${target.ip}:${nodePort}: ${describeTally(shown.nodePortFromExternal)}`);
  }
  say('   ("saw": the client address the pod reported; a pod on another node than the one probed sees that node, which');
  say('   masqueraded the connection so the reply returns through it; a pod on the probed node sees the caller itself)');
  return shown;
}
