// The lab network as plain data: namespace names, underlay addresses, pod CIDRs and static routes,
// computed from the options without touching the kernel (network.ts applies it).
import { parseCidr } from '../../src/net/cidr.ts';
import { formatIp, ipFromBigInt, ipToBigInt } from '../../src/net/ip.ts';

export interface UnderlaySubnet {
  /** e.g. 198.51.100.0/24 */
  cidr: string;
  /** Bridge in the underlay namespace that this subnet's nodes are attached to. */
  bridge: string;
  /** Address of the underlay namespace on this subnet (routes between subnets); undefined with one subnet. */
  gateway?: string;
}

export interface LabNode {
  /** Node name as the API server knows it, e.g. `<prefix>-n1` (also its namespace name). */
  name: string;
  netns: string;
  index: number;
  /** Underlay address of eth0, without prefix length. */
  ip: string;
  /** Index into LabTopology.subnets. */
  subnet: number;
  podCidr: string;
  /** Name of the node's veth end inside the underlay namespace. */
  underlayPort: string;
}

export interface StaticRoute {
  netns: string;
  dst: string;
  via: string;
}

/**
 * A client outside the cluster: a namespace on the first underlay subnet that is not a node, routing the given
 * ranges (pods, Services, external and load-balancer IPs) via one node, as an upstream router would.
 */
export interface ExternalClient {
  netns: string;
  /** Underlay address of its eth0: the last host address of the first subnet (198.51.100.254 by default). */
  ip: string;
  /** Its veth end inside the underlay namespace. */
  underlayPort: string;
  /** The node the routes point at (the first node on the first subnet). */
  via: string;
  routes: string[];
}

export interface LabTopology {
  prefix: string;
  underlayNetns: string;
  subnets: UnderlaySubnet[];
  nodes: LabNode[];
  external?: ExternalClient;
  /** Pod-CIDR routes between nodes; empty when the routing daemon (kube-router) is meant to add them. */
  routes: StaticRoute[];
}

export interface TopologyOptions {
  /** Prefix of every namespace the lab creates (`<prefix>-ul`, `<prefix>-n1`, ...). */
  prefix: string;
  nodes: number;
  /** Default 198.51.100.0/24; node i gets host address 10+i. */
  underlayCidr?: string;
  /** Second underlay subnet (default 198.19.100.0/24) for the 1-based node indexes listed in `nodesInSecondSubnet`. */
  secondUnderlayCidr?: string;
  nodesInSecondSubnet?: number[];
  /** Pod CIDR of node i is the i-th /24 of this range (default 198.18.0.0/16 -> node i = 198.18.i.0/24). */
  podCidrRange?: string;
  /** Add pod-CIDR routes between nodes (for runs without kube-router's BGP routing). */
  staticRoutes?: boolean;
  /** Add an external client (`<prefix>-ext`) routing these IPv4 CIDRs via the first node of the first subnet. */
  externalClient?: { routes: string[] };
}

export const DEFAULT_UNDERLAY_CIDR = '198.51.100.0/24';
export const DEFAULT_SECOND_UNDERLAY_CIDR = '198.19.100.0/24';
export const DEFAULT_POD_CIDR_RANGE = '198.18.0.0/16';

function intToIp(n: number): string {
  return formatIp(ipFromBigInt(4, BigInt(n)));
}

/** The IPv4 network of `cidr` as a number, and its prefix length (the lab's underlay and pod ranges are IPv4). */
export function ipv4Cidr(cidr: string): { base: number; bits: number } {
  const parsed = parseCidr(cidr);
  if (!parsed.ok || parsed.value.family !== 4) throw new Error(`bad IPv4 CIDR ${cidr}`);
  return { base: Number(ipToBigInt({ family: 4, bytes: parsed.value.network })), bits: parsed.value.prefixLength };
}

/** Host number `host` inside `cidr`, checked to fit (no network or broadcast address). */
export function hostInCidr(cidr: string, host: number): string {
  const { base, bits } = ipv4Cidr(cidr);
  const size = 2 ** (32 - bits);
  if (host < 1 || host >= size - 1) throw new Error(`host ${host} does not fit in ${cidr}`);
  return intToIp(base + host);
}

/** The `index`-th /24 of `range` (e.g. 198.18.0.0/16, 3 -> 198.18.3.0/24). */
export function nthSlash24(range: string, index: number): string {
  const { base, bits } = ipv4Cidr(range);
  if (bits > 24 || index >= 2 ** (24 - bits)) throw new Error(`no /24 number ${index} in ${range}`);
  return `${intToIp(base + index * 256)}/24`;
}

export function nodeName(prefix: string, index: number): string {
  return `${prefix}-n${index}`;
}

export function underlayNetnsName(prefix: string): string {
  return `${prefix}-ul`;
}

export function externalNetnsName(prefix: string): string {
  return `${prefix}-ext`;
}

/** Plans the whole lab network; throws on options that cannot be laid out. */
export function planTopology(opts: TopologyOptions): LabTopology {
  if (!/^[a-z0-9][a-z0-9-]{0,30}$/.test(opts.prefix)) throw new Error(`prefix ${opts.prefix} must be short lowercase [a-z0-9-]`);
  if (!Number.isInteger(opts.nodes) || opts.nodes < 1 || opts.nodes > 200) throw new Error(`node count ${opts.nodes} out of range`);
  const second = new Set(opts.nodesInSecondSubnet ?? []);
  const twoSubnets = second.size > 0;
  const cidrs = [opts.underlayCidr ?? DEFAULT_UNDERLAY_CIDR];
  if (twoSubnets) cidrs.push(opts.secondUnderlayCidr ?? DEFAULT_SECOND_UNDERLAY_CIDR);
  const subnets: UnderlaySubnet[] = cidrs.map((cidr, i) => ({
    cidr,
    bridge: `br${i}`,
    ...(twoSubnets ? { gateway: hostInCidr(cidr, 1) } : {}),
  }));
  const podRange = opts.podCidrRange ?? DEFAULT_POD_CIDR_RANGE;
  const nodes: LabNode[] = [];
  for (let i = 1; i <= opts.nodes; i++) {
    const subnet = second.has(i) ? 1 : 0;
    const name = nodeName(opts.prefix, i);
    nodes.push({
      name,
      netns: name,
      index: i,
      ip: hostInCidr(cidrs[subnet]!, 10 + i),
      subnet,
      podCidr: nthSlash24(podRange, i),
      underlayPort: `n${i}`,
    });
  }
  for (const i of second) if (i < 1 || i > opts.nodes) throw new Error(`node ${i} in second subnet does not exist`);
  return {
    prefix: opts.prefix, underlayNetns: underlayNetnsName(opts.prefix), subnets, nodes,
    ...(opts.externalClient ? { external: planExternalClient(opts.prefix, nodes, cidrs[0]!, opts.externalClient.routes) } : {}),
    routes: opts.staticRoutes ? planStaticRoutes(opts.prefix, nodes, subnets) : [],
  };
}

function planExternalClient(prefix: string, nodes: LabNode[], cidr: string, routes: string[]): ExternalClient {
  const { bits } = ipv4Cidr(cidr);
  const host = 2 ** (32 - bits) - 2;
  const router = nodes.find((n) => n.subnet === 0);
  if (!router) throw new Error('an external client needs a node on the first underlay subnet');
  // nodes sit at .11 upwards: the client takes the top of the subnet, clear of them
  if (host <= 10 + nodes.length) throw new Error(`underlay ${cidr} has no room for an external client above ${nodes.length} nodes`);
  for (const r of routes) ipv4Cidr(r);
  return { netns: externalNetnsName(prefix), ip: hostInCidr(cidr, host), underlayPort: 'ext', via: router.ip, routes: [...routes] };
}

/** Every node reaches every other node's pod CIDR: directly on a shared subnet, else through the underlay gateway. */
function planStaticRoutes(prefix: string, nodes: LabNode[], subnets: UnderlaySubnet[]): StaticRoute[] {
  const routes: StaticRoute[] = [];
  for (const from of nodes) {
    for (const to of nodes) {
      if (to === from) continue;
      const via = to.subnet === from.subnet ? to.ip : subnets[from.subnet]!.gateway!;
      routes.push({ netns: from.netns, dst: to.podCidr, via });
    }
  }
  // the underlay namespace forwards cross-subnet pod traffic, so it needs the pod routes too
  if (subnets.length > 1) {
    for (const to of nodes) routes.push({ netns: underlayNetnsName(prefix), dst: to.podCidr, via: to.ip });
  }
  return routes;
}
