// The proxy's iptables rules and ipset members as plain data (pure): upstream's service firewall
// (KUBE-ROUTER-SERVICES in filter, gated by kube-router-svip, allowing kube-router-svip-prt), masquerading of IPVS
// NAT traffic that does not come from or go to a local pod CIDR, and hairpin SNAT (KUBE-ROUTER-HAIRPIN).
import type { RuleArgs } from '../../kernel/iptables.ts';
import type { IpsetSpec } from '../../kernel/ipset.ts';
import { familySetName } from '../../kernel/ipset.ts';
import type { IpFamily } from '../../net/ip.ts';
import type { HairpinRule, VirtualService } from './model.ts';

export const SERVICES_CHAIN = 'KUBE-ROUTER-SERVICES';
export const HAIRPIN_CHAIN = 'KUBE-ROUTER-HAIRPIN';
export const MASQUERADE_CHAIN = 'KUBE-ROUTER-MASQUERADE';
export const LOCAL_IPS_SET = 'kube-router-local-ips';
export const SERVICE_IPS_SET = 'kube-router-svip';
export const SERVICE_PORTS_SET = 'kube-router-svip-prt';

// As upstream creates them (timeout 0 included), so sets an upstream kube-router left are taken over as they are.
const SET_OPTIONS = ['hashsize', '1024', 'maxelem', '65536', 'timeout', '0'];

export function proxySets(family: IpFamily): { localIps: IpsetSpec; serviceIps: IpsetSpec; servicePorts: IpsetSpec } {
  return {
    localIps: { name: familySetName(LOCAL_IPS_SET, family), type: 'hash:ip', family, options: SET_OPTIONS },
    serviceIps: { name: familySetName(SERVICE_IPS_SET, family), type: 'hash:ip', family, options: SET_OPTIONS },
    servicePorts: { name: familySetName(SERVICE_PORTS_SET, family), type: 'hash:ip,port', family, options: SET_OPTIONS },
  };
}

export const vsFamily = (vs: VirtualService): IpFamily => (vs.family === 'ipv6' ? 6 : 4);

/** The kube-router-svip-prt member of a virtual service: `address,proto:port`. */
export function servicePortEntry(vs: VirtualService): string {
  return `${vs.address},${vs.protocol.toLowerCase()}:${vs.port}`;
}

const ICMP_ACCEPT: Record<IpFamily, string[]> = {
  4: ['echo-request', 'destination-unreachable', 'time-exceeded'],
  6: ['echo-request', 'destination-unreachable', 'time-exceeded', 'neighbour-solicitation', 'neighbour-advertisement', 'echo-reply'],
};

/** KUBE-ROUTER-SERVICES: service ports and essential ICMP pass, anything else to a service IP is refused. */
export function firewallRules(family: IpFamily): RuleArgs[] {
  const sets = proxySets(family);
  const icmp = family === 4 ? 'icmp' : 'icmpv6';
  return [
    ['-m', 'comment', '--comment', 'allow traffic to service ports', '-m', 'set', '--match-set', sets.servicePorts.name, 'dst,dst', '-j', 'ACCEPT'],
    ...ICMP_ACCEPT[family].map((t) => ['-p', icmp, family === 4 ? '--icmp-type' : '--icmpv6-type', t, '-j', 'ACCEPT']),
    ['-m', 'comment', '--comment', 'reject other traffic to service IPs', '-m', 'set', '!', '--match-set', sets.localIps.name, 'dst',
      '-j', 'REJECT', '--reject-with', family === 4 ? 'icmp-port-unreachable' : 'icmp6-port-unreachable'],
  ];
}

/** The INPUT rule sending traffic to service IPs through the firewall chain. */
export function firewallJump(family: IpFamily): RuleArgs {
  return ['-m', 'comment', '--comment', 'kube-router service firewall', '-m', 'set', '--match-set', proxySets(family).serviceIps.name, 'dst', '-j', SERVICES_CHAIN];
}

/**
 * SNAT of IPVS NAT traffic to the node address, except traffic from a local pod CIDR (its source is routable) or
 * to one (the endpoint is local: the client address is preserved). --masquerade-all, or no known pod CIDR,
 * SNATs all of it.
 */
export function masqueradeRules(family: IpFamily, nodeIp: string | undefined, podCidrs: readonly string[], masqueradeAll: boolean): RuleArgs[] {
  const target = nodeIp ? ['-j', 'SNAT', '--to-source', nodeIp, '--random-fully'] : ['-j', 'MASQUERADE', '--random-fully'];
  if (masqueradeAll || podCidrs.length === 0) return [['-m', 'comment', '--comment', 'masquerade IPVS NAT traffic', ...target]];
  return podCidrs.map((c) => ['-m', 'comment', '--comment', 'masquerade IPVS NAT traffic', '!', '-s', c, '!', '-d', c, ...target]);
}

export function masqueradeJump(): RuleArgs {
  return ['-m', 'ipvs', '--ipvs', '--vdir', 'ORIGINAL', '--vmethod', 'MASQ', '-m', 'comment', '--comment', 'kube-router IPVS masquerade', '-j', MASQUERADE_CHAIN];
}

export function hairpinRules(family: IpFamily, rules: readonly HairpinRule[]): RuleArgs[] {
  const len = family === 4 ? 32 : 128;
  return rules
    .filter((r) => (r.family === 'ipv6' ? 6 : 4) === family)
    .map((r) => ['-s', `${r.endpoint}/${len}`, '-d', `${r.endpoint}/${len}`, '-m', 'ipvs', '--vaddr', `${r.address}/${len}`, '--vport', String(r.port), '-j', 'SNAT', '--to-source', r.address])
    .sort((a, b) => a.join(' ').localeCompare(b.join(' ')));
}

export function hairpinJump(): RuleArgs {
  return ['-m', 'ipvs', '--vdir', 'ORIGINAL', '-m', 'comment', '--comment', 'kube-router hairpin', '-j', HAIRPIN_CHAIN];
}
