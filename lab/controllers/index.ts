// Starts the lab's in-process control loops against the lab API store: ClusterIP/NodePort allocation
// (an admission hook), node pod-CIDR allocation, EndpointSlice maintenance, DaemonSets and the default
// ServiceAccount of each namespace.
import type { LabApi } from '../apiserver/api.ts';
import { makeServiceAllocator } from './service-allocator.ts';
import { startPodCidrAllocator } from './pod-cidr.ts';
import { startEndpointSliceController } from './endpointslices.ts';
import { startDaemonSetController } from './daemonsets.ts';
import { startDefaultServiceAccounts } from './service-accounts.ts';

export interface LabControllerOptions {
  /** Cluster (pod) CIDRs, one per family; default ["198.18.0.0/16"]. Empty: no pod-CIDR allocation. */
  clusterCidrs?: string[];
  /** Service CIDRs, one per family; default ["198.19.0.0/20"] (kept off the 198.51.100.0/24 underlay). */
  serviceCidrs?: string[];
  nodePortRange?: [number, number];
  nodeMaskV4?: number;
  nodeMaskV6?: number;
  /** Run the EndpointSlice controller (default true). */
  endpointSlices?: boolean;
  /** Endpoints per EndpointSlice before another slice is started (default 100, as upstream). */
  maxEndpointsPerSlice?: number;
  /** How long EndpointSlice changes collect before they are written (default 50 ms; 0: next event-loop turn). */
  endpointSliceBatchMs?: number;
  /** Run the DaemonSet controller (default true). */
  daemonSets?: boolean;
}

export const DEFAULT_CLUSTER_CIDRS = ['198.18.0.0/16'];
export const DEFAULT_SERVICE_CIDRS = ['198.19.0.0/20'];

export function startLabControllers(api: LabApi, options: LabControllerOptions = {}): { stop(): void } {
  const allocator = makeServiceAllocator(api, {
    serviceCidrs: options.serviceCidrs ?? DEFAULT_SERVICE_CIDRS,
    ...(options.nodePortRange ? { nodePortRange: options.nodePortRange } : {}),
  });
  api.addAdmissionHook(allocator.hook);
  const stops: (() => void)[] = [allocator.stop];
  const clusterCidrs = options.clusterCidrs ?? DEFAULT_CLUSTER_CIDRS;
  if (clusterCidrs.length > 0) {
    stops.push(startPodCidrAllocator(api, {
      clusterCidrs,
      ...(options.nodeMaskV4 !== undefined ? { nodeMaskV4: options.nodeMaskV4 } : {}),
      ...(options.nodeMaskV6 !== undefined ? { nodeMaskV6: options.nodeMaskV6 } : {}),
    }));
  }
  if (options.endpointSlices !== false) stops.push(startEndpointSliceController(api, options.maxEndpointsPerSlice, options.endpointSliceBatchMs ?? 50));
  if (options.daemonSets !== false) stops.push(startDaemonSetController(api));
  stops.push(startDefaultServiceAccounts(api));
  return { stop: () => { for (const stop of stops) stop(); } };
}
