// Pure planning of the BGP defined sets and the import/export policies (upstream's model and set names): pod CIDRs
// go to iBGP peers; VIPs (and pod CIDRs with --advertise-pod-cidr) go to external peers with optional prepend,
// communities and next-hop self; VIPs, default routes and custom prefixes are never imported. Default export
// reject, default import accept. Sets that would be empty are left out together with the statements using them.
import type { AddressFamily, DefinedSet, Policy, Statement, StatementActions } from '../../bgp/speaker.ts';
import { familyOf } from '../../net/cidr.ts';
import { familyName } from '../../net/ip.ts';

export const POLICY_NAMES = {
  podCidrs: 'podcidrdefinedset',
  serviceVips: 'servicevipsdefinedset',
  defaultRoute: 'defaultroutedefinedset',
  customImportReject: 'customimportrejectdefinedset',
  ibgpPeers: 'iBGPpeerset',
  externalPeers: 'externalpeerset',
  allPeers: 'allpeerset',
  exportPolicy: 'kube_router_export',
  importPolicy: 'kube_router_import',
} as const;

export interface PolicyInput {
  /** The address families this node routes (--enable-ipv4/--enable-ipv6): only their sets and statements. */
  families: AddressFamily[];
  podCidrs: string[];
  vips: Iterable<string>;
  ibgpPeers: string[];
  externalPeers: string[];
  customImportRejects: string[];
  communities: string[];
  pathPrepend?: { asn: number; repeat: number };
  advertisePodCidr: boolean;
  overrideNextHop: boolean;
  /** Route-reflector servers install no policies (upstream skips AddPolicies on them). */
  routeReflectorServer: boolean;
}

export interface PolicyPlan {
  /** Every set the policies refer to, by name (non-empty). */
  sets: DefinedSet[];
  exportPolicy?: Policy;
  importPolicy?: Policy;
}

/** upstream names its IPv6 sets with a 'v6' suffix */
export function setName(base: string, family: AddressFamily): string {
  return family === 'ipv4' ? base : `${base}v6`;
}

function ofFamily(items: Iterable<string>, family: AddressFamily): string[] {
  return [...new Set([...items].filter((i) => { const f = familyOf(i); return f !== undefined && familyName(f) === family; }))].sort();
}

function hostPrefix(ip: string): string {
  return ip.includes('/') ? ip : `${ip}/${familyOf(ip) === 4 ? 32 : 128}`;
}

export function planPolicies(input: PolicyInput): PolicyPlan {
  if (input.routeReflectorServer) return { sets: [] };
  const sets = new Map<string, DefinedSet>();
  const prefixSet = (base: string, family: AddressFamily, prefixes: string[], upToHost = false): string | undefined => {
    if (prefixes.length === 0) return undefined;
    const name = setName(base, family);
    const max = family === 'ipv4' ? 32 : 128;
    sets.set(name, {
      kind: 'prefix', name,
      prefixes: prefixes.map((prefix) => {
        const len = Number(prefix.split('/')[1]);
        return upToHost ? { prefix, maskLengthMin: len, maskLengthMax: max } : { prefix };
      }),
    });
    return name;
  };
  const neighborSet = (base: string, family: AddressFamily, neighbors: string[]): string | undefined => {
    if (neighbors.length === 0) return undefined;
    const name = setName(base, family);
    sets.set(name, { kind: 'neighbor', name, neighbors });
    return name;
  };
  const externalActions: StatementActions = { route: 'accept' };
  if (input.pathPrepend) externalActions.asPathPrepend = input.pathPrepend;
  if (input.communities.length > 0) externalActions.addCommunities = [...input.communities];
  if (input.overrideNextHop) externalActions.nextHopSelf = true;

  const exportStatements: Statement[] = [];
  const importStatements: Statement[] = [];
  // Peers of either family receive both families over one MP-BGP session (an IPv4 session carries the IPv6 pod
  // CIDRs of dual-stack nodes), so each family's peer sets hold every peer, whatever its address family.
  const everyPeer = (peers: string[]): string[] => [...new Set(peers)].sort();
  for (const family of input.families) {
    const pods = prefixSet(POLICY_NAMES.podCidrs, family, ofFamily(input.podCidrs, family));
    const vips = prefixSet(POLICY_NAMES.serviceVips, family, ofFamily(input.vips, family).map(hostPrefix));
    const defaultRoute = prefixSet(POLICY_NAMES.defaultRoute, family, [family === 'ipv4' ? '0.0.0.0/0' : '::/0']);
    const rejects = prefixSet(POLICY_NAMES.customImportReject, family, ofFamily(input.customImportRejects, family), true);
    const ibgp = neighborSet(POLICY_NAMES.ibgpPeers, family, everyPeer(input.ibgpPeers));
    const external = neighborSet(POLICY_NAMES.externalPeers, family, everyPeer(input.externalPeers));
    const all = neighborSet(POLICY_NAMES.allPeers, family, everyPeer([...input.ibgpPeers, ...input.externalPeers]));
    const suffix = family === 'ipv4' ? '' : '_v6';
    if (pods && ibgp) {
      exportStatements.push({ name: `podcidrs_to_ibgp${suffix}`, conditions: { prefixSet: { name: pods }, neighborSet: { name: ibgp } }, actions: { route: 'accept' } });
    }
    if (vips && external) {
      exportStatements.push({ name: `vips_to_external${suffix}`, conditions: { prefixSet: { name: vips }, neighborSet: { name: external } }, actions: externalActions });
    }
    if (input.advertisePodCidr && pods && external) {
      exportStatements.push({ name: `podcidrs_to_external${suffix}`, conditions: { prefixSet: { name: pods }, neighborSet: { name: external } }, actions: externalActions });
    }
    if (all) {
      for (const [what, set] of [['vips', vips], ['default_route', defaultRoute], ['custom', rejects]] as const) {
        if (set) importStatements.push({ name: `reject_${what}${suffix}`, conditions: { prefixSet: { name: set }, neighborSet: { name: all } }, actions: { route: 'reject' } });
      }
    }
  }
  // Sets no statement uses are not installed (e.g. no peers of a family).
  const used = new Set<string>();
  for (const s of [...exportStatements, ...importStatements]) {
    if (s.conditions.prefixSet) used.add(s.conditions.prefixSet.name);
    if (s.conditions.neighborSet) used.add(s.conditions.neighborSet.name);
  }
  return {
    sets: [...sets.values()].filter((s) => used.has(s.name)),
    exportPolicy: { name: POLICY_NAMES.exportPolicy, statements: exportStatements },
    importPolicy: { name: POLICY_NAMES.importPolicy, statements: importStatements },
  };
}
