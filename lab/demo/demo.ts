// `kube-router-lab demo` (what `make demo` runs): brings a 3-node lab up with kube-router, creates a few pods, a
// Service and NetworkPolicies with the real kubectl, and narrates what works today. Each capability is detected
// at run time (routes in the kernel, probes through it); one that is not there yet gets one plain line.
import { run } from '../netns/exec.ts';
import { probe, type ProbeResult } from '../probe/probe.ts';
import { resolveNamespace } from '../pods/runtime.ts';
import { clusterPaths, DEFAULT_PREFIX, DEFAULT_STATE_DIR, labTimeoutScale, readClusterRecord, type ClusterRecord } from '../cluster/layout.ts';
import { kernelHasIpvs } from '../cluster/kube-router.ts';
import { DEFAULT_CLUSTER_CIDRS, DEFAULT_SERVICE_CIDRS } from '../controllers/index.ts';
import { DEFAULT_UNDERLAY_CIDR } from '../netns/topology.ts';
import { labApiClient } from '../cli/api-client.ts';
import { up, upSummary } from '../cli/up-down.ts';
import { supervisorAlive } from '../cli/lab-ref.ts';
import { kubeRouterConflistWritten } from '../kubelet/cni-conf.ts';
import { allowFromClientManifest, DEMO_NAMESPACE, denyAllIngressManifest, workloadManifest } from './manifests.ts';
import { currentHost, demoPreflightProblem, labStartStage, progressLine } from './preflight.ts';
import { showServices, type Kubectl } from './services.ts';
import { showServicesInVm } from './in-vm.ts';

/** Route protocol kube-router gives the pod-CIDR routes it learns over BGP (upstream's zebra origin, 0x11). */
const BGP_ROUTE_PROTO = '17';
const say = (text = ''): void => { process.stdout.write(text + '\n'); };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface PodView { metadata: { name: string }; spec?: { nodeName?: string }; status?: { podIP?: string; conditions?: { type: string; status: string }[] } }

async function kubectl(kubeconfig: string, args: string[], input?: string, show = true): Promise<string> {
  if (show) say(`$ kubectl ${args.join(' ')}`);
  const r = await run(['kubectl', '--kubeconfig', kubeconfig, ...args], input === undefined ? {} : { input });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed: ${r.stderr.trim()}`);
  if (show) say(r.stdout.trimEnd().split('\n').map((l) => `  ${l}`).join('\n'));
  return r.stdout;
}

async function waitForPods(kubeconfig: string, count: number): Promise<Map<string, PodView>> {
  const client = labApiClient(kubeconfig);
  const waitS = 30 * labTimeoutScale();
  const deadline = Date.now() + waitS * 1000;
  for (;;) {
    const pods = (await client.getJson<{ items: PodView[] }>(`/api/v1/namespaces/${DEMO_NAMESPACE}/pods`)).items;
    const ready = pods.filter((p) => p.status?.podIP && (p.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'));
    if (ready.length >= count) return new Map(ready.map((p) => [p.metadata.name, p]));
    if (Date.now() > deadline) throw new Error(`demo pods not Ready after ${waitS} s (${ready.length}/${count})`);
    await sleep(200);
  }
}

function describe(r: ProbeResult): string {
  return r.connected ? `connected, answered by ${r.answer ?? '?'}` : `no connection (${r.error ?? 'error'})`;
}

/** The lab already up (with kube-router) in the state directory, else a fresh 3-node one. */
async function demoLab(stateDir: string, prefix: string, nodes: number): Promise<ClusterRecord> {
  const running = readClusterRecord(clusterPaths(stateDir));
  if (running?.phase === 'ready' && supervisorAlive(running) && running.options.kubeRouter) {
    say(`Using the lab already up in ${clusterPaths(stateDir).root}.`);
    return running;
  }
  say(`Starting a ${nodes}-node lab with kube-router on every node (network namespaces on this machine)...`);
  const started = Date.now();
  let shown = '';
  let shownAt = 0;
  // A line when the stage changes, and a reminder every 15 s while it does not.
  const showProgress = (record: ClusterRecord | undefined): void => {
    const stage = labStartStage(record);
    if (stage === 'ready' || stage === 'failed' || (stage === shown && Date.now() - shownAt < 15_000)) return;
    say(progressLine(stage, Date.now() - started));
    shown = stage;
    shownAt = Date.now();
  };
  return up({
    stateDir, prefix, nodes, clusterCidr: DEFAULT_CLUSTER_CIDRS[0]!, serviceCidr: DEFAULT_SERVICE_CIDRS[0]!,
    underlayCidr: DEFAULT_UNDERLAY_CIDR, kubeRouter: true, kubeRouterArgs: [], staticRoutes: false,
  }, showProgress);
}

export interface DemoOptions {
  stateDir: string;
  prefix?: string;
  /** Nodes of the lab the demo starts when none is up (default 3). */
  nodes?: number;
  /** Only the Service part (what the host demo runs inside the VM when this kernel has no IPVS). */
  servicesOnly?: boolean;
  /** Number of the first step printed by --services-only (continues the host demo's numbering). */
  firstStep?: number;
}

export async function runDemo(opts: DemoOptions): Promise<number> {
  // Before anything is created: a demo that cannot finish must not leave half a lab behind.
  const problem = demoPreflightProblem(currentHost());
  if (problem !== undefined) {
    process.stderr.write(`kube-router-lab demo: ${problem}\n`);
    return 1;
  }
  let record: ClusterRecord;
  try {
    record = await demoLab(opts.stateDir, opts.prefix ?? DEFAULT_PREFIX, opts.nodes ?? 3);
  } catch (e) {
    say(`The lab did not come up: ${(e as Error).message}`);
    return 1;
  }
  return opts.servicesOnly ? runServicesOnly(record, opts.firstStep ?? 1) : runHostDemo(record, opts);
}

/** --services-only: the workload, then the ClusterIP and NodePort steps; exit 1 unless every probe got answers. */
async function runServicesOnly(record: ClusterRecord, step: number): Promise<number> {
  say(upSummary(record));
  say();
  const kc = record.kubeconfig ?? '';
  const nodes = record.nodes.map((n) => n.name);
  await kubectl(kc, ['apply', '-f', '-'], workloadManifest(nodes), false);
  await waitForPods(kc, 4);
  await kubectl(kc, ['get', 'pods', '-n', DEMO_NAMESPACE, '-o', 'wide']);
  say();
  const shown = await showServices(kubectlOn(kc), record, step);
  const tallies = [shown.clusterIp, shown.nodePortFromNode, shown.nodePortFromExternal];
  return tallies.every((t) => t === undefined || t.answers.size > 0) ? 0 : 1;
}

const kubectlOn = (kc: string): Kubectl => (args, input, show) => kubectl(kc, args, input, show);

async function runHostDemo(record: ClusterRecord, opts: DemoOptions): Promise<number> {
  say(upSummary(record));
  const kc = record.kubeconfig ?? '';
  const lab = { prefix: record.options.prefix };
  const nodes = record.nodes.map((n) => n.name);
  say();
  say('1. kube-router reads the cluster from the API server like in a real cluster: every node is Ready, each has a pod CIDR.');
  await kubectl(kc, ['get', 'nodes', '-o', 'wide']);
  say();
  const paths = clusterPaths(opts.stateDir);
  const cniByRouter = nodes.filter((n) => kubeRouterConflistWritten(paths.kubeRouterConflist(n)) !== undefined);
  say(cniByRouter.length === nodes.length
    ? '2. Pods created with kubectl get their network from the CNI config kube-router wrote on their node.'
    : `2. Pods created with kubectl get a bridge + host-local network for their node's pod CIDR (kube-router has not written its CNI config${cniByRouter.length > 0 ? ` on ${nodes.length - cniByRouter.length} nodes` : ''} yet).`);
  await kubectl(kc, ['apply', '-f', '-'], workloadManifest(nodes));
  const pods = await waitForPods(kc, 4);
  await kubectl(kc, ['get', 'pods', '-n', DEMO_NAMESPACE, '-o', 'wide']);
  const client = resolveNamespace(lab, `${DEMO_NAMESPACE}/client`);
  const ipOf = (name: string): string => pods.get(name)?.status?.podIP ?? '';
  const toPod = (name: string): Promise<ProbeResult> => probe(lab, { from: client, host: ipOf(name), port: 8080, timeoutMs: 1000 });
  say(`   client -> web-1 (same node ${nodes[0]}) ${ipOf('web-1')}:8080: ${describe(await toPod('web-1'))}`);
  say();

  say('3. Pod routing between nodes (BGP):');
  // gobgpd waits 5-10 s before its first connection attempt, so sessions come up some seconds after start.
  const bgpRoutes = async (): Promise<string[]> => {
    const lines: string[] = [];
    for (const node of nodes) {
      const r = await run(['ip', '-n', node, 'route', 'show', 'proto', BGP_ROUTE_PROTO]);
      for (const line of r.stdout.trim().split('\n').filter((l) => l !== '')) lines.push(`   ${node}: ${line}`);
    }
    return lines;
  };
  const wantedRoutes = nodes.length * (nodes.length - 1);
  let routes = await bgpRoutes();
  if (routes.length < wantedRoutes) say('   waiting for the BGP sessions between the nodes to come up...');
  for (const deadline = Date.now() + 45_000; routes.length < wantedRoutes && Date.now() < deadline;) {
    await sleep(1000);
    routes = await bgpRoutes();
  }
  const far = nodes[2] ?? nodes[nodes.length - 1]!;
  const crossNode = await toPod('web-3');
  if (routes.length > 0) {
    say('   routes kube-router installed from what its BGP peers announced:');
    routes.forEach((l) => say(l));
    say(`   client on ${nodes[0]} -> web-3 on ${far} ${ipOf('web-3')}:8080: ${describe(crossNode)}`);
  } else {
    say(`   not there yet: no node has pod routes learned over BGP (proto ${BGP_ROUTE_PROTO}), so client on ${nodes[0]} -> web-3 on ${far}: ${describe(crossNode)}.`);
  }
  say();

  const ipvs = kernelHasIpvs();
  let step = 4;
  if (ipvs) {
    await showServices(kubectlOn(kc), record, step);
    step += 2;
  } else {
    say(`${step++}. Services: this host's kernel has no IPVS, so the lab here runs kube-router with --run-service-proxy=false;`);
    say('   the ClusterIP and NodePort steps run after the NetworkPolicy step, in the Debian-kernel VM.');
  }
  say();

  say(`${step++}. NetworkPolicy:`);
  await kubectl(kc, ['apply', '-f', '-'], denyAllIngressManifest());
  let blocked = false;
  for (let i = 0; i < 10 && !blocked; i++) {
    await sleep(300);
    blocked = !(await toPod('web-1')).connected;
  }
  if (blocked) {
    say('   with web-deny-all in place, client -> web-1:8080 is blocked.');
    await kubectl(kc, ['apply', '-f', '-'], allowFromClientManifest());
    let allowed = false;
    for (let i = 0; i < 10 && !allowed; i++) {
      await sleep(300);
      allowed = (await toPod('web-1')).connected;
    }
    say(allowed ? '   with web-allow-client added, client -> web-1:8080 connects again.' : '   web-allow-client did not re-open client -> web-1:8080 within 3 s.');
  } else {
    say('   not there yet: a deny-all ingress policy does not block client -> web-1 (the firewall is not enforcing).');
  }
  await kubectl(kc, ['delete', 'networkpolicy', '--all', '-n', DEMO_NAMESPACE], undefined, false);
  say();
  if (!ipvs) {
    const vmExit = await showServicesInVm(record.options.prefix, step);
    if (vmExit !== undefined && vmExit !== 0) say('The Service part in the VM did not show every Service answering (see above); the host part stands.');
    say();
  }
  say('Explore it:');
  say(`  kubectl --kubeconfig ${kc} get pods -A -o wide`);
  const stateFlag = paths.root === clusterPaths(DEFAULT_STATE_DIR).root ? '' : ` --state-dir ${paths.root}`;
  say(`  node bin/kube-router-lab.js status${stateFlag}`);
  say(`  node bin/kube-router-lab.js exec ${DEMO_NAMESPACE}/client${stateFlag} -- ip addr`);
  say(`  logs: ${paths.logs}/kube-router-<node>.log`);
  say(stateFlag === '' ? 'When done: make lab-down   (or node bin/kube-router-lab.js down)' : `When done: node bin/kube-router-lab.js down${stateFlag}`);
  return 0;
}
