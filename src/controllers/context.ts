// What every controller is given by the daemon: configuration, this node's identity, the shared caches,
// the API client, and the observability handles (events, health, a way to report rejected objects).
import type { Node } from 'kubernetes-types/core/v1.js';
import type { Options } from '../config/options.ts';
import type { ClusterCache } from '../kube/cluster-cache.ts';
import type { KubeClient } from '../kube/client.ts';
import type { EventRecorder, EventSubject } from '../observe/events.ts';
import type { HealthRegistry } from '../observe/health.ts';
import { logger } from '../observe/log.ts';
import { metrics } from '../observe/metrics.ts';

export interface NodeIdentity {
  name: string;
  /** The node's primary IP (first InternalIP, else ExternalIP). */
  primaryIp: string;
  /** Best address of each family, as upstream chooses them. */
  ipv4?: string;
  ipv6?: string;
}

export interface ControllerContext {
  options: Options;
  node: NodeIdentity;
  /** The current Node object of this node (from the cache; changes over time). */
  currentNode(): Node | undefined;
  cache: ClusterCache;
  client: KubeClient;
  events: EventRecorder;
  health: HealthRegistry;
}

/**
 * Reports an object a controller cannot use: a warning log line, a Warning Event on the object and a metric.
 * The caller then skips that object (failing closed where policy is concerned) and carries on with the rest.
 */
export function rejectObject(ctx: ControllerContext, controller: string, obj: EventSubject, reason: string, message: string): void {
  const kind = obj.kind ?? 'Object';
  const name = obj.metadata?.namespace ? `${obj.metadata.namespace}/${obj.metadata.name ?? ''}` : obj.metadata?.name ?? '';
  logger(controller).warn({ kind, name, reason }, message);
  ctx.events.record(obj, 'Warning', reason, message);
  metrics.rejectedObjects.inc({ controller, kind, reason });
}
