// A synthetic cluster for the netpol bench: 100 namespaces, 10,000 pods by default (about 110 on this node at
// any size) and 1,000 policies mixing pod, namespace, ipBlock and named-port peers, served to the controller as
// a mutable source. Pods are stored as the daemon's cache stores them (kube/slim.ts: replicas share one labels
// object and one containers list).
import type { Namespace, Pod } from 'kubernetes-types/core/v1.js';
import type { NetworkPolicy } from 'kubernetes-types/networking/v1.js';
import type { NetpolSource } from '../src/controllers/netpol/controller.ts';
import type { ClusterView, NetpolConfig } from '../src/controllers/netpol/plan-view.ts';
import { slimPod } from '../src/kube/slim.ts';
import { ok, type Result } from '../src/result.ts';

export const NODE = 'bench-node';
const NAMESPACES = 100;
export const DEFAULT_PODS = 10_000;
const POLICIES_PER_NS = 10;

const podIp = (g: number): string => `198.${18 + (g >> 16)}.${(g >> 8) & 255}.${g & 255}`;

export class BenchCluster implements NetpolSource {
  readonly pods = new Map<string, Pod>();
  readonly namespaces = new Map<string, Namespace>();
  readonly policies = new Map<string, NetworkPolicy>();
  readonly localPods: string[] = [];
  readonly remotePods: string[] = [];

  constructor(readonly config: NetpolConfig, pods = DEFAULT_PODS) {
    const PODS_PER_NS = Math.ceil(pods / NAMESPACES);
    if (PODS_PER_NS * NAMESPACES + 256 > 1 << 17) throw new Error(`${pods} pods do not fit the bench's 198.18.0.0/15`);
    // one pod in `localEvery` is on this node: ~110 whatever the size, as on a real node
    const localEvery = Math.max(1, Math.round((91 * PODS_PER_NS) / 100));
    for (let n = 0; n < NAMESPACES; n++) {
      const name = `ns-${n}`;
      this.namespaces.set(name, { metadata: { name, labels: { 'kubernetes.io/metadata.name': name, team: `t${n % 5}` } } });
      for (let j = 0; j < PODS_PER_NS; j++) {
        const g = n * PODS_PER_NS + j + 256;
        const local = g % localEvery === 0;
        const pod: Pod = {
          metadata: { namespace: name, name: `pod-${j}`, labels: { app: `app-${j % 10}`, tier: j % 2 ? 'web' : 'db' } },
          spec: { nodeName: local ? NODE : `node-${g % 97}`, containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 8000 + (j % 3) }] }] },
          status: { phase: 'Running', podIP: podIp(g), podIPs: [{ ip: podIp(g) }] },
        };
        this.pods.set(`${name}/pod-${j}`, slimPod(pod));
        (local ? this.localPods : this.remotePods).push(`${name}/pod-${j}`);
      }
      for (let k = 0; k < POLICIES_PER_NS; k++) this.policies.set(`${name}/pol-${k}`, policyFor(name, n, k));
    }
  }

  // Like the daemon's cache stores, the lists stay the same arrays until something in them changes.
  private podList: Pod[] | null = null;
  private namespaceList: Namespace[] | null = null;
  private policyList: NetworkPolicy[] | null = null;

  view(): Result<ClusterView> {
    return ok({
      pods: (this.podList ??= [...this.pods.values()]),
      namespaces: (this.namespaceList ??= [...this.namespaces.values()]),
      policies: (this.policyList ??= [...this.policies.values()]),
      nodeName: NODE, nodeIPs: ['198.51.100.1'], podCIDRs: ['198.18.0.0/15'], config: this.config,
    });
  }

  pod(key: string): Pod | undefined {
    return this.pods.get(key);
  }

  namespace(name: string): Namespace | undefined {
    return this.namespaces.get(name);
  }

  policy(key: string): NetworkPolicy | undefined {
    return this.policies.get(key);
  }

  /** Flips a pod between two app labels (changes which policies select it as target or peer). */
  relabel(key: string): void {
    const pod = this.pods.get(key);
    if (!pod) throw new Error(`no pod ${key}`);
    const app = pod.metadata?.labels?.['app'] === 'app-1' ? 'app-2' : 'app-1';
    this.podList = null;
    this.pods.set(key, slimPod({ ...pod, metadata: { ...pod.metadata, labels: { ...pod.metadata?.labels, app } } }));
  }
}

/** Policy kind k (0-9) of namespace n: default deny, pod, namespace+pod, ipBlock and egress peers. */
export function policyFor(namespace: string, n: number, k: number): NetworkPolicy {
  const meta = { namespace, name: `pol-${k}` };
  if (k === 0) return { metadata: meta, spec: { podSelector: {}, policyTypes: ['Ingress'] } };
  if (k <= 6) {
    return { metadata: meta, spec: { podSelector: { matchLabels: { app: `app-${k}` } }, ingress: [{
      from: [{ podSelector: { matchLabels: { app: `app-${k + 1}` } } }], ports: [{ protocol: 'TCP', port: 8080 + k }] }] } };
  }
  if (k === 7) {
    return { metadata: meta, spec: { podSelector: { matchLabels: { tier: 'db' } }, ingress: [{
      from: [{ namespaceSelector: { matchLabels: { team: `t${n % 5}` } }, podSelector: { matchLabels: { app: 'app-1' } } }] }] } };
  }
  if (k === 8) {
    return { metadata: meta, spec: { podSelector: { matchLabels: { tier: 'web' } }, ingress: [{
      from: [{ ipBlock: { cidr: '198.19.0.0/16', except: [`198.19.${n}.0/24`] } }], ports: [{ port: 'http' }] }] } };
  }
  return { metadata: meta, spec: { podSelector: { matchLabels: { app: 'app-9' } }, policyTypes: ['Egress'], egress: [{
    to: [{ namespaceSelector: {}, podSelector: { matchLabels: { app: 'app-3' } } }], ports: [{ port: 'http' }] }] } };
}
