// An in-memory stand-in for the caches the netpol controller reads (pods, namespaces, policies) and a fake
// kernel exec that records every command, for driving the controller without an API server or root.
import type { Namespace, Pod } from 'kubernetes-types/core/v1.js';
import type { NetworkPolicy } from 'kubernetes-types/networking/v1.js';
import type { NetpolSource } from '../../../src/controllers/netpol/controller.ts';
import type { ClusterView, NetpolConfig } from '../../../src/controllers/netpol/plan-view.ts';
import { ok, type Result } from '../../../src/result.ts';
import { objectKey } from '../../../src/kube/cache.ts';

export class FakeCluster implements NetpolSource {
  readonly pods = new Map<string, Pod>();
  readonly namespaces = new Map<string, Namespace>();
  readonly policies = new Map<string, NetworkPolicy>();

  constructor(public config: NetpolConfig, public nodeName = 'node-a', public nodeIPs: string[] = ['198.51.100.1', '2001:db8:100::1'],
    public podCIDRs: string[] = ['198.18.1.0/24', '2001:db8:1::/64']) {}

  // Like the daemon's cache stores, each list stays the same array until something in it changes.
  private lists: { pods?: Pod[]; namespaces?: Namespace[]; policies?: NetworkPolicy[] } = {};

  put(obj: Pod | Namespace | NetworkPolicy, kind: 'Pod' | 'Namespace' | 'NetworkPolicy'): { kind: string; key: string } {
    const key = objectKey(obj);
    if (kind === 'Pod') this.pods.set(key, obj as Pod);
    else if (kind === 'Namespace') this.namespaces.set(key, obj as Namespace);
    else this.policies.set(key, obj as NetworkPolicy);
    this.changed(kind);
    return { kind, key };
  }

  remove(kind: 'Pod' | 'Namespace' | 'NetworkPolicy', key: string): { kind: string; key: string } {
    (kind === 'Pod' ? this.pods : kind === 'Namespace' ? this.namespaces : this.policies).delete(key);
    this.changed(kind);
    return { kind, key };
  }

  private changed(kind: 'Pod' | 'Namespace' | 'NetworkPolicy'): void {
    if (kind === 'Pod') delete this.lists.pods;
    else if (kind === 'Namespace') delete this.lists.namespaces;
    else delete this.lists.policies;
  }

  view(): Result<ClusterView> {
    const l = this.lists;
    return ok({
      pods: (l.pods ??= [...this.pods.values()]), namespaces: (l.namespaces ??= [...this.namespaces.values()]),
      policies: (l.policies ??= [...this.policies.values()]),
      nodeName: this.nodeName, nodeIPs: this.nodeIPs, podCIDRs: this.podCIDRs, config: this.config,
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
}

// The recording fake exec (a kernel that starts empty and accepts every write), for the netpol tests.
export { recordingExec, type RecordedCall } from '../../helpers/fake-exec.ts';
