// The address ranges the lab gives kube-router (service cluster IPs, externalIPs, load-balancer IPs) and the
// routes its external client has into the cluster. A range given in --kube-router-args wins over the lab's own,
// and the external client then routes what kube-router was actually told.
import { canonicalCidr, familyOf } from '../../src/net/cidr.ts';
import { DEFAULT_EXTERNAL_IP_RANGE, DEFAULT_LOADBALANCER_IP_RANGE, type ClusterOptions } from './layout.ts';

/** Values of a string-list flag in kube-router's argument list (`--name=a,b` or `--name a`); undefined when absent. */
export function flagValues(args: readonly string[], name: string): string[] | undefined {
  let values: string[] | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    let text: string | undefined;
    if (arg.startsWith(`--${name}=`)) text = arg.slice(name.length + 3);
    else if (arg === `--${name}` && args[i + 1] !== undefined) text = args[++i];
    if (text !== undefined) (values ??= []).push(...text.split(',').map((v) => v.trim()).filter((v) => v !== ''));
  }
  return values;
}

export interface ServiceRanges {
  /** Arguments the lab adds before the user's --kube-router-args (only for flags the user did not give). */
  args: string[];
  clusterIp: string[];
  externalIp: string[];
  loadBalancerIp: string[];
}

const RANGE_FLAGS = [
  ['clusterIp', 'service-cluster-ip-range'],
  ['externalIp', 'service-external-ip-range'],
  ['loadBalancerIp', 'loadbalancer-ip-range'],
] as const;

/** What kube-router is told for each range: the user's flag if given, else the lab's range (added to `args`). */
export function serviceRanges(options: ClusterOptions): ServiceRanges {
  const labRanges = {
    clusterIp: options.serviceCidr,
    externalIp: options.externalIpRange ?? DEFAULT_EXTERNAL_IP_RANGE,
    loadBalancerIp: options.loadBalancerIpRange ?? DEFAULT_LOADBALANCER_IP_RANGE,
  };
  const out: ServiceRanges = { args: [], clusterIp: [], externalIp: [], loadBalancerIp: [] };
  for (const [key, flag] of RANGE_FLAGS) {
    const given = flagValues(options.kubeRouterArgs, flag);
    if (given) out[key] = given;
    else {
      out[key] = [labRanges[key]];
      out.args.push(`--${flag}=${labRanges[key]}`);
    }
  }
  return out;
}

/**
 * What the external client routes via a node, as an upstream router would: the pod range and every IPv4
 * service range kube-router serves (the lab's underlay is IPv4).
 */
export function externalClientRoutes(options: ClusterOptions, ranges: ServiceRanges): string[] {
  const all = [options.clusterCidr, ...ranges.clusterIp, ...ranges.externalIp, ...ranges.loadBalancerIp];
  // a range with host bits set (kube-router masks them) is routed as its network
  const canonical = all.flatMap((text) => { const c = canonicalCidr(text); return c.ok && familyOf(c.value) === 4 ? [c.value] : []; });
  return [...new Set(canonical)];
}
