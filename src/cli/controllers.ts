// Which controllers run for the given flags, which cluster resources they need watched, and which changes
// each one wants to hear about.
import type { Options } from '../config/options.ts';
import type { ClusterCache, ResourceName } from '../kube/cluster-cache.ts';
import { permissionsFor, type Permission } from '../kube/api-access.ts';
import type { ControllerContext } from '../controllers/context.ts';
import type { RunningController } from '../controllers/runtime.ts';
import { logger } from '../observe/log.ts';
import { routingConfig } from '../controllers/routing/config.ts';
import { cleanupRoutingState, createRoutingController } from '../controllers/routing/index.ts';
import { cleanupNetpolState, convertPodsWhileCachesFill, createNetpolController } from '../controllers/netpol/index.ts';
import { cleanupProxyState, createProxyController } from '../controllers/proxy/index.ts';

/** The resources the daemon watches for these flags: nodes always (its own identity), the rest per controller. */
export function resourcesFor(options: Options): ResourceName[] {
  const wanted = new Set<ResourceName>(['nodes']);
  if (options.runFirewall) for (const r of ['pods', 'namespaces', 'networkpolicies'] as const) wanted.add(r);
  if (options.runRouter || options.runServiceProxy) for (const r of ['services', 'endpointslices'] as const) wanted.add(r);
  return [...wanted];
}

/** The API permissions the daemon needs for these flags; deploy/ ClusterRoles must grant exactly these. */
export function apiPermissionsFor(options: Options): Permission[] {
  return permissionsFor(resourcesFor(options));
}

/**
 * Builds the controllers the flags enable. When one cannot start, the ones already built are shut down (their
 * gobgpd, timers, sockets) before the error is thrown, so the daemon can report it and exit instead of living on
 * with half its controllers and a health endpoint that still answers.
 */
export async function buildControllers(ctx: ControllerContext): Promise<RunningController[]> {
  const log = logger('main');
  const running: RunningController[] = [];
  const { options } = ctx;
  try {
    if (options.runRouter) {
      // One gobgpd API socket per node name: several lab nodes share one host's /run.
      const socketPath = `/run/kube-router/gobgpd-${ctx.node.name}.sock`;
      running.push(await createRoutingController(ctx, { socketPath }));
    }
    // Before the firewall: its INPUT jump goes in at position 1, and the firewall's own jumps then go above it.
    if (options.runServiceProxy) running.push(await createProxyController(ctx));
    // After the routes controller, as upstream: the firewall's jumps go in front of the FORWARD accepts.
    if (options.runFirewall) running.push(await createNetpolController(ctx));
  } catch (err) {
    for (const c of running.reverse()) await c.shutdown?.();
    throw err;
  }
  if (options.runLoadBalancer) log.warn('--run-loadbalancer: the load-balancer allocator is not implemented in this build yet');
  return running;
}

/**
 * The order in which the controllers' first full syncs take turns (runtime.ts FirstSyncTurns): the firewall
 * first, so that on a new node neither this node's routes (advertised once the routing controller's BGP
 * speaker runs) nor its services carry traffic to a pod before that pod's policy is in place; then the others
 * in the order they were built.
 */
export function firstSyncOrder<T extends RunningController>(running: readonly T[]): T[] {
  return [...running.filter((r) => r.controller.name === 'netpol'), ...running.filter((r) => r.controller.name !== 'netpol')];
}

/**
 * Work the controllers can do while the caches fill, before this node's identity is checked and they are
 * built; returns what stops it (called once they are built).
 */
export function beforeCachesFill(cache: ClusterCache, options: Options, name: string): () => void {
  return options.runFirewall ? convertPodsWhileCachesFill(cache, name) : () => undefined;
}

/** --cleanup-config: removes what the controllers made that is safe to remove, then the daemon exits. */
export async function cleanupConfig(options: Options): Promise<void> {
  await cleanupRoutingState(routingConfig(options));
  for (const error of await cleanupNetpolState()) logger('main').warn({ error }, 'network policy cleanup');
  for (const error of await cleanupProxyState(options)) logger('main').warn({ error }, 'service proxy cleanup');
}
