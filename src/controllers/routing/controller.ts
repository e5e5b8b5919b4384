// The routes controller (--run-router): wiring only. Node changes re-plan peers, egress sets and (for this node)
// the host setup at once; Service/EndpointSlice changes re-plan only that service's VIPs; a full sync re-plans
// everything. Planners are pure (plan-*.ts); BGP goes through BgpApplier, kernel routes through RouteInjector.
import type { Node, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import type { BgpSpeaker, GlobalConfig } from '../../bgp/speaker.ts';
import { INDEX, SERVICE_NAME_LABEL } from '../../kube/cluster-cache.ts';
import { LastGoodPodCidrs } from '../../kube/pod-cidrs.ts';
import type { Result } from '../../result.ts';
import type { Exec } from '../../kernel/exec.ts';
import type { NetlinkSocket } from '../../kernel/netlink/socket.ts';
import { metrics } from '../../observe/metrics.ts';
import { logger } from '../../observe/log.ts';
import { rejectObject, type ControllerContext } from '../context.ts';
import type { ChangeRef, Controller, SyncOutcome } from '../runtime.ts';
import { ANNOTATION, nodeCommunities, nodeCustomImportRejects, nodePathPrepend } from './annotations.ts';
import { BgpApplier, type OriginatedPath } from './apply-bgp.ts';
import type { RouteInjector } from './apply-routes.ts';
import type { RoutingConfig } from './config.ts';
import { egressSets, syncEgress, syncHost } from './host-setup.ts';
import { LastGoodSettings } from './last-good.ts';
import { enabledFamilies, type LocalBgp, type Problem } from './model.ts';
import { isIgnoredSlice, planPodCidrPaths, planServiceVips, planVipPaths, unionVips } from './plan-paths.ts';
import { planLocalBgp, planPeers, type PeerPlan } from './plan-peers.ts';
import { planPolicies } from './plan-policies.ts';

export const CONTROLLER_NAME = 'routes';
const log = logger(CONTROLLER_NAME);

export interface RoutingDeps {
  ctx: ControllerContext;
  config: RoutingConfig;
  speaker: BgpSpeaker;
  sock: NetlinkSocket;
  exec: Exec;
  injector: RouteInjector;
  /** Starts the BGP daemon if it is not running; an error string when it cannot. */
  ensureDaemon(): Promise<string | undefined>;
}

const sameSet = (a: ReadonlySet<string>, b: ReadonlySet<string>): boolean => a.size === b.size && [...a].every((x) => b.has(x));

export class RoutesController implements Controller {
  readonly name = CONTROLLER_NAME;
  readonly syncPeriodMs: number;
  private readonly bgp: BgpApplier;
  private readonly vipsByService = new Map<string, string[]>();
  private readonly serviceOfSlice = new Map<string, string>();
  private local: LocalBgp | undefined;
  private peerPlan: PeerPlan | undefined;
  /** Every node's last valid routing annotations: a bad edit keeps the previous value. */
  private readonly lastGood = new LastGoodSettings();
  /** Problems already reported since the last full sync (a full sync reports them all again). */
  private readonly reported = new Set<string>();
  /** What the host setup and the egress sets were last applied for, so routine Node updates skip them. */
  private hostAppliedFor = '';
  private nodeIpSet: Set<string> | null = null;
  private egressAppliedFor = '';
  private lock: Promise<unknown> = Promise.resolve();
  /** Every node's last usable pod CIDRs: an annotation turning bad keeps them instead of withdrawing the route. */
  private readonly podCidrs = new LastGoodPodCidrs();

  constructor(private readonly deps: RoutingDeps) {
    this.syncPeriodMs = deps.config.routesSyncPeriodMs;
    this.bgp = new BgpApplier(deps.speaker);
  }

  /** Runs work one at a time: the tool runs and daemon-restart re-applies must not interleave. */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const next = this.lock.then(work, work);
    this.lock = next.catch(() => undefined);
    return next;
  }

  /** The daemon came back empty: forget what was applied and apply everything again. */
  afterDaemonRestart(): Promise<void> {
    this.bgp.reset();
    return this.fullSync();
  }

  private report(problems: Problem[]): void {
    for (const p of problems) {
      const key = `${p.subject.kind}/${p.subject.metadata?.namespace ?? ''}/${p.subject.metadata?.name ?? ''}/${p.reason}/${p.message}`;
      if (this.reported.has(key)) continue;
      this.reported.add(key);
      rejectObject(this.deps.ctx, CONTROLLER_NAME, p.subject, p.reason, p.message);
    }
  }

  /**
   * This node's pod CIDRs. A source that is set but unusable (a bad annotation) is reported on the Node and
   * skipped: the last good value is kept, else the next source (spec.podCIDRs) applies.
   */
  private ownPodCidrs(self: Node): string[] {
    const found = this.podCidrs.resolve(self);
    const using = found.cidrs.length === 0 ? 'no pod CIDR is advertised'
      : `using ${found.cidrs.join(',')} (${found.keptLastGood ? 'its last good value' : found.source ?? ''})`;
    this.report(found.rejected.map((r) => ({
      subject: self, reason: r.source.startsWith('annotation') ? 'BadPodCidrAnnotation' : 'BadPodCidr', message: `${r.message}; ${using}`,
    })));
    if (found.cidrs.length === 0 && found.rejected.length === 0) {
      this.report([{ subject: self, reason: 'NoPodCidr', message: `node ${self.metadata?.name ?? '?'} has no pod CIDR (spec.podCIDR(s) or a kube-router.io/pod-cidr(s) annotation)` }]);
    }
    return found.cidrs;
  }

  /** The injector's overlay needs this node's tunnel end addresses and pod CIDRs (the `from <pod CIDR>` rules). */
  private updateOverlayNode(self: Node, local: LocalBgp): void {
    this.deps.injector.setOverlayNode({
      ...(local.ipv4 ? { ipv4: local.ipv4 } : {}),
      ...(local.ipv6 ? { ipv6: local.ipv6 } : {}),
      podCidrs: this.ownPodCidrs(self),
    });
  }

  private hostInputs(self: Node, local: LocalBgp): string {
    return JSON.stringify([this.ownPodCidrs(self), local.primaryIp]);
  }

  private egressSets(): ReturnType<typeof egressSets> {
    return egressSets(this.nodes(), (node) => this.podCidrs.resolve(node).cidrs);
  }

  private egressInputs(): string {
    return JSON.stringify(this.egressSets());
  }

  private selfNode(): Node {
    const self = this.deps.ctx.currentNode();
    if (!self) throw new Error(`node ${this.deps.ctx.node.name} is not in the cache`);
    return self;
  }

  private nodes(): readonly Node[] {
    return this.deps.ctx.cache.store('nodes').list();
  }

  /** Every node address (the "local endpoint" test uses it); recomputed only after a node change. */
  private nodeIps(): Set<string> {
    if (this.nodeIpSet) return this.nodeIpSet;
    const ips = new Set<string>();
    for (const n of this.nodes()) for (const a of n.status?.addresses ?? []) ips.add(a.address);
    this.nodeIpSet = ips;
    return ips;
  }

  private planService(key: string): void {
    const { cache, node } = this.deps.ctx;
    const svc = cache.store('services').get(key) as Service | undefined;
    if (!svc) {
      this.vipsByService.delete(key);
      return;
    }
    const slices = cache.store('endpointslices').byIndex(INDEX.service, key) as EndpointSlice[];
    const plan = planServiceVips(svc, slices, node.name, this.nodeIps(), this.deps.config);
    this.report(plan.problems);
    if (plan.vips.length > 0) this.vipsByService.set(key, plan.vips);
    else this.vipsByService.delete(key);
  }

  private replanAllServices(): void {
    const { cache } = this.deps.ctx;
    this.vipsByService.clear();
    this.serviceOfSlice.clear();
    const slices = cache.store('endpointslices');
    for (const key of slices.keys()) this.rememberSlice(key, slices.get(key) as EndpointSlice);
    for (const key of cache.store('services').keys()) this.planService(key);
  }

  /** `sliceKey` is the cache's own key string: kept as the map key, it costs no copy per slice. */
  private rememberSlice(sliceKey: string, slice: EndpointSlice): string | undefined {
    const svc = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
    const ns = slice.metadata?.namespace;
    if (!svc || !ns) return undefined;
    const key = `${ns}/${svc}`;
    const before = this.serviceOfSlice.get(sliceKey);
    if (before === key) return before;
    this.serviceOfSlice.set(sliceKey, key);
    return key;
  }

  private localBgp(self: Node): LocalBgp {
    const planned = planLocalBgp(self, this.deps.config, this.lastGood);
    if (!planned.ok) {
      rejectObject(this.deps.ctx, CONTROLLER_NAME, self, 'BgpConfigInvalid', planned.error);
      throw new Error(planned.error);
    }
    this.report(planned.value.problems);
    this.local = planned.value.local;
    return planned.value.local;
  }

  /** Plans and applies global, policies, peers, paths (throws with every error after applying the rest); peers are re-planned only when Nodes changed. */
  private async applyBgp(self: Node, local: LocalBgp, replanPeers: boolean): Promise<void> {
    const { config } = this.deps;
    const errors: string[] = [];
    const global: GlobalConfig = { asn: local.asn, routerId: local.routerId, listenAddresses: local.listenAddresses, listenPort: config.bgpPort };
    if (config.bgpGracefulRestart) {
      global.gracefulRestart = {
        restartTimeSec: Math.round(config.bgpGracefulRestartTimeMs / 1000),
        deferralTimeSec: Math.round(config.bgpGracefulRestartDeferralTimeMs / 1000),
      };
    }
    errors.push(...await this.bgp.applyGlobal(global));
    if (!this.bgp.started) throw new Error(`BGP server did not start: ${errors.join('; ')}`);

    const peerStarted = process.hrtime.bigint();
    if (replanPeers || !this.peerPlan) {
      this.lastGood.retainNodes(new Set(this.nodes().map((n) => n.metadata?.name ?? '')));
      this.peerPlan = planPeers(self, this.nodes(), local, config, this.lastGood);
      this.report(this.peerPlan.problems);
    }
    const peerPlan = this.peerPlan;
    const podCidrs = this.ownPodCidrs(self);
    const vips = unionVips(this.vipsByService);
    const problems: Problem[] = [];
    const pathPrepend = this.lastGood.settle(self, ANNOTATION.pathPrependAs, nodePathPrepend(self), undefined, 'BadPathPrependAnnotation', problems);
    const policy = planPolicies({
      families: enabledFamilies(config),
      podCidrs,
      vips,
      ibgpPeers: [...peerPlan.peers.values()].filter((p) => p.kind === 'internal').map((p) => p.config.neighborAddress),
      externalPeers: [...peerPlan.peers.values()].filter((p) => p.kind === 'external').map((p) => p.config.neighborAddress),
      customImportRejects: this.lastGood.settle(self, ANNOTATION.customImportReject, nodeCustomImportRejects(self), [], 'BadImportRejectAnnotation', problems),
      communities: this.lastGood.settle(self, ANNOTATION.communities, nodeCommunities(self), [], 'BadCommunitiesAnnotation', problems),
      ...(pathPrepend ? { pathPrepend } : {}),
      advertisePodCidr: config.advertisePodCidr,
      overrideNextHop: config.overrideNextHop,
      routeReflectorServer: local.rrServerClusterId !== undefined,
    });
    this.report(problems);
    // Policies first, so a new peer never sees routes the policy would have filtered.
    errors.push(...await this.bgp.applyPolicies(policy));
    errors.push(...await this.bgp.applyPeers(new Map([...peerPlan.peers].map(([a, p]) => [a, p.config]))));
    metrics.bgpInternalPeersSyncTime.observe(Number(process.hrtime.bigint() - peerStarted) / 1e9);
    const paths: OriginatedPath[] = [
      ...planPodCidrPaths(podCidrs, local).map((p) => ({ ...p, kind: 'pod-route' as const })),
      ...planVipPaths(vips, local).map((p) => ({ ...p, kind: 'vip' as const })),
    ];
    errors.push(...await this.bgp.applyPaths(paths));
    if (errors.length > 0) throw new Error(`BGP apply: ${errors.join('; ')}`);
  }

  /** Re-reads the peers' states into bgp_peer_info (after a full sync and on peer state changes). */
  async updatePeerMetrics(): Promise<void> {
    const peers = await this.deps.speaker.listPeers();
    if (!peers.ok) return;
    metrics.bgpPeerInfo.reset();
    for (const p of peers.value) metrics.bgpPeerInfo.set({ address: p.address, type: p.type, asn: String(p.asn), state: p.state }, 1);
  }

  fullSync(): Promise<void> {
    return this.exclusive(async () => {
      const started = process.hrtime.bigint();
      const { config, sock, exec } = this.deps;
      this.reported.clear();
      const self = this.selfNode();
      const local = this.localBgp(self);
      const errors = await syncHost(sock, exec, config, self, local, this.ownPodCidrs(self));
      errors.push(...await syncEgress(exec, config, this.egressSets()));
      if (errors.length === 0) {
        this.hostAppliedFor = this.hostInputs(self, local);
        this.egressAppliedFor = this.egressInputs();
      }
      const daemonError = await this.deps.ensureDaemon();
      if (daemonError) throw new Error(`BGP daemon: ${daemonError}`);
      this.nodeIpSet = null;
      this.replanAllServices();
      await this.applyBgp(self, local, true);
      this.updateOverlayNode(self, local);
      await this.deps.injector.reconcile();
      await this.updatePeerMetrics();
      metrics.routesSyncTime.observe(Number(process.hrtime.bigint() - started) / 1e9);
      if (errors.length > 0) throw new Error(`host setup: ${errors.join('; ')}`);
    });
  }

  handleChanges(changes: ChangeRef[]): Promise<SyncOutcome | void> {
    return this.exclusive(async () => {
      const { ctx, config, sock, exec } = this.deps;
      let nodesChanged = false;
      let nodeIpsChanged = false;
      let selfChanged = false;
      const services = new Set<string>();
      for (const change of changes) {
        if (change.kind === 'Node') {
          nodesChanged = true;
          if (change.key === ctx.node.name) selfChanged = true;
          if (!ctx.cache.store('nodes').get(change.key)) this.podCidrs.forget(change.key);
          // Node status churns (heartbeats); services depend only on the set of node addresses.
          const before = this.nodeIpSet;
          this.nodeIpSet = null;
          if (!before || !sameSet(before, this.nodeIps())) nodeIpsChanged = true;
        } else if (change.kind === 'Service') services.add(change.key);
        else if (change.kind === 'EndpointSlice') {
          const slice = ctx.cache.store('endpointslices').get(change.key) as EndpointSlice | undefined;
          if (slice && isIgnoredSlice(slice) && !this.serviceOfSlice.has(change.key)) continue;
          const key = slice ? this.rememberSlice(change.key, slice) : this.serviceOfSlice.get(change.key);
          if (!slice) this.serviceOfSlice.delete(change.key);
          if (key) services.add(key);
        }
      }
      // Node addresses are part of the "local endpoint" test: when they change, every service is re-planned.
      if (nodeIpsChanged) this.replanAllServices();
      else for (const key of services) this.planService(key);
      const self = this.selfNode();
      const local = selfChanged || !this.local ? this.localBgp(self) : this.local;
      if (selfChanged) this.updateOverlayNode(self, local);
      const errors: string[] = [];
      // Node objects change often (status); the host setup and egress sets are redone only when their inputs moved.
      const hostInputs = this.hostInputs(self, local);
      if (selfChanged && hostInputs !== this.hostAppliedFor) {
        const hostErrors = await syncHost(sock, exec, config, self, local, this.ownPodCidrs(self));
        if (hostErrors.length === 0) this.hostAppliedFor = hostInputs;
        errors.push(...hostErrors);
      }
      const egressInputs = nodesChanged ? this.egressInputs() : this.egressAppliedFor;
      if (egressInputs !== this.egressAppliedFor) {
        const egressErrors = await syncEgress(exec, config, this.egressSets());
        if (egressErrors.length === 0) this.egressAppliedFor = egressInputs;
        errors.push(...egressErrors);
      }
      if (this.bgp.started) await this.applyBgp(self, local, nodesChanged);
      if (errors.length > 0) throw new Error(errors.join('; '));
      log.debug({ changes: changes.length, services: services.size, nodesChanged }, 'applied changes');
    });
  }
}
