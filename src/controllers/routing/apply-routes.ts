// The route injector: turns BGP best paths learned from peers into kernel routes `dst via nexthop proto 17` in the
// main table (batched netlink replace/delete), or `dst dev tun-… src <own IP> proto 17` when the overlay tunnels the
// next hop (overlay-plan.ts / overlay-apply.ts), and reconciles the kernel's proto-17 routes and our tunnels against
// them on start and periodically. Of the main table it only reads and writes routes of kube-router's protocol.
import type { BestPathEvent } from '../../bgp/speaker.ts';
import {
  deleteRoutes, listAddresses, listRoutes, replaceRoutes, routeWithDefaults, ROUTE_PROTOCOL_KUBE_ROUTER, RT_TABLE_MAIN,
  type Route,
} from '../../kernel/netlink/rtnetlink.ts';
import type { NetlinkSocket } from '../../kernel/netlink/socket.ts';
import { metrics } from '../../observe/metrics.ts';
import { logger } from '../../observe/log.ts';
import type { OverlayApplier } from './overlay-apply.ts';
import { planOverlay, type OverlayNode, type OverlayPlan } from './overlay-plan.ts';
import { cidrTextContainsIp } from '../../net/cidr.ts';

const log = logger('routing');
const RT_SCOPE_HOST = 254;

export interface RouteInjectorOptions {
  sock: NetlinkSocket;
  /**
   * Proto-17 routes already in the kernel when we start are kept (not deleted as stale) for this long after the
   * first reconcile, so a restart does not cut traffic before BGP has re-learned them (graceful restart keeps them
   * on the peers' side).
   */
  adoptExistingForMs: number;
  now?: () => number;
  /** Tunnels next hops as --enable-overlay/--overlay-type say; without it no tunnel is created or removed. */
  overlay?: OverlayApplier;
}

interface LearnedPath {
  nextHop: string;
}

/** The kernel route for a learned path, or undefined when the next hop is not on a local subnet (upstream installs nothing). */
export function routeForPath(prefix: string, nextHop: string, localSubnets: readonly string[]): Route | undefined {
  if (!localSubnets.some((subnet) => cidrTextContainsIp(subnet, nextHop))) return undefined;
  return routeWithDefaults({ dst: prefix, gateway: nextHop, table: RT_TABLE_MAIN, protocol: ROUTE_PROTOCOL_KUBE_ROUTER });
}

function canonicalPrefix(prefix: string): string {
  return prefix.toLowerCase();
}

export class RouteInjector {
  private readonly learned = new Map<string, LearnedPath>();
  private readonly dirty = new Set<string>();
  private localSubnets: string[] = [];
  private flushScheduled = false;
  private chain: Promise<unknown> = Promise.resolve();
  /** End of the adoption window; set by the first reconcile. */
  private adoptUntil: number | undefined;
  private readonly now: () => number;
  private closed = false;
  private overlayNode: OverlayNode | undefined;
  private overlayPlan: OverlayPlan | undefined;
  /** What the overlay was last applied for; a flush re-applies it only when this changes. */
  private overlayApplied = '';
  private tunnelIfindex = new Map<string, number>();

  constructor(private readonly opts: RouteInjectorOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Best-path events from the speaker's watch; local paths are ours and never installed. */
  onBestPath(event: BestPathEvent): void {
    if (event.isLocal || event.fromPeer === '') return;
    const prefix = canonicalPrefix(event.prefix);
    if (event.withdrawal) this.learned.delete(prefix);
    else {
      this.learned.set(prefix, { nextHop: event.nextHop });
      metrics.bgpAdvertisementsReceived.inc();
    }
    this.dirty.add(prefix);
    this.scheduleFlush();
  }

  /** The watch re-subscribed: forget learned paths; the replay that follows re-learns the live ones. */
  onResync(): void {
    this.learned.clear();
    this.dirty.clear();
  }

  /** Paths currently learned (prefix -> next hop), for tests and metrics. */
  learnedPaths(): Map<string, string> {
    return new Map([...this.learned].map(([p, l]) => [p, l.nextHop]));
  }

  close(): void {
    this.closed = true;
  }

  /**
   * This node's tunnel end addresses and pod CIDRs (from the controller's node sync). A change re-plans every
   * learned path, since it moves tunnel local ends and the `from <pod CIDR>` rules.
   */
  setOverlayNode(node: OverlayNode): void {
    if (JSON.stringify(node) === JSON.stringify(this.overlayNode)) return;
    this.overlayNode = { ...node, podCidrs: [...node.podCidrs] };
    this.overlayApplied = '';
    for (const prefix of this.learned.keys()) this.dirty.add(prefix);
    this.scheduleFlush();
  }

  /**
   * Plans the overlay for all learned paths and applies it when the plan moved (or always, on reconcile). Until the
   * adoption window has passed, tunnels of paths not re-learned yet are kept (unless the overlay is off).
   */
  private async syncOverlay(always: boolean): Promise<boolean> {
    const overlay = this.opts.overlay;
    if (!overlay) return false;
    const learned = new Map([...this.learned].map(([p, l]) => [p, l.nextHop]));
    const plan = planOverlay(learned, this.localSubnets, this.overlayNode, overlay.options);
    this.overlayPlan = plan;
    const signature = JSON.stringify([[...plan.tunnels.values()], plan.rules, plan.fouPorts]);
    if (!always && signature === this.overlayApplied) return false;
    const adopting = this.adoptUntil === undefined || this.now() < this.adoptUntil;
    const result = await overlay.apply(plan, adopting && overlay.options.enabled);
    this.tunnelIfindex = result.ifindexByName;
    this.overlayApplied = result.errors.length === 0 ? signature : '';
    for (const e of result.errors) log.warn({ err: e }, 'overlay apply');
    return true;
  }

  /** The main-table route for a learned path: through its tunnel, directly, or none. */
  private routeFor(prefix: string, nextHop: string): Route | undefined {
    const tunnel = this.overlayPlan?.tunnelOfPrefix.get(prefix);
    if (tunnel === undefined) return routeForPath(prefix, nextHop, this.localSubnets);
    const oif = this.tunnelIfindex.get(tunnel);
    const src = nextHop.includes(':') ? this.overlayNode?.ipv6 : this.overlayNode?.ipv4;
    if (oif === undefined) return undefined;
    return routeWithDefaults({ dst: prefix, oif, table: RT_TABLE_MAIN, protocol: ROUTE_PROTOCOL_KUBE_ROUTER, ...(src ? { src } : {}) });
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Events arrive in bursts (a peer's whole table): one batch per burst.
    setImmediate(() => {
      this.flushScheduled = false;
      void this.serialize(() => this.flush());
    });
  }

  private serialize<T>(work: () => Promise<T>): Promise<T> {
    const next = this.chain.then(work, work);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async refreshLocalSubnets(): Promise<void> {
    const addresses = await listAddresses(this.opts.sock);
    this.localSubnets = addresses.filter((a) => a.scope !== RT_SCOPE_HOST).map((a) => a.address);
  }

  private async flush(): Promise<void> {
    if (this.closed || this.dirty.size === 0) return;
    if (this.localSubnets.length === 0) await this.refreshLocalSubnets();
    const prefixes = new Set(this.dirty);
    this.dirty.clear();
    // A changed overlay may have recreated tunnels (new ifindex): every tunnelled route is written again.
    if (await this.syncOverlay(false)) for (const prefix of this.overlayPlan?.tunnelOfPrefix.keys() ?? []) prefixes.add(prefix);
    const replace: Route[] = [];
    const remove: Route[] = [];
    for (const prefix of prefixes) {
      const learned = this.learned.get(prefix);
      const route = learned ? this.routeFor(prefix, learned.nextHop) : undefined;
      if (route) replace.push(route);
      else remove.push(routeWithDefaults({ dst: prefix, table: RT_TABLE_MAIN, protocol: ROUTE_PROTOCOL_KUBE_ROUTER }));
    }
    await this.write(replace, remove, true);
  }

  /** Writes a batch; deletions of routes that are already gone (ESRCH) are not failures. */
  private async write(replace: Route[], remove: Route[], removalsMayBeAbsent: boolean): Promise<void> {
    if (replace.length > 0) {
      const r = await replaceRoutes(this.opts.sock, replace);
      metrics.hostRoutesAdded.inc(r.acked);
      for (const e of r.errors) log.warn({ dst: replace[e.index]?.dst, err: e.message }, 'could not install a learned route');
    }
    if (remove.length > 0) {
      const r = await deleteRoutes(this.opts.sock, remove);
      metrics.hostRoutesRemoved.inc(r.acked);
      for (const e of r.errors) {
        if (!removalsMayBeAbsent) log.warn({ dst: remove[e.index]?.dst, err: e.message }, 'could not remove a stale route');
      }
    }
  }

  /**
   * Makes the kernel's proto-17 main-table routes match the learned paths: restores missing or changed ones and
   * deletes stale ones (except, during the adoption window after start, routes we have not learned yet).
   */
  reconcile(): Promise<{ added: number; removed: number }> {
    return this.serialize(async () => {
      const started = process.hrtime.bigint();
      await this.refreshLocalSubnets();
      // The window opens at the first reconcile (the daemon is up by then), not at construction: host setup and
      // the daemon's start can outlast a short window, and the first pass would then delete what it should adopt.
      this.adoptUntil ??= this.now() + this.opts.adoptExistingForMs;
      // Tunnels first (orphans out, missing ones back): the routes below point at their ifindexes.
      await this.syncOverlay(true);
      const existing = await listRoutes(this.opts.sock, { protocol: ROUTE_PROTOCOL_KUBE_ROUTER, table: RT_TABLE_MAIN });
      const byDst = new Map(existing.map((r) => [canonicalPrefix(r.dst), r]));
      const replace: Route[] = [];
      const remove: Route[] = [];
      const desired = new Set<string>();
      for (const [prefix, learned] of this.learned) {
        const route = this.routeFor(prefix, learned.nextHop);
        if (!route) continue;
        desired.add(prefix);
        const current = byDst.get(prefix);
        // The kernel fills in the oif of gateway routes: oif and src only tell for tunnelled routes.
        const moved = current && (current.gateway !== route.gateway || (route.oif !== undefined && (current.oif !== route.oif || current.src !== route.src)));
        if (!current || moved) replace.push(route);
      }
      const adopting = this.now() < this.adoptUntil;
      for (const [dst, route] of byDst) {
        if (desired.has(dst) || adopting) continue;
        remove.push(route);
      }
      await this.write(replace, remove, false);
      metrics.hostRoutesSynced.set(desired.size);
      metrics.hostRoutesSyncTime.observe(Number(process.hrtime.bigint() - started) / 1e9);
      return { added: replace.length, removed: remove.length };
    });
  }

  /** Waits until every queued batch has been written (tests, shutdown). */
  async drain(): Promise<void> {
    await new Promise((r) => setImmediate(r));
    await this.serialize(async () => undefined);
  }
}
