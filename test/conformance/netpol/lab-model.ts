// The model brought up in a real lab cluster (lab/cluster, one kube-router per node): namespaces x, y, z with
// pods a, b, c (containerPorts serve-80-tcp … serve-81-udp), a hostNetwork pod, and the edits cases make
// (policies, pod and namespace labels), all through the lab's in-process API; reset() restores the model.
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster, type RunningCluster } from '../../../lab/cluster/cluster.ts';
import type { KubeObject } from '../../../lab/apiserver/resources.ts';
import type { LabApi } from '../../../lab/apiserver/api.ts';
import type { Result } from '../../../src/result.ts';
import { findPod } from '../../../lab/pods/runtime.ts';
import {
  MODEL_PODS, NAMESPACES, SERVED_PORTS, namespaceLabels, nodeIndexOf, podKey, podLabels, portName, type PodRef, type Protocol,
} from './model.ts';

export type Backend = 'iptables' | 'nftables';

/** The hostNetwork pod (namespace x, label pod=h) on node 3, serving TCP on this port in node 3's namespace. */
export const HOST_POD: PodRef = { namespace: 'x', name: 'h' };
export const HOST_POD_PORT = 9080;
export const HOST_POD_NODE = 3;

export interface LabModelOptions {
  /** Lab namespace prefix (krt-cf-…), unique per test file. */
  prefix: string;
  backend: Backend;
  /** More kube-router flags (e.g. --iptables-sync-period=3s). */
  extraArgs?: string[];
  /**
   * Only the firewall runs (--run-router=false) and the lab installs static pod routes: for tests that stop a
   * kube-router, whose routing controller would take the node's BGP routes down with it.
   */
  firewallOnly?: boolean;
}

export function kubeRouterArgsFor(backend: Backend, extra: readonly string[] = []): string[] {
  return [...(backend === 'nftables' ? ['--use-nftables-for-netpol'] : []), ...extra];
}

const POLICY_TYPE = { group: 'networking.k8s.io', plural: 'networkpolicies' };

export class LabModel {
  readonly prefix: string;
  readonly backend: Backend;
  readonly kubeRouterArgs: string[];
  readonly firewallOnly: boolean;
  cluster!: RunningCluster;
  private stateDir = '';
  private readonly podIPs = new Map<string, string>();

  constructor(options: LabModelOptions) {
    this.prefix = options.prefix;
    this.backend = options.backend;
    this.firewallOnly = options.firewallOnly ?? false;
    this.kubeRouterArgs = kubeRouterArgsFor(options.backend, [...(this.firewallOnly ? ['--run-router=false'] : []), ...(options.extraArgs ?? [])]);
  }

  get api(): LabApi { return this.cluster.api.store; }
  get lab(): { prefix: string } { return { prefix: this.prefix }; }

  /** Lab up with kube-router on 3 nodes, then the model's namespaces and pods Ready. */
  async start(): Promise<void> {
    this.stateDir = mkdtempSync(join(tmpdir(), `${this.prefix}-`));
    this.cluster = await startCluster({
      stateDir: this.stateDir, prefix: this.prefix, nodes: 3, clusterCidr: '198.18.0.0/16', serviceCidr: '198.19.0.0/20',
      underlayCidr: '198.51.100.0/24', kubeRouter: true, kubeRouterArgs: this.kubeRouterArgs, staticRoutes: this.firewallOnly,
    });
    for (const ns of NAMESPACES) this.must(this.api.create(this.type('', 'namespaces'), { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: namespaceLabels(ns) } }));
    for (const pod of MODEL_PODS) this.must(this.api.create(this.type('', 'pods'), this.podObject(pod)));
    this.must(this.api.create(this.type('', 'pods'), this.hostPodObject()));
    await this.waitReady([...MODEL_PODS, HOST_POD], 60_000);
  }

  async stop(): Promise<void> {
    if (this.cluster) await this.cluster.stop();
    // NETPOL_LAB_LOGS=<dir> keeps the lab's logs (kube-router per node, supervisor) for a failing run
    const keep = process.env['NETPOL_LAB_LOGS'];
    if (keep && this.stateDir) cpSync(join(this.stateDir, 'logs'), join(keep, this.prefix), { recursive: true });
    if (this.stateDir) rmSync(this.stateDir, { recursive: true, force: true });
  }

  nodeName(index: number): string { return `${this.prefix}-n${index}`; }
  /** Node namespace = node name in the lab. */
  nodeNetns(index: number): string { return this.nodeName(index); }
  logDir(): string { return join(this.stateDir, 'logs'); }
  conflistFile(node: string): string { return join(this.stateDir, 'nodes', node, 'cni', '10-kuberouter.conflist'); }

  ipOf(pod: PodRef): string {
    const ip = this.podIPs.get(podKey(pod));
    if (!ip) throw new Error(`no IP known for ${podKey(pod)}`);
    return ip;
  }

  /** The network namespace probes from `pod` start in (the node's for the hostNetwork pod). */
  netnsOf(pod: PodRef): string {
    if (podKey(pod) === podKey(HOST_POD)) return this.nodeNetns(HOST_POD_NODE);
    const record = findPod(this.lab, pod.namespace, pod.name);
    if (!record) throw new Error(`pod ${podKey(pod)} has no lab record`);
    return record.netns;
  }

  applyPolicy(policy: KubeObject): void {
    const type = this.type(POLICY_TYPE.group, POLICY_TYPE.plural);
    const existing = this.api.get(type, policy.metadata.namespace, policy.metadata.name ?? '');
    if (existing.ok) {
      const next = structuredClone(policy);
      next.metadata.resourceVersion = existing.value.metadata.resourceVersion;
      this.must(this.api.update(type, next));
    } else {
      this.must(this.api.create(type, policy));
    }
  }

  deletePolicy(namespace: string, name: string): void {
    this.must(this.api.delete(this.type(POLICY_TYPE.group, POLICY_TYPE.plural), namespace, name));
  }

  setPodLabels(pod: PodRef, labels: Record<string, string>): void {
    const type = this.type('', 'pods');
    const current = this.must(this.api.get(type, pod.namespace, pod.name));
    current.metadata.labels = { ...labels };
    this.must(this.api.update(type, current));
  }

  setNamespaceLabels(ns: string, labels: Record<string, string>): void {
    const type = this.type('', 'namespaces');
    const current = this.must(this.api.get(type, undefined, ns));
    current.metadata.labels = { ...labels };
    this.must(this.api.update(type, current));
  }

  /** Back to the model: no policies in x/y/z, every pod and namespace with its original labels. */
  reset(): void {
    const policies = this.type(POLICY_TYPE.group, POLICY_TYPE.plural);
    for (const ns of NAMESPACES) for (const p of this.api.list(policies, ns)) this.deletePolicy(ns, p.metadata.name ?? '');
    for (const ns of NAMESPACES) {
      const current = this.must(this.api.get(this.type('', 'namespaces'), undefined, ns));
      if (!sameLabels(current.metadata.labels, namespaceLabels(ns))) this.setNamespaceLabels(ns, namespaceLabels(ns));
    }
    for (const pod of [...MODEL_PODS, HOST_POD]) {
      const current = this.must(this.api.get(this.type('', 'pods'), pod.namespace, pod.name));
      if (!sameLabels(current.metadata.labels, podLabels(pod))) this.setPodLabels(pod, podLabels(pod));
    }
  }

  private podObject(pod: PodRef): KubeObject {
    const ports = SERVED_PORTS.flatMap((port) => (['tcp', 'udp'] as Protocol[]).map((protocol) => ({
      name: portName(port, protocol), containerPort: port, protocol: protocol.toUpperCase(),
    })));
    return {
      apiVersion: 'v1', kind: 'Pod',
      metadata: { name: pod.name, namespace: pod.namespace, labels: podLabels(pod) },
      spec: { nodeName: this.nodeName(nodeIndexOf(pod)), containers: [{ name: 'serve', image: 'kube-router-lab/agent', ports }] },
    };
  }

  private hostPodObject(): KubeObject {
    return {
      apiVersion: 'v1', kind: 'Pod',
      metadata: { name: HOST_POD.name, namespace: HOST_POD.namespace, labels: podLabels(HOST_POD) },
      spec: {
        nodeName: this.nodeName(HOST_POD_NODE), hostNetwork: true,
        containers: [{ name: 'serve', image: 'kube-router-lab/agent', ports: [{ name: 'host-tcp', containerPort: HOST_POD_PORT, protocol: 'TCP' }] }],
      },
    };
  }

  private async waitReady(pods: readonly PodRef[], timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const pending = pods.filter((p) => !this.recordIp(p));
      if (pending.length === 0) return;
      if (Date.now() > deadline) throw new Error(`pods not Ready after ${timeoutMs} ms: ${pending.map(podKey).join(', ')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  private recordIp(pod: PodRef): boolean {
    const got = this.api.get(this.type('', 'pods'), pod.namespace, pod.name);
    if (!got.ok) return false;
    const status = (got.value['status'] ?? {}) as { podIP?: string; conditions?: { type: string; status: string }[] };
    const ready = (status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
    if (!ready || !status.podIP) return false;
    this.podIPs.set(podKey(pod), status.podIP);
    return true;
  }

  private type(group: string, plural: string): ReturnType<LabApi['type']> {
    return this.api.type(group, plural);
  }

  private must<T>(r: Result<T, { message: string }>): T {
    if (!r.ok) throw new Error(`lab API: ${r.error.message}`);
    return r.value;
  }
}

function sameLabels(a: Record<string, string> | undefined, b: Record<string, string>): boolean {
  const ka = Object.keys(a ?? {}).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a?.[k] === b[k]);
}
