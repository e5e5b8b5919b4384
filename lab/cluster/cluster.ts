// The whole lab cluster in one process (the supervisor's job): API server and control loops, the netns network
// (with an external client routed into the cluster via node 1), the API bridge into node namespaces, node
// registration, a kubelet per node, a tiny scheduler and, unless disabled, one kube-router per node. What runs
// is recorded in lab.json; stop() undoes all of it.
import type { ChildProcess } from 'node:child_process';
import { startLabApiServer, type LabApiServer } from '../apiserver/server.ts';
import { createNetwork } from '../netns/network.ts';
import { labPaths, writeJson } from '../netns/state.ts';
import { planTopology } from '../netns/topology.ts';
import { teardownLab, type LabRef } from '../pods/runtime.ts';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { logger } from '../../src/observe/log.ts';
import { kubeRouterConflistTemplate } from '../kubelet/cni-conf.ts';
import { LabKubelet } from '../kubelet/kubelet.ts';
import { startRoundRobinScheduler } from '../kubelet/scheduler.ts';
import { AgentWarmer } from '../kubelet/warm.ts';
import { findImage } from '../kubelet/image-store.ts';
import { startNamespaceForwarder, startUnixToTcpBridge } from './api-bridge.ts';
import { healthStatus, kubeRouterLog, startKubeRouter } from './kube-router.ts';
import { clusterPaths, ensureClusterDirs, exitDescription, healthPortOf, labTimeoutScale, writeClusterRecord, type ClusterOptions, type ClusterRecord, type ProcessRecord } from './layout.ts';
import { routesPodCidrs, waitForPodRoutes } from './pod-routes.ts';
import { externalClientRoutes, serviceRanges } from './service-ranges.ts';
import { installStaticPodRoutes, registerNode, startNodeLeases, waitForPodCidrs, type ClusterNode } from './nodes.ts';

const log = logger('lab-cluster');
const WARM_AGENTS = 3;
const HEALTH_TIMEOUT_MS = 90_000 * labTimeoutScale();
/** BGP sessions retry their connects every few seconds; beyond this the mesh is broken, not slow. */
const ROUTES_TIMEOUT_MS = 45_000 * labTimeoutScale();

export interface RunningCluster {
  record: ClusterRecord;
  api: LabApiServer;
  stop(): Promise<void>;
}

const killAndWait = async (child: ChildProcess, graceMs: number): Promise<void> => {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
};

/** Brings the cluster up; on failure removes what it made and rethrows. `onChange` sees every record update. */
export async function startCluster(options: ClusterOptions, onChange: (r: ClusterRecord) => void = () => undefined): Promise<RunningCluster> {
  const paths = clusterPaths(options.stateDir);
  const lab: LabRef = { prefix: options.prefix };
  const ranges = serviceRanges(options);
  const networkOptions = {
    prefix: options.prefix, nodes: options.nodes, underlayCidr: options.underlayCidr,
    externalClient: { routes: externalClientRoutes(options, ranges) },
  };
  const topology = planTopology(networkOptions);
  const nodes: ClusterNode[] = topology.nodes.map((n) => ({ name: n.name, netns: n.netns, ip: n.ip }));
  ensureClusterDirs(paths, nodes.map((n) => n.name));
  const external = topology.external!;
  const record: ClusterRecord = {
    options, supervisorPid: process.pid, phase: 'starting', startedAt: new Date().toISOString(),
    nodes: nodes.map((n) => ({ name: n.name, ip: n.ip })),
    external: { netns: external.netns, ip: external.ip, via: external.via, routes: external.routes },
    processes: [],
  };
  const save = (): void => {
    try {
      writeClusterRecord(paths, record);
    } catch (e) {
      // the state directory was removed under us: keep running, `down` still finds the namespaces by prefix
      log.warn({ error: (e as Error).message }, 'could not write lab.json');
    }
    onChange(record);
  };
  save();

  const children: { child: ChildProcess; rec: ProcessRecord }[] = [];
  const stops: (() => Promise<void> | void)[] = [];
  const stopAll = async (): Promise<void> => {
    record.phase = 'stopping';
    save();
    // kube-routers first (they may still talk to the API), then the rest in reverse start order
    await Promise.all(children.filter((c) => c.rec.role === 'kube-router').map((c) => killAndWait(c.child, 5000)));
    await Promise.all(children.map((c) => killAndWait(c.child, 1000)));
    for (const stop of stops.reverse()) {
      try { await stop(); } catch (e) { log.warn({ error: (e as Error).message }, 'stopping a lab part failed'); }
    }
  };
  const track = (child: ChildProcess, rec: Omit<ProcessRecord, 'pid' | 'startedAt'>): void => {
    const entry: ProcessRecord = { ...rec, pid: child.pid ?? 0, startedAt: new Date().toISOString() };
    record.processes.push(entry);
    children.push({ child, rec: entry });
    child.on('exit', (code, signal) => {
      entry.exitedAt = new Date().toISOString();
      entry.exitCode = code;
      entry.signal = signal;
      if (record.phase !== 'stopping') log.warn({ role: entry.role, node: entry.node, code, signal }, 'lab process exited');
      save();
    });
  };

  try {
    const api = await startLabApiServer({
      listen: ['127.0.0.1:0'], stateDir: paths.api, advertiseAddress: nodes[0]!.ip, extraSans: nodes.map((n) => n.ip),
      controllers: { clusterCidrs: [options.clusterCidr], serviceCidrs: [options.serviceCidr] },
    });
    stops.push(() => api.stop());
    record.apiUrl = api.url;
    record.kubeconfig = api.kubeconfigPath;
    save(); // progress for `up`/`demo`: the API server is up
    const port = Number(new URL(api.url).port);

    stops.push(async () => { await teardownLab(lab); });
    await createNetwork(networkOptions);
    const bridge = await startUnixToTcpBridge(paths.apiSocket, port);
    stops.push(() => bridge.close());
    for (const node of nodes) {
      track(startNamespaceForwarder(node.netns, port, paths.apiSocket, join(paths.logs, `api-forwarder-${node.name}.log`)),
        { role: 'api-forwarder', node: node.name, log: join(paths.logs, `api-forwarder-${node.name}.log`) });
    }

    const warmer = new AgentWarmer(lab, WARM_AGENTS);
    stops.push(() => warmer.stop());
    const kernel = labPaths(options.prefix);
    const caPem = api.caPath ? readFileSync(api.caPath, 'utf8') : '';
    for (const node of nodes) {
      const kubelet = new LabKubelet({
        api: api.store, lab, node, warmer,
        cni: { kubeRouterConflist: paths.kubeRouterConflist(node.name), dir: join(paths.nodeDir(node.name), 'cni-lab'), ipamDataDir: join(kernel.ipam, node.name) },
        // hostNetwork pods whose images were loaded (kube-router-lab image load) run from those images
        containers: {
          findImage: (reference) => findImage(reference), podsDir: join(paths.nodeDir(node.name), 'pods'),
          hostPath: (path) => paths.hostPath(node.name, path), apiEndpoint: { host: '127.0.0.1', port },
          serviceAccountToken: (namespace, name) => api.serviceAccountToken(namespace, name), caPem,
        },
      });
      mkdirSync(join(paths.nodeDir(node.name), 'cni-lab'), { recursive: true });
      api.podLogs.push((namespace, name, container) => kubelet.logs(namespace, name, container));
      kubelet.start();
      stops.push(() => kubelet.stop());
    }
    stops.push(startRoundRobinScheduler(api.store));
    for (const node of nodes) registerNode(api.store, node);
    stops.push(startNodeLeases(api.store, nodes));
    const podCidrs = await waitForPodCidrs(api.store, nodes.map((n) => n.name));
    for (const n of record.nodes) n.podCidr = podCidrs.get(n.name);
    save();
    if (options.staticRoutes) installStaticPodRoutes(nodes, podCidrs);

    if (options.kubeRouter) {
      for (const node of nodes) {
        writeJson(paths.kubeRouterConflist(node.name), kubeRouterConflistTemplate());
        // kube-router must know the lab's service ranges (its firewall exempts them; strict validation refuses
        // externalIPs and load-balancer IPs outside them); a flag in --kube-router-args wins.
        const extraArgs = [...ranges.args, ...options.kubeRouterArgs];
        const child = startKubeRouter({ node, kubeconfig: api.kubeconfigPath, conflistFile: paths.kubeRouterConflist(node.name), extraArgs, logDir: paths.logs });
        track(child, { role: 'kube-router', node: node.name, log: kubeRouterLog(paths.logs, node.name) });
      }
      save();
      await waitHealthy(nodes, healthPortOf(options.kubeRouterArgs), record);
      // healthy is not routed yet: the iBGP sessions and the routes they carry follow a few seconds later
      if (routesPodCidrs(options.kubeRouterArgs)) {
        await waitForPodRoutes(nodes, podCidrs, {
          timeoutMs: ROUTES_TIMEOUT_MS, checkAlive: () => throwIfKubeRouterExited(record), logHint: kubeRouterLog(paths.logs, '<node>'),
        });
      }
    }
    // after kube-router's start (Node start-ups compete for the CPUs), before pods come
    await warmer.fill();
    record.phase = 'ready';
    record.readyAt = new Date().toISOString();
    save();
    log.info({ nodes: nodes.length, url: api.url, ms: Date.parse(record.readyAt) - Date.parse(record.startedAt) }, 'lab cluster ready');
    return { record, api, stop: stopAll };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

function throwIfKubeRouterExited(record: ClusterRecord): void {
  const exited = record.processes.find((p) => p.role === 'kube-router' && p.exitedAt);
  if (!exited) return;
  const lastLines = existsSync(exited.log) ? readFileSync(exited.log, 'utf8').trimEnd().split('\n').slice(-3).join('\n') : '';
  throw new Error(`kube-router on ${exited.node} ${exitDescription(exited)}; ${exited.log} ends with:\n${lastLines}`);
}

async function waitHealthy(nodes: ClusterNode[], port: number, record: ClusterRecord): Promise<void> {
  const deadline = Date.now() + HEALTH_TIMEOUT_MS;
  const pending = new Set(nodes.map((n) => n.name));
  while (pending.size > 0) {
    throwIfKubeRouterExited(record);
    if (Date.now() > deadline) throw new Error(`kube-router not healthy after ${HEALTH_TIMEOUT_MS / 1000} s on ${[...pending].join(', ')}`);
    await Promise.all(nodes.filter((n) => pending.has(n.name)).map(async (n) => {
      if ((await healthStatus(n.netns, port)) === 200) pending.delete(n.name);
    }));
    if (pending.size > 0) await new Promise((r) => setTimeout(r, 300));
  }
}
