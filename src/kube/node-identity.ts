// Who this node is, as upstream decides it: its name (flag > NODE_NAME > hostname), and its primary and
// per-family IPs from the Node's addresses. Its pod CIDRs are decided in pod-cidrs.ts.
import { hostname as osHostname } from 'node:os';
import type { Node } from 'kubernetes-types/core/v1.js';
import { familyOf } from '../net/cidr.ts';
import { isIp, type IpFamily } from '../net/ip.ts';
import { type Result, ok, err } from '../result.ts';

export function nodeName(opts: { hostnameOverride?: string; env?: NodeJS.ProcessEnv; hostname?: () => string } = {}): string {
  if (opts.hostnameOverride) return opts.hostnameOverride;
  const fromEnv = (opts.env ?? process.env)['NODE_NAME'];
  if (fromEnv) return fromEnv;
  return (opts.hostname ?? osHostname)();
}

function addressesOfType(node: Node, type: string): string[] {
  return (node.status?.addresses ?? []).filter((a) => a.type === type && isIp(a.address)).map((a) => a.address);
}

/** First InternalIP, else first ExternalIP. */
export function primaryNodeIP(node: Node): Result<string> {
  const ip = addressesOfType(node, 'InternalIP')[0] ?? addressesOfType(node, 'ExternalIP')[0];
  return ip ? ok(ip) : err(`node ${node.metadata?.name ?? '?'} has no InternalIP or ExternalIP address`);
}

/** The primary IP if it has this family, else the first InternalIP, else the first ExternalIP, of that family. */
export function bestNodeIP(node: Node, family: IpFamily): string | undefined {
  const primary = primaryNodeIP(node);
  if (primary.ok && familyOf(primary.value) === family) return primary.value;
  const ofFamily = (ips: string[]) => ips.find((ip) => familyOf(ip) === family);
  return ofFamily(addressesOfType(node, 'InternalIP')) ?? ofFamily(addressesOfType(node, 'ExternalIP'));
}
