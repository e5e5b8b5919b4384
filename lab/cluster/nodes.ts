// Node objects of the lab cluster: registered as a kubelet would (addresses, Ready condition, hostname label),
// waiting for the pod-CIDR loop to fill spec.podCIDR, and optional static pod-CIDR routes between nodes built
// from those allocated CIDRs (for runs without kube-router's BGP routing).
import type { LabApi } from '../apiserver/api.ts';
import type { KubeObject } from '../apiserver/resources.ts';
import { ipBatch } from '../netns/exec.ts';

export interface ClusterNode {
  name: string;
  netns: string;
  ip: string;
}

const timestamp = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

export function nodeObject(node: ClusterNode, ready: boolean): KubeObject {
  const at = timestamp();
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: node.name, labels: { 'kubernetes.io/hostname': node.name, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64' } },
    spec: {},
    status: {
      addresses: [{ type: 'InternalIP', address: node.ip }, { type: 'Hostname', address: node.name }],
      conditions: [{
        type: 'Ready', status: ready ? 'True' : 'False', lastHeartbeatTime: at, lastTransitionTime: at,
        reason: ready ? 'KubeletReady' : 'KubeletNotReady', message: ready ? 'lab kubelet is running' : 'lab kubelet is starting',
      }],
      nodeInfo: { kubeletVersion: 'v1.30.0-lab', containerRuntimeVersion: 'lab://netns', operatingSystem: 'linux', architecture: 'amd64', osImage: 'kube-router lab', kernelVersion: '', kubeProxyVersion: '', machineID: '', systemUUID: '', bootID: '' },
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
    },
  };
}

export function registerNode(api: LabApi, node: ClusterNode): void {
  const created = api.create(api.type('', 'nodes'), nodeObject(node, true));
  if (!created.ok) throw new Error(`registering node ${node.name}: ${created.error.message}`);
}

const LEASE_NAMESPACE = 'kube-node-lease';
const LEASE_SECONDS = 40;
const RENEW_MS = 10_000;
/** MicroTime, as the kubelet writes it. */
const microTime = (): string => new Date().toISOString().replace(/Z$/, '000Z');

/**
 * Node heartbeats as a kubelet sends them: one Lease per node in kube-node-lease, owned by the Node, renewed every
 * 10 s. Returns the function that stops renewing (the leases then expire, as when kubelets stop).
 */
export function startNodeLeases(api: LabApi, nodes: ClusterNode[]): () => void {
  const type = api.type('coordination.k8s.io', 'leases');
  const renew = (): void => {
    for (const node of nodes) {
      const owner = api.get(api.type('', 'nodes'), undefined, node.name);
      const current = api.get(type, LEASE_NAMESPACE, node.name);
      if (current.ok) {
        const spec = (current.value['spec'] ?? {}) as Record<string, unknown>;
        api.update(type, { ...current.value, spec: { ...spec, renewTime: microTime() } });
        continue;
      }
      api.create(type, {
        apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
        metadata: {
          name: node.name, namespace: LEASE_NAMESPACE,
          ...(owner.ok ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: node.name, uid: String((owner.value['metadata'] as { uid?: string }).uid ?? '') }] } : {}),
        },
        spec: { holderIdentity: node.name, leaseDurationSeconds: LEASE_SECONDS, renewTime: microTime() },
      });
    }
  };
  renew();
  const timer = setInterval(renew, RENEW_MS);
  timer.unref();
  return () => clearInterval(timer);
}

/** Waits (polling the store) until every node has spec.podCIDR; resolves with name -> pod CIDR. */
export async function waitForPodCidrs(api: LabApi, names: string[], timeoutMs = 10_000): Promise<Map<string, string>> {
  const type = api.type('', 'nodes');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = new Map<string, string>();
    for (const name of names) {
      const node = api.get(type, undefined, name);
      const cidr = node.ok ? ((node.value['spec'] ?? {}) as { podCIDR?: string }).podCIDR : undefined;
      if (cidr) found.set(name, cidr);
    }
    if (found.size === names.length) return found;
    if (Date.now() > deadline) throw new Error(`nodes without a pod CIDR after ${timeoutMs} ms: ${names.filter((n) => !found.has(n)).join(', ')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Every node gets a route to every other node's pod CIDR via that node's underlay address (one subnet). */
export function installStaticPodRoutes(nodes: ClusterNode[], podCidrs: Map<string, string>): void {
  for (const from of nodes) {
    const lines = nodes.filter((to) => to !== from).map((to) => `route replace ${podCidrs.get(to.name)!} via ${to.ip}`);
    ipBatch(from.netns, lines);
  }
}
