// Who this node is, as upstream decides it: its name (flag > NODE_NAME > hostname), its primary and
// per-family IPs from the Node's addresses, and its pod CIDRs (kube-router annotations over spec).
import { hostname as osHostname } from 'node:os';
import { isIP } from 'node:net';
import type { Node } from 'kubernetes-types/core/v1.js';
import type { ApiResult, KubeClient } from './client.ts';
import { resourcePath } from './client.ts';
import { type Result, ok, err } from './result.ts';

/** Legacy single-CIDR override of spec.podCIDR. */
export const POD_CIDR_ANNOTATION = 'kube-router.io/pod-cidr';
/** Comma-separated CIDRs overriding spec.podCIDRs (dual-stack). */
export const POD_CIDRS_ANNOTATION = 'kube-router.io/pod-cidrs';

export type IPFamily = 4 | 6;

export function nodeName(opts: { hostnameOverride?: string; env?: NodeJS.ProcessEnv; hostname?: () => string } = {}): string {
  if (opts.hostnameOverride) return opts.hostnameOverride;
  const fromEnv = (opts.env ?? process.env)['NODE_NAME'];
  if (fromEnv) return fromEnv;
  return (opts.hostname ?? osHostname)();
}

export function fetchNode(client: KubeClient, name: string): Promise<ApiResult<Node>> {
  return client.get<Node>(resourcePath('v1', 'nodes', undefined, name));
}

function addressesOfType(node: Node, type: string): string[] {
  return (node.status?.addresses ?? []).filter((a) => a.type === type && isIP(a.address) !== 0).map((a) => a.address);
}

/** First InternalIP, else first ExternalIP. */
export function primaryNodeIP(node: Node): Result<string> {
  const ip = addressesOfType(node, 'InternalIP')[0] ?? addressesOfType(node, 'ExternalIP')[0];
  return ip ? ok(ip) : err(`node ${node.metadata?.name ?? '?'} has no InternalIP or ExternalIP address`);
}

/** The primary IP if it has this family, else the first InternalIP, else the first ExternalIP, of that family. */
export function bestNodeIP(node: Node, family: IPFamily): string | undefined {
  const primary = primaryNodeIP(node);
  if (primary.ok && isIP(primary.value) === family) return primary.value;
  const ofFamily = (ips: string[]) => ips.find((ip) => isIP(ip) === family);
  return ofFamily(addressesOfType(node, 'InternalIP')) ?? ofFamily(addressesOfType(node, 'ExternalIP'));
}

/** The IP family of a CIDR string, or 0 when it is not a valid CIDR. */
export function cidrFamily(cidr: string): 0 | IPFamily {
  const slash = cidr.indexOf('/');
  if (slash < 0) return 0;
  const family = isIP(cidr.slice(0, slash));
  const bits = cidr.slice(slash + 1);
  if (family === 0 || !/^\d{1,3}$/.test(bits) || Number(bits) > (family === 4 ? 32 : 128)) return 0;
  return family as IPFamily;
}

/** Single pod CIDR: the `kube-router.io/pod-cidr` annotation (must parse) over spec.podCIDR. */
export function nodePodCIDR(node: Node): Result<string> {
  const name = node.metadata?.name ?? '?';
  const annotated = node.metadata?.annotations?.[POD_CIDR_ANNOTATION];
  if (annotated !== undefined) {
    return cidrFamily(annotated) ? ok(annotated) : err(`node ${name}: annotation ${POD_CIDR_ANNOTATION} is not a CIDR: "${annotated}"`);
  }
  if (!node.spec?.podCIDR) return err(`node ${name}: spec.podCIDR is not set`);
  return ok(node.spec.podCIDR);
}

export interface PodCIDRs {
  ipv4: string[];
  ipv6: string[];
}

/** Pod CIDRs per family: the `kube-router.io/pod-cidrs` annotation (every entry must parse) over spec.podCIDRs. */
export function nodePodCIDRs(node: Node): Result<PodCIDRs> {
  const name = node.metadata?.name ?? '?';
  const annotated = node.metadata?.annotations?.[POD_CIDRS_ANNOTATION];
  const out: PodCIDRs = { ipv4: [], ipv6: [] };
  if (annotated !== undefined) {
    for (const entry of annotated.split(',')) {
      const cidr = entry.trim();
      const family = cidrFamily(cidr);
      if (!family) return err(`node ${name}: annotation ${POD_CIDRS_ANNOTATION} has an entry that is not a CIDR: "${cidr}"`);
      (family === 4 ? out.ipv4 : out.ipv6).push(cidr);
    }
    return ok(out);
  }
  const specCIDRs = node.spec?.podCIDRs ?? [];
  if (specCIDRs.length === 0) return err(`node ${name}: spec.podCIDRs is empty`);
  for (const cidr of specCIDRs) {
    const family = cidrFamily(cidr);
    if (family) (family === 4 ? out.ipv4 : out.ipv6).push(cidr);
  }
  return ok(out);
}
