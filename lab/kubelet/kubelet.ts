// The lab kubelet of one node: watches pods bound to the node in the in-process API store, starts them with
// lab/pods (netns + CNI + agent), writes their status, and on graceful deletion stops them and confirms the
// deletion with the pod's uid as precondition. Lab pods have no preStop hooks and their agent exits on
// SIGTERM, so a deletion is carried out at once rather than after terminationGracePeriodSeconds.
// A hostNetwork pod whose images are all in the lab image store runs its containers for real instead
// (container-pod.ts), and is given the grace period it asks for.
import type { LabApi } from '../apiserver/api.ts';
import { storageKey, type KubeObject } from '../apiserver/resources.ts';
import type { StoreEvent } from '../apiserver/store.ts';
import { logger } from '../../src/observe/log.ts';
import { createPod, deletePod, findPod, type LabRef } from '../pods/runtime.ts';
import { effectiveConflist, type NodeCniFiles } from './cni-conf.ts';
import { agentPortsOf, failedStartStatus, podSpecOf, requestedIpOf, runningStatus } from './pod-status.ts';
import type { AgentWarmer } from './warm.ts';
import { ContainerPod, podImagesLoaded } from './container-pod.ts';
import type { StoredImage } from './image-store.ts';
import type { Result } from '../../src/result.ts';
import type { ApiError } from '../apiserver/status-errors.ts';
import { rmSync } from 'node:fs';
import { join } from 'node:path';

const log = logger('lab-kubelet');

export interface LabKubeletOptions {
  api: LabApi;
  lab: LabRef;
  node: { name: string; netns: string; ip: string };
  cni: NodeCniFiles;
  warmer?: AgentWarmer;
  /** Pod starts/stops in flight at once on this node (default 4). */
  concurrency?: number;
  /** Running hostNetwork pods from images; without it every pod gets the lab's agent. */
  containers?: ContainerRuntimeSettings;
}

export interface ContainerRuntimeSettings {
  findImage(reference: string): StoredImage | undefined;
  /** Per-pod directories (volumes, token, overlay layers, logs) live below this. */
  podsDir: string;
  /** A hostPath of this node on the real host. */
  hostPath(path: string): string;
  /** The API server as reached from the node's namespace (KUBERNETES_SERVICE_HOST/PORT). */
  apiEndpoint: { host: string; port: number };
  serviceAccountToken(namespace: string, name: string): Result<string, ApiError>;
  caPem: string;
}

interface PodEntry {
  namespace: string;
  name: string;
  uid: string;
  /** Operations on one pod run in order. */
  chain: Promise<void>;
  started: boolean;
  deleting: boolean;
}

const timestamp = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

export class LabKubelet {
  private readonly pods = new Map<string, PodEntry>();
  private readonly podsType;
  private readonly nodesType;
  private unsubscribe: (() => void) | undefined;
  private slots: number;
  private readonly waiting: (() => void)[] = [];
  private readonly containerPods = new Map<string, ContainerPod>();

  constructor(private readonly o: LabKubeletOptions) {
    this.podsType = o.api.type('', 'pods');
    this.nodesType = o.api.type('', 'nodes');
    this.slots = o.concurrency ?? 4;
  }

  start(): void {
    const key = storageKey(this.podsType);
    this.unsubscribe = this.o.api.subscribe((event: StoreEvent) => {
      if (event.resource === key) this.onPod(event.object, event.type === 'DELETED');
    });
    for (const pod of this.o.api.list(this.podsType)) this.onPod(pod, false);
  }

  /** Stops watching and waits for operations in flight; pods are left running (teardown removes them). */
  async stop(): Promise<void> {
    this.unsubscribe?.();
    await Promise.all([...this.pods.values()].map((p) => p.chain));
  }

  private onPod(pod: KubeObject, deleted: boolean): void {
    if (podSpecOf(pod).nodeName !== this.o.node.name) return;
    const uid = pod.metadata.uid ?? '';
    let entry = this.pods.get(uid);
    if (deleted) {
      // removed without our confirmation (grace 0 or grace period expired): stop what still runs
      if (entry) this.enqueue(entry, () => this.stopPod(entry!)).finally(() => this.pods.delete(uid));
      return;
    }
    if (!entry) {
      entry = { namespace: pod.metadata.namespace ?? 'default', name: pod.metadata.name ?? '', uid, chain: Promise.resolve(), started: false, deleting: false };
      this.pods.set(uid, entry);
      if (!pod.metadata.deletionTimestamp) {
        const created = entry;
        void this.enqueue(created, () => this.startPod(pod, created));
      }
    }
    if (pod.metadata.deletionTimestamp && !entry.deleting) {
      entry.deleting = true;
      const terminating = entry;
      void this.enqueue(terminating, async () => {
        await this.stopPod(terminating);
        this.confirmDeletion(terminating);
      }).finally(() => this.pods.delete(uid));
    }
  }

  private enqueue(entry: PodEntry, work: () => Promise<void>): Promise<void> {
    entry.chain = entry.chain.then(async () => {
      await this.acquire();
      try {
        await work();
      } catch (e) {
        log.error({ pod: `${entry.namespace}/${entry.name}`, error: (e as Error).message }, 'pod operation failed');
      } finally {
        this.release();
      }
    });
    return entry.chain;
  }

  private acquire(): Promise<void> {
    if (this.slots > 0) { this.slots--; return Promise.resolve(); }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next(); else this.slots++;
  }

  private podCidr(): string | undefined {
    const node = this.o.api.get(this.nodesType, undefined, this.o.node.name);
    return node.ok ? ((node.value['spec'] ?? {}) as { podCIDR?: string }).podCIDR : undefined;
  }

  /** `kubectl logs` for pods this kubelet runs from images; undefined for pods it does not run that way. */
  logs(namespace: string, name: string, container: string | undefined): Result<string, ApiError> | undefined {
    const entry = [...this.pods.values()].find((p) => p.namespace === namespace && p.name === name);
    const running = entry ? this.containerPods.get(entry.uid) : undefined;
    if (!running) return undefined;
    const text = running.logs(container);
    return text.ok ? text : { ok: false, error: { code: 400, reason: 'BadRequest', message: text.error } };
  }

  private startContainerPod(pod: KubeObject, entry: PodEntry, settings: ContainerRuntimeSettings): void {
    const spec = (pod['spec'] ?? {}) as { serviceAccountName?: string; automountServiceAccountToken?: boolean };
    const account = spec.serviceAccountName ?? 'default';
    const sa = this.o.api.get(this.o.api.type('', 'serviceaccounts'), entry.namespace, account);
    const automount = spec.automountServiceAccountToken ?? (sa.ok ? sa.value['automountServiceAccountToken'] as boolean | undefined : undefined) ?? true;
    const token = automount ? settings.serviceAccountToken(entry.namespace, account) : undefined;
    const podDir = join(settings.podsDir, entry.uid);
    let pending = false;
    const running: ContainerPod = new ContainerPod({
      ctx: { api: this.o.api, pod, nodeName: this.o.node.name, hostIP: this.o.node.ip, apiEndpoint: settings.apiEndpoint },
      netns: this.o.node.netns, podDir, findImage: settings.findImage,
      volumes: { podDir, hostPath: settings.hostPath, ...(token?.ok ? { serviceAccountToken: { token: token.value, caPem: settings.caPem } } : {}) },
      // status changes come in bursts (a restart, a probe): one write per turn
      onChange: () => {
        if (pending) return;
        pending = true;
        setImmediate(() => { pending = false; if (this.containerPods.get(entry.uid) === running) this.writeStatus(entry, running.status()); });
      },
    });
    if (token && !token.ok) {
      this.writeStatus(entry, failedStartStatus(pod, this.o.node.ip, `serviceaccount ${entry.namespace}/${account}: ${token.error.message}`, timestamp()));
      return;
    }
    this.containerPods.set(entry.uid, running);
    entry.started = true;
    running.start();
  }

  private async startPod(pod: KubeObject, entry: PodEntry): Promise<void> {
    const started = Date.now();
    const hostNetwork = podSpecOf(pod).hostNetwork === true;
    const settings = this.o.containers;
    if (hostNetwork && settings && podImagesLoaded(pod, settings.findImage)) { this.startContainerPod(pod, entry, settings); return; }
    try {
      let conflistFile: string | undefined;
      if (!hostNetwork) {
        const podCidr = this.podCidr();
        if (!podCidr) throw new Error(`node ${this.o.node.name} has no spec.podCIDR yet`);
        conflistFile = effectiveConflist(this.o.cni, podCidr).file;
      }
      const requestedIp = requestedIpOf(pod);
      const { podIPs } = await createPod(this.o.lab, {
        node: this.o.node.name, namespace: entry.namespace, name: entry.name, uid: entry.uid,
        hostNetwork, ports: agentPortsOf(pod),
        ...(requestedIp ? { requestedIp } : {}),
        ...(conflistFile ? { conflistFile } : {}),
      });
      entry.started = true;
      this.writeStatus(entry, runningStatus(pod, { podIPs, hostIP: this.o.node.ip }, timestamp()));
      log.debug({ pod: `${entry.namespace}/${entry.name}`, podIPs, ms: Date.now() - started }, 'pod running');
    } catch (e) {
      const message = (e as Error).message;
      log.warn({ pod: `${entry.namespace}/${entry.name}`, error: message }, 'pod could not be started');
      this.writeStatus(entry, failedStartStatus(pod, this.o.node.ip, message, timestamp()));
    } finally {
      this.o.warmer?.poke();
    }
  }

  private writeStatus(entry: PodEntry, status: Record<string, unknown>): void {
    const current = this.o.api.get(this.podsType, entry.namespace, entry.name);
    if (!current.ok || current.value.metadata.uid !== entry.uid) return;
    const pod = current.value;
    // the status subresource only replaces status; no resourceVersion so a concurrent label edit does not conflict
    delete pod.metadata.resourceVersion;
    pod['status'] = status;
    const written = this.o.api.update(this.podsType, pod, 'status');
    if (!written.ok) log.warn({ pod: `${entry.namespace}/${entry.name}`, error: written.error.message }, 'could not write pod status');
  }

  private async stopPod(entry: PodEntry): Promise<void> {
    const running = this.containerPods.get(entry.uid);
    if (running) {
      const current = this.o.api.get(this.podsType, entry.namespace, entry.name);
      const grace = current.ok ? current.value.metadata.deletionGracePeriodSeconds ?? 30 : 0;
      await running.stop(grace);
      this.containerPods.delete(entry.uid);
      entry.started = false;
      if (this.o.containers) rmSync(join(this.o.containers.podsDir, entry.uid), { recursive: true, force: true });
      return;
    }
    const record = findPod(this.o.lab, entry.namespace, entry.name);
    if (!record || record.uid !== entry.uid) return;
    await deletePod(this.o.lab, { namespace: entry.namespace, name: entry.name });
    entry.started = false;
  }

  private confirmDeletion(entry: PodEntry): void {
    const done = this.o.api.delete(this.podsType, entry.namespace, entry.name, { gracePeriodSeconds: 0, preconditions: { uid: entry.uid } });
    if (!done.ok && done.error.code !== 404) log.warn({ pod: `${entry.namespace}/${entry.name}`, error: done.error.message }, 'could not confirm pod deletion');
  }
}
