// The lab kubelet of one node: watches pods bound to the node in the in-process API store, starts them with
// lab/pods (netns + CNI + agent), writes their status, and on graceful deletion stops them and confirms the
// deletion with the pod's uid as precondition. Lab pods have no preStop hooks and their agent exits on
// SIGTERM, so a deletion is carried out at once rather than after terminationGracePeriodSeconds.
import type { LabApi } from '../apiserver/api.ts';
import { storageKey, type KubeObject } from '../apiserver/resources.ts';
import type { StoreEvent } from '../apiserver/store.ts';
import { logger } from '../../src/observe/log.ts';
import { createPod, deletePod, findPod, type LabRef } from '../pods/runtime.ts';
import { effectiveConflist, type NodeCniFiles } from './cni-conf.ts';
import { agentPortsOf, failedStartStatus, podSpecOf, requestedIpOf, runningStatus } from './pod-status.ts';
import type { AgentWarmer } from './warm.ts';

const log = logger('lab-kubelet');

export interface LabKubeletOptions {
  api: LabApi;
  lab: LabRef;
  node: { name: string; netns: string; ip: string };
  cni: NodeCniFiles;
  warmer?: AgentWarmer;
  /** Pod starts/stops in flight at once on this node (default 4). */
  concurrency?: number;
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

  private async startPod(pod: KubeObject, entry: PodEntry): Promise<void> {
    const started = Date.now();
    const hostNetwork = podSpecOf(pod).hostNetwork === true;
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
