// `kube-router-lab status` (nodes, pods per node, kube-router health per node), `exec` (a command in a pod's
// or node's namespace, exit code passed through) and `probe` (one connection, or JSON lines with --batch).
import { execIn } from '../netns/exec.ts';
import { resolveNamespace } from '../pods/runtime.ts';
import { probe, type ProbeProtocol } from '../probe/probe.ts';
import { parseTimeout, runProbeBatchStream } from '../probe/stream.ts';
import { healthStatus } from '../cluster/kube-router.ts';
import { exitDescription, healthPortOf } from '../cluster/layout.ts';
import { labApiClient } from './api-client.ts';
import { UsageError, type FoundLab } from './lab-ref.ts';

interface NodeView { metadata: { name: string }; spec?: { podCIDR?: string }; status?: { addresses?: { type: string; address: string }[]; conditions?: { type: string; status: string }[] } }
interface PodView { metadata: { namespace: string; name: string; deletionTimestamp?: string }; spec?: { nodeName?: string }; status?: { phase?: string; podIP?: string; conditions?: { type: string; status: string }[] } }

const isTrue = (conditions: { type: string; status: string }[] | undefined, type: string): boolean =>
  (conditions ?? []).some((c) => c.type === type && c.status === 'True');

export async function status(lab: FoundLab): Promise<string> {
  const client = labApiClient(lab.record.kubeconfig ?? '');
  const [nodes, pods] = await Promise.all([
    client.getJson<{ items: NodeView[] }>('/api/v1/nodes'),
    client.getJson<{ items: PodView[] }>('/api/v1/pods'),
  ]);
  const o = lab.record.options;
  const port = healthPortOf(o.kubeRouterArgs);
  const lines = [`lab "${o.prefix}" (${lab.record.phase}) API ${lab.record.apiUrl ?? '?'}  kubeconfig ${lab.record.kubeconfig ?? '?'}`];
  for (const node of nodes.items) {
    const name = node.metadata.name;
    const ip = node.status?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? '?';
    const onNode = pods.items.filter((p) => p.spec?.nodeName === name);
    const ready = onNode.filter((p) => isTrue(p.status?.conditions, 'Ready')).length;
    let router = 'not run';
    if (o.kubeRouter) {
      const proc = lab.record.processes.find((p) => p.role === 'kube-router' && p.node === name);
      if (proc?.exitedAt) router = exitDescription(proc);
      else {
        const code = await healthStatus(name, port);
        router = code === undefined ? 'no answer on /healthz' : code === 200 ? 'healthy' : `/healthz ${code}`;
      }
    }
    lines.push(`${name.padEnd(12)} ${isTrue(node.status?.conditions, 'Ready') ? 'Ready   ' : 'NotReady'} ${ip.padEnd(15)} pods ${(node.spec?.podCIDR ?? '-').padEnd(16)} ${String(ready).padStart(3)}/${String(onNode.length).padEnd(3)} pods ready  kube-router: ${router}`);
    for (const p of onNode) {
      const state = p.metadata.deletionTimestamp ? 'Terminating' : p.status?.phase ?? 'Pending';
      lines.push(`    ${`${p.metadata.namespace}/${p.metadata.name}`.padEnd(40)} ${(p.status?.podIP ?? '-').padEnd(15)} ${state}`);
    }
  }
  const ext = lab.record.external;
  if (ext) lines.push(`${'external'.padEnd(12)} ${ext.ip.padEnd(24)} ${ext.netns}: routes ${ext.routes.join(' ')} via ${ext.via}`);
  const unscheduled = pods.items.filter((p) => !p.spec?.nodeName);
  if (unscheduled.length > 0) lines.push(`unscheduled: ${unscheduled.map((p) => `${p.metadata.namespace}/${p.metadata.name}`).join(', ')}`);
  return lines.join('\n');
}

/** Runs argv in the namespace of "NS/POD" or "node/NAME"; resolves with its exit code. */
export async function execInLab(lab: FoundLab, ref: string, argv: string[]): Promise<number> {
  if (argv.length === 0) throw new UsageError('usage: kube-router-lab exec NS/POD|node/NAME|external -- COMMAND [ARGS...]');
  const ns = resolveNamespace({ prefix: lab.record.options.prefix }, ref);
  const r = await execIn(ns, argv, { stdio: 'inherit' });
  return r.code;
}

/** One probe; prints the answering pod and the client it saw (or the error); resolves with the exit code (0 = connected). */
export async function probeOnce(lab: FoundLab, args: string[], timeout: string | undefined): Promise<number> {
  const [from, host, portText, proto] = args;
  if (!from || !host || !portText) throw new UsageError('usage: kube-router-lab probe NS/POD|node/NAME|external HOST PORT [tcp|udp|sctp] [--timeout 1s]');
  const protocol = (proto ?? 'tcp').toLowerCase();
  if (!['tcp', 'udp', 'sctp'].includes(protocol)) throw new UsageError(`unknown protocol ${protocol}`);
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`bad port ${portText}`);
  const labRef = { prefix: lab.record.options.prefix };
  const result = await probe(labRef, { from: resolveNamespace(labRef, from), host, port, protocol: protocol as ProbeProtocol, timeoutMs: parseTimeout(timeout, 1000) });
  if (result.connected) {
    // line 1: who answered (as before); line 2: where the connection came from, as that pod saw it
    const client = result.client === undefined ? '' : `client ${result.client} ${result.clientPort ?? '?'}\n`;
    process.stdout.write(`${result.answer ?? '(connected, no answer)'}\n${client}`);
    return 0;
  }
  process.stderr.write(`not connected: ${result.error ?? 'error'}${result.detail ? ` (${result.detail})` : ''}\n`);
  return 1;
}

/** JSON lines from stdin to stdout; exit code 0 when every probe connected, else 1. */
export async function probeBatch(lab: FoundLab, timeout: string | undefined): Promise<number> {
  const summary = await runProbeBatchStream({ prefix: lab.record.options.prefix }, process.stdin, process.stdout,
    { defaultTimeoutMs: parseTimeout(timeout, 1000) });
  return summary.connected === summary.total ? 0 : 1;
}
