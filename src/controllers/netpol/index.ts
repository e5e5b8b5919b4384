// Builds the network-policy controller for the daemon: the cache-backed view, the backend chosen by
// --use-nftables-for-netpol (the other one's leftovers are removed once ours are in place), and the filter
// deciding which cache changes concern it.
import type { Node } from 'kubernetes-types/core/v1.js';
import type { RunningController } from '../runtime.ts';
import { enabledFamilies, type Options } from '../../config/options.ts';
import type { ClusterCache } from '../../kube/cluster-cache.ts';
import { LastGoodPodCidrs } from '../../kube/pod-cidrs.ts';
import { err, ok, type Result } from '../../result.ts';
import { logger } from '../../observe/log.ts';
import { rejectObject, type ControllerContext } from '../context.ts';
import { withMessage } from '../../kernel/exec.ts';
import { detectIptablesMode } from '../../kernel/iptables.ts';
import { netpolExec, type NetpolExec } from './apply-exec.ts';
import { IptablesApplier } from './apply-iptables.ts';
import { NftApplier } from './apply-nftables.ts';
import { NetpolController, type NetpolSource } from './controller.ts';
import { FAMILIES } from './model.ts';
import type { ClusterView, NetpolConfig } from './plan-view.ts';
import { toPolicyPodCached } from './policy-pod.ts';
import { IptablesSync, type SyncBackend } from './sync-backends.ts';
import { NftSync } from './sync-nft.ts';

const log = logger('netpol');

export function netpolConfig(options: Options): NetpolConfig {
  return {
    families: enabledFamilies(options),
    serviceClusterIPRanges: options.serviceClusterIpRanges,
    nodePortRange: { from: options.serviceNodePortRange.first, to: options.serviceNodePortRange.last },
    serviceExternalIPRanges: options.serviceExternalIpRanges,
    loadBalancerIPRanges: options.loadBalancerIpRanges,
    defaultDeny: options.netpolDefaultDeny,
  };
}

function nodeAddresses(node: Node | undefined, fallback: (string | undefined)[]): string[] {
  const fromNode = (node?.status?.addresses ?? []).filter((a) => a.type === 'InternalIP' || a.type === 'ExternalIP').map((a) => a.address);
  return [...new Set([...fromNode, ...fallback.filter((x): x is string => !!x)])];
}

/** The planner's view over the shared cache. */
export function cacheSource(ctx: ControllerContext, config: NetpolConfig): NetpolSource {
  const pods = ctx.cache.store('pods');
  const namespaces = ctx.cache.store('namespaces');
  const policies = ctx.cache.store('networkpolicies');
  let warnedCidrs = false;
  const podCidrs = new LastGoodPodCidrs();
  const reported = new Set<string>();
  // This node's addresses, recomputed only when the node object or the identity facts change: every view and
  // every arriving pod asks, and an unchanged answer must be the same array (the conversion cache keys on it).
  let addresses = { node: undefined as Node | undefined, fallback: '', ips: [] as string[] };
  const nodeIPs = (node: Node | undefined): string[] => {
    const fallback = [ctx.node.primaryIp, ctx.node.ipv4, ctx.node.ipv6];
    const id = fallback.join();
    if (node !== addresses.node || id !== addresses.fallback) addresses = { node, fallback: id, ips: nodeAddresses(node, fallback) };
    return addresses.ips;
  };
  return {
    view(): Result<ClusterView> {
      const node = ctx.currentNode();
      let podCIDRs: string[] = [];
      if (node) {
        const found = podCidrs.resolve(node);
        podCIDRs = found.cidrs;
        // A bad annotation is skipped (last good value, else spec) and reported once per distinct problem.
        for (const r of found.rejected) {
          if (reported.has(r.message)) continue;
          reported.add(r.message);
          rejectObject(ctx, 'netpol', { ...node, apiVersion: 'v1', kind: 'Node' }, r.source.startsWith('annotation') ? 'BadPodCidrAnnotation' : 'BadPodCidr',
            `${r.message}; default-deny covers ${podCIDRs.join(',') || 'no pod CIDR'}`);
        }
        if (podCIDRs.length === 0 && config.defaultDeny && !warnedCidrs) {
          warnedCidrs = true;
          log.warn({ node: node.metadata?.name }, '--netpol-default-deny: this node has no pod CIDR; unprogrammed pods are not rejected');
        }
      }
      if (!ctx.node.name) return err('node name unknown');
      return ok({
        pods: pods.list(), namespaces: namespaces.list(), policies: policies.list(),
        nodeName: ctx.node.name,
        nodeIPs: nodeIPs(node),
        podCIDRs, config,
      });
    },
    pod: (key) => pods.get(key),
    namespace: (name) => namespaces.get(name),
    policy: (key) => policies.get(key),
  };
}

/**
 * Converts pods for planning as they arrive while the caches fill (the loop mostly waits on the API server
 * then), so the first full sync finds 50k pods converted instead of spending ~80 ms on them while its kernel
 * writes wait. Node facts as the view will have them (this node's addresses, its identity's among them);
 * until this node's object is in the cache nothing is converted. Returns the unsubscribe.
 */
export function convertPodsWhileCachesFill(cache: ClusterCache, nodeName: string): () => void {
  const nodes = cache.store('nodes');
  let facts = { node: undefined as Node | undefined, ips: [] as string[] };
  return cache.store('pods').onChange((e) => {
    const node = e.newObj ? nodes.get(nodeName) : undefined;
    if (!e.newObj || !node) return;
    // The identity's addresses (kube/node-identity.ts) are drawn from this same list, so they add nothing here.
    if (node !== facts.node) facts = { node, ips: nodeAddresses(node, []) };
    toPolicyPodCached(e.newObj, nodeName, facts.ips);
  });
}

export interface Backends {
  backend: SyncBackend;
  removeOtherBackend: () => Promise<Result<unknown>>;
}

/** The selected backend and the cleanup of the other one (a missing tool means nothing of it to clean). */
export async function chooseBackend(exec: NetpolExec, useNftables: boolean): Promise<Result<Backends>> {
  const nft = new NftApplier(exec);
  const detectLegacy = async (): Promise<Result<IptablesApplier>> => {
    const mode = await detectIptablesMode(exec);
    return mode.ok ? ok(new IptablesApplier(exec, mode.value)) : withMessage(mode);
  };
  if (useNftables) {
    return ok({
      backend: new NftSync(nft),
      removeOtherBackend: async () => {
        const ipt = await detectLegacy();
        if (!ipt.ok) return ok(null);
        return ipt.value.removeAll(FAMILIES);
      },
    });
  }
  const ipt = await detectLegacy();
  if (!ipt.ok) return ipt;
  log.info({ mode: ipt.value.mode }, 'network policy: iptables backend');
  return ok({
    backend: new IptablesSync(ipt.value),
    removeOtherBackend: async () => {
      const r = await nft.removeAll(FAMILIES);
      // No nft binary: no nft table of ours can exist.
      return r.ok || r.error.kind === 'tool-not-found' ? ok(null) : withMessage(r);
    },
  });
}

export async function createNetpolController(ctx: ControllerContext): Promise<RunningController> {
  const config = netpolConfig(ctx.options);
  const chosen = await chooseBackend(netpolExec(), ctx.options.useNftablesForNetpol);
  if (!chosen.ok) throw new Error(`network policy controller: ${chosen.error}`);
  const controller = new NetpolController({
    source: cacheSource(ctx, config),
    backend: chosen.value.backend,
    removeOtherBackend: chosen.value.removeOtherBackend,
    syncPeriodMs: ctx.options.iptablesSyncPeriodMs,
    reject: (policy, r) => rejectObject(ctx, 'netpol', { ...policy, apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy' }, 'InvalidNetworkPolicy', `${r.field}: ${r.message}`),
    rejectPod: (pod, message) => rejectObject(ctx, 'netpol', { ...pod, apiVersion: 'v1', kind: 'Pod' }, 'NetworkPolicyNotProgrammable', message),
    // The API server accepts these, so they are not rejections: a warning names what was meant by them.
    normalized: (policy, cidrs) => log.warn({ policy: `${policy.metadata?.namespace ?? ''}/${policy.metadata?.name ?? ''}`, cidrs },
      'ipBlock CIDR with host bits set: using the network it is in'),
  });
  return {
    controller,
    wants: (change) => change.kind === 'Pod' || change.kind === 'Namespace' || change.kind === 'NetworkPolicy' ||
      (change.kind === 'Node' && change.key === ctx.node.name),
    // Rules stay in place on exit: pods keep their policy while the daemon restarts.
  };
}

/** --cleanup-config: removes every chain, jump and set of ours (iptables) and our nftables tables. */
export async function cleanupNetpolState(): Promise<string[]> {
  const exec = netpolExec();
  const errors: string[] = [];
  const mode = await detectIptablesMode(exec);
  if (mode.ok) {
    const r = await new IptablesApplier(exec, mode.value).removeAll(FAMILIES);
    if (!r.ok) errors.push(r.error);
  }
  const nft = await new NftApplier(exec).removeAll(FAMILIES);
  // No nft binary: no nft table of ours can exist.
  if (!nft.ok && nft.error.kind !== 'tool-not-found') errors.push(nft.error.message);
  return errors;
}
