// One pass of this node's pod-networking host setup, in upstream's order: auto-MTU, kube-bridge, CNI file,
// FORWARD accept rules, sysctls, and the pod egress ipsets + MASQUERADE rule. Returns the errors; never throws.
import type { Node } from 'kubernetes-types/core/v1.js';
import type { Exec } from '../../kernel/exec.ts';
import type { NetlinkSocket } from '../../kernel/netlink/socket.ts';
import { bestNodeIP } from '../../kube/node-identity.ts';
import { applyEgressRule, syncEgressIpsets, type EgressSets } from './apply-egress.ts';
import { applyCniConf, applyForwardingSysctls, ensureBridge, ensureForwardRules, interfaceWithAddress } from './apply-host.ts';
import type { RoutingConfig } from './config.ts';
import type { LocalBgp } from './model.ts';

export type HostOptions = Pick<RoutingConfig, 'enableCni' | 'cniConfFile' | 'autoMtu' | 'enablePodEgress' | 'enableIpv4' | 'enableIpv6'>;

export function ipFamilies(options: Pick<RoutingConfig, 'enableIpv4' | 'enableIpv6'>): Array<4 | 6> {
  return [...(options.enableIpv4 ? [4 as const] : []), ...(options.enableIpv6 ? [6 as const] : [])];
}

/** Every node's pod CIDRs (as `podCidrsOf` decides them) and IPs, for the egress ipsets. */
export function egressSets(nodes: readonly Node[], podCidrsOf: (node: Node) => readonly string[]): EgressSets {
  const podSubnets: string[] = [];
  const nodeIps: string[] = [];
  for (const node of nodes) {
    podSubnets.push(...podCidrsOf(node));
    for (const a of node.status?.addresses ?? []) if (a.type === 'InternalIP' || a.type === 'ExternalIP') nodeIps.push(a.address);
    for (const family of [4, 6] as const) {
      const ip = bestNodeIP(node, family);
      if (ip) nodeIps.push(ip);
    }
  }
  return { podSubnets, nodeIps };
}

/** `podCidrs`: this node's pod CIDRs (empty: none usable, the CNI file is then left alone and an error returned). */
export async function syncHost(
  sock: NetlinkSocket, exec: Exec, options: HostOptions, self: Node, local: LocalBgp, podCidrs: readonly string[],
): Promise<string[]> {
  const errors: string[] = [];
  const families = ipFamilies(options);
  const nodeLink = await interfaceWithAddress(sock, local.primaryIp);
  if (options.enableCni) {
    let mtu: number | undefined;
    // As upstream's code (not its help text): the node interface's MTU, with no overlay subtraction; pods
    // reach same-subnet nodes unencapsulated, and upstream's subtraction once applied twice (#1033).
    if (options.autoMtu && nodeLink?.mtu !== undefined) mtu = nodeLink.mtu;
    const bridge = await ensureBridge(sock, mtu);
    if (!bridge.ok) errors.push(bridge.error);
    else if (mtu !== undefined) mtu = bridge.value ?? mtu;
    if (podCidrs.length === 0) errors.push(`node ${self.metadata?.name ?? '?'} has no usable pod CIDR`);
    else {
      const written = await applyCniConf(options.cniConfFile, [...podCidrs], options.autoMtu ? mtu : undefined);
      if (!written.ok) errors.push(written.error);
    }
  }
  errors.push(...await ensureForwardRules(exec, families, nodeLink?.name));
  errors.push(...await applyForwardingSysctls(exec, families));
  return errors;
}

export async function syncEgress(exec: Exec, options: HostOptions, sets: EgressSets): Promise<string[]> {
  const families = ipFamilies(options);
  const errors: string[] = [];
  if (options.enablePodEgress) errors.push(...await syncEgressIpsets(exec, sets, families));
  errors.push(...await applyEgressRule(exec, options.enablePodEgress, families));
  return errors;
}
