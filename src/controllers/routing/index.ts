// Builds the routes controller for the daemon: the supervised gobgpd and its gRPC speaker, the route injector fed
// by the speaker's best-path watch (reconciled every --injected-routes-sync-period), and shutdown that leaves
// kernel routes in place (and, with --bgp-graceful-restart, ends gobgpd without a CEASE so peers keep our routes).
import type { ClusterChange } from '../../kube/cluster-cache.ts';
import type { RunningController } from '../runtime.ts';
import { connectGobgp } from '../../bgp/gobgp-client.ts';
import { GobgpdSupervisor } from '../../bgp/gobgpd-supervisor.ts';
import { SecretScrubber } from '../../bgp/gobgpd-log.ts';
import type { BgpSpeaker, Watch } from '../../bgp/speaker.ts';
import { processExec } from '../../kernel/exec.ts';
import { openRtnetlink } from '../../kernel/netlink/rtnetlink.ts';
import { logger } from '../../observe/log.ts';
import { metrics } from '../../observe/metrics.ts';
import type { ControllerContext } from '../context.ts';
import { cleanupEgress } from './apply-egress.ts';
import { ipFamilies } from './host-setup.ts';
import { RouteInjector } from './apply-routes.ts';
import { routingConfig, type RoutingConfig } from './config.ts';
import { OverlayApplier } from './overlay-apply.ts';
import { RoutesController } from './controller.ts';

const log = logger('routes');

export const DEFAULT_GOBGPD_SOCKET = '/run/kube-router/gobgpd.sock';
/** Health component: unhealthy once gobgpd has not served for this long (restarts back off up to 30 s). */
export const GOBGPD_HEALTH = 'gobgpd';
const GOBGPD_DOWN_ALLOWANCE_MS = 60_000;
const WANTED_KINDS = new Set(['Node', 'Service', 'EndpointSlice']);

export interface RoutingOverrides {
  /** Run everything inside this network namespace (tests): gobgpd, netlink, iptables/ipset/sysctl. */
  netns?: string;
  socketPath?: string;
  gobgpdBinary?: string;
  /** How long gobgpd may be down before /healthz reports it (tests shorten it). */
  gobgpdDownAllowanceMs?: number;
}

export interface RoutingControllerHandle extends RunningController {
  controller: RoutesController;
  injector: RouteInjector;
  speaker: BgpSpeaker;
  supervisor: GobgpdSupervisor;
}

export async function createRoutingController(ctx: ControllerContext, overrides: RoutingOverrides = {}): Promise<RoutingControllerHandle> {
  const config = routingConfig(ctx.options);
  if (config.enableBfd) log.warn('--enable-bfd: Debian\'s gobgpd 3.10 has no BFD support; BFD settings are ignored');
  const netnsPath = overrides.netns ? `/run/netns/${overrides.netns}` : undefined;
  const sock = openRtnetlink(netnsPath ? { netns: netnsPath } : {});
  const exec = processExec(overrides.netns);
  const scrubber = new SecretScrubber();
  let controller: RoutesController | undefined;
  const supervisor = new GobgpdSupervisor({
    socketPath: overrides.socketPath ?? DEFAULT_GOBGPD_SOCKET,
    adminAddress: config.gobgpAdminAddress,
    adminPort: config.gobgpAdminPort,
    scrubber,
    ...(overrides.netns ? { netns: overrides.netns } : {}),
    ...(overrides.gobgpdBinary ? { binary: overrides.gobgpdBinary } : {}),
    onRestarted: () => controller?.afterDaemonRestart(),
  });
  const connected = connectGobgp({ target: supervisor.apiTarget, scrubber });
  if (!connected.ok) {
    sock.close();
    throw new Error(`gobgp API: ${connected.error}`);
  }
  const speaker = connected.value;
  const injector = new RouteInjector({
    sock,
    // Keep the routes a previous run installed until BGP had time to re-learn them.
    adoptExistingForMs: config.bgpGracefulRestart ? config.bgpGracefulRestartTimeMs : config.injectedRoutesSyncPeriodMs,
    // Always present: with --enable-overlay=false it removes the tunnels and rules an earlier run left (#728).
    overlay: new OverlayApplier({
      sock,
      exec,
      options: { enabled: config.enableOverlay, type: config.overlayType, encap: config.overlayEncap, encapPort: config.overlayEncapPort },
    }),
  });
  let daemonStarted = false;
  let watch: Watch | undefined;
  let peerMetricsTimer: NodeJS.Timeout | undefined;
  let shutDown = false;
  const ensureDaemon = async (): Promise<string | undefined> => {
    if (daemonStarted) return undefined;
    const started = await supervisor.start();
    if (!started.ok) return started.error;
    daemonStarted = true;
    watch = speaker.watch({
      onBestPath: (e) => injector.onBestPath(e),
      onResync: () => injector.onResync(),
      onPeerState: (e) => {
        log.info({ peer: e.address, asn: e.asn, state: e.state }, 'BGP peer state changed');
        // Sessions flap in bursts; one re-read of the peer list covers a burst.
        peerMetricsTimer ??= setTimeout(() => {
          peerMetricsTimer = undefined;
          void controller?.updatePeerMetrics();
        }, 500);
      },
    });
    return undefined;
  };
  controller = new RoutesController({ ctx, config, speaker, sock, exec, injector, ensureDaemon });
  const reconcileTimer = setInterval(() => {
    if (!daemonStarted) return;
    injector.reconcile().catch((err: unknown) => log.error({ err }, 'injected routes reconcile failed'));
  }, config.injectedRoutesSyncPeriodMs);
  reconcileTimer.unref();
  // Liveness covers gobgpd: a daemon that cannot start (a port held by another process) must not be reported
  // healthy forever. The component beats while gobgpd serves; its detail carries the last failure.
  const allowanceMs = overrides.gobgpdDownAllowanceMs ?? GOBGPD_DOWN_ALLOWANCE_MS;
  ctx.health.register(GOBGPD_HEALTH, allowanceMs);
  const reportDaemon = (): void => {
    const status = supervisor.status();
    metrics.gobgpdUp.set(status.up ? 1 : 0);
    if (status.up) ctx.health.beat(GOBGPD_HEALTH);
    ctx.health.recordSync(GOBGPD_HEALTH, status.up, status.up ? undefined : status.lastError ?? 'gobgpd has not been started yet');
  };
  const daemonHealthTimer = setInterval(reportDaemon, Math.min(5000, allowanceMs / 4));
  daemonHealthTimer.unref();

  return {
    controller,
    injector,
    speaker,
    supervisor,
    wants: (change: ClusterChange) => WANTED_KINDS.has(change.kind),
    async shutdown() {
      if (shutDown) return;
      shutDown = true;
      clearInterval(reconcileTimer);
      clearInterval(daemonHealthTimer);
      ctx.health.unregister(GOBGPD_HEALTH);
      if (peerMetricsTimer) clearTimeout(peerMetricsTimer);
      watch?.close();
      injector.close();
      await injector.drain();
      // Kernel routes stay; with graceful restart gobgpd dies without a CEASE so peers keep our routes as stale.
      await supervisor.stop({ graceful: config.bgpGracefulRestart });
      speaker.close();
      sock.close();
    },
  };
}

/**
 * --cleanup-config for the routes controller, as upstream: the pod egress MASQUERADE rule and our ipsets go;
 * routes, kube-bridge and the CNI file stay (upstream #1084 leaves them too).
 */
export async function cleanupRoutingState(config: Pick<RoutingConfig, 'enableIpv4' | 'enableIpv6'>, netns?: string): Promise<string[]> {
  return cleanupEgress(processExec(netns), ipFamilies(config));
}
