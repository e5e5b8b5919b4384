// Applies an overlay plan to the kernel: our `tun-*` IPIP/ip6tnl links (created with `ip`, as upstream does, since
// their link data is not in our netlink layer), the fou gue ports, the `<remote>/32 dev tun table 77` routes and the
// `from <pod CIDR> lookup 77` rules. Observes first, then creates, repairs and deletes only what differs; links that
// are not ours (other names or kinds) are never touched.
import {
  addRule, deleteRoutes, deleteRule, listLinks, listRoutes, listRules, replaceRoutes, routeWithDefaults, ROUTE_PROTOCOL_KUBE_ROUTER,
  RT_SCOPE_LINK, ruleWithDefaults, type Route, type Rule,
} from '../../kernel/netlink/rtnetlink.ts';
import type { Exec } from '../../kernel/exec.ts';
import type { NetlinkSocket } from '../../kernel/netlink/socket.ts';
import { logger } from '../../observe/log.ts';
import {
  diffFouPorts, diffTunnels, fouCommand, hostPrefix, isOwnedTunnel, OVERLAY_TABLE, tunnelCreateCommands,
  type FouPort, type ObservedTunnel, type OverlayOptions, type OverlayPlan,
} from './overlay-plan.ts';

const log = logger('routing');

interface IpLinkJson {
  ifindex?: number;
  ifname?: string;
  flags?: string[];
  linkinfo?: {
    info_kind?: string;
    info_data?: { local?: string; remote?: string; ttl?: number; encap?: { type?: string; dport?: number } };
  };
}

interface IpFouJson {
  port?: number;
  gue?: unknown;
  family?: string;
}

/** Our tunnels from `ip -j -d link show` output. */
export function parseOwnedTunnels(json: string): ObservedTunnel[] {
  const out: ObservedTunnel[] = [];
  for (const l of JSON.parse(json) as IpLinkJson[]) {
    const kind = l.linkinfo?.info_kind;
    if (!l.ifname || l.ifindex === undefined || !kind || !isOwnedTunnel(l.ifname, kind)) continue;
    const data = l.linkinfo?.info_data ?? {};
    const t: ObservedTunnel = { name: l.ifname, ifindex: l.ifindex, kind, up: l.flags?.includes('UP') ?? false };
    if (data.local && data.local !== 'any') t.local = data.local;
    if (data.remote && data.remote !== 'any') t.remote = data.remote;
    if (data.ttl !== undefined) t.ttl = data.ttl;
    if (data.encap?.type && data.encap.type !== 'none') {
      t.encapType = data.encap.type;
      if (data.encap.dport !== undefined) t.encapDport = data.encap.dport;
    }
    out.push(t);
  }
  return out;
}

/** Fou ports from `ip -j fou show` output. */
export function parseFouPorts(json: string): FouPort[] {
  if (json.trim() === '') return [];
  return (JSON.parse(json) as IpFouJson[])
    .filter((p) => p.port !== undefined)
    .map((p) => ({ family: p.family === 'inet6' ? 6 : 4, port: p.port ?? 0, gue: 'gue' in p }));
}

export interface OverlayApplyResult {
  /** Ifindex of every desired tunnel that exists after the apply. */
  ifindexByName: Map<string, number>;
  errors: string[];
}

export interface OverlayApplierDeps {
  sock: NetlinkSocket;
  exec: Exec;
  options: OverlayOptions;
}

export class OverlayApplier {
  constructor(private readonly deps: OverlayApplierDeps) {}

  get options(): OverlayOptions {
    return this.deps.options;
  }

  /**
   * Our tunnels and the fou ports, with one `ip` run (tunnel link data is not in our netlink layer). A kernel
   * without fou support fails `fou show`: then the links are read alone and there are no ports.
   */
  async observe(): Promise<{ tunnels: ObservedTunnel[]; fou: FouPort[] }> {
    const both = await this.deps.exec.run('ip', ['-j', '-d', '-batch', '-'], { input: 'link show\nfou show\n' });
    if (both.ok) {
      const [links, fou] = both.value.split('\n').filter((l) => l.startsWith('['));
      if (links !== undefined) return { tunnels: parseOwnedTunnels(links), fou: fou === undefined ? [] : parseFouPorts(fou) };
    }
    const links = await this.deps.exec.run('ip', ['-j', '-d', 'link', 'show']);
    if (!links.ok) throw new Error(links.error.message);
    return { tunnels: parseOwnedTunnels(links.value), fou: [] };
  }

  private async ipBatch(lines: string[], errors: string[]): Promise<void> {
    if (lines.length === 0) return;
    // -force: one failed line (say a link already gone) does not stop the rest; failures show in the re-observe.
    const r = await this.deps.exec.run('ip', ['-force', '-batch', '-'], { input: lines.join('\n') + '\n' });
    if (!r.ok) errors.push(r.error.message);
  }

  /**
   * Makes tunnels, fou ports, table-77 routes and rules match the plan; returns the tunnels' ifindexes. With
   * keepUnplanned (the adoption window after a restart, before BGP has re-learned the paths) tunnels missing from
   * the plan and their table-77 routes stay, so traffic through them is not cut.
   */
  async apply(plan: OverlayPlan, keepUnplanned = false): Promise<OverlayApplyResult> {
    const errors: string[] = [];
    let observed: ObservedTunnel[];
    let fou: FouPort[];
    try {
      ({ tunnels: observed, fou } = await this.observe());
    } catch (e) {
      return { ifindexByName: new Map(), errors: [`list links: ${(e as Error).message}`] };
    }
    const diff = diffTunnels(observed, plan.tunnels);
    if (keepUnplanned) diff.remove = diff.remove.filter((name) => plan.tunnels.has(name));
    const ownedPorts = new Set([this.deps.options.encapPort]);
    for (const t of observed) if (t.encapDport !== undefined) ownedPorts.add(t.encapDport);
    const fouDiff = diffFouPorts(fou, plan.fouPorts, ownedPorts);
    // Order: receivers first, stale links out (before their replacements take the name), new links, unused receivers last.
    const lines = [
      ...fouDiff.add.map((p) => fouCommand('add', p)),
      ...diff.remove.map((name) => `link del ${name}`),
      ...diff.create.flatMap((spec) => tunnelCreateCommands(spec)),
      ...diff.setUp.map((name) => `link set ${name} up`),
      ...fouDiff.remove.map((p) => fouCommand('del', p)),
    ];
    await this.ipBatch(lines, errors);
    if (diff.remove.length + diff.create.length > 0) {
      log.info({ created: diff.create.map((t) => t.name), removed: diff.remove }, 'overlay tunnels changed');
    }
    // The ifindexes of new links come from a netlink dump: cheaper than another `ip` run.
    const after = lines.length > 0
      ? (await listLinks(this.deps.sock)).filter((l) => isOwnedTunnel(l.name, l.kind)).map((l) => ({ name: l.name, ifindex: l.index }))
      : observed;
    const ifindexByName = new Map<string, number>();
    for (const t of after) if (plan.tunnels.has(t.name)) ifindexByName.set(t.name, t.ifindex);
    for (const name of plan.tunnels.keys()) if (!ifindexByName.has(name)) errors.push(`tunnel ${name} could not be created`);
    errors.push(...await this.syncTableRoutes(plan, ifindexByName, keepUnplanned));
    errors.push(...await this.syncRules(plan));
    return { ifindexByName, errors };
  }

  /** Table 77 holds only our `<remote>/32 dev <tunnel>` routes: anything else there is stale. */
  private async syncTableRoutes(plan: OverlayPlan, ifindexByName: Map<string, number>, keepUnplanned: boolean): Promise<string[]> {
    const errors: string[] = [];
    const desired = new Map<string, Route>();
    for (const spec of plan.tunnels.values()) {
      const oif = ifindexByName.get(spec.name);
      if (oif === undefined) continue;
      const dst = hostPrefix(spec.remote);
      desired.set(dst, routeWithDefaults({ dst, oif, table: OVERLAY_TABLE, protocol: ROUTE_PROTOCOL_KUBE_ROUTER, scope: RT_SCOPE_LINK }));
    }
    const existing = await listRoutes(this.deps.sock, { table: OVERLAY_TABLE });
    const byDst = new Map(existing.map((r) => [r.dst, r]));
    const replace = [...desired.values()].filter((r) => byDst.get(r.dst)?.oif !== r.oif);
    const remove = keepUnplanned ? [] : existing.filter((r) => !desired.has(r.dst));
    if (replace.length > 0) {
      const r = await replaceRoutes(this.deps.sock, replace);
      for (const e of r.errors) errors.push(`table ${OVERLAY_TABLE} route ${replace[e.index]?.dst}: ${e.message}`);
    }
    if (remove.length > 0) await deleteRoutes(this.deps.sock, remove);
    return errors;
  }

  /** `from <pod CIDR> lookup 77` per pod CIDR; rules pointing at table 77 with other sources are stale. */
  private async syncRules(plan: OverlayPlan): Promise<string[]> {
    const errors: string[] = [];
    const existing = await listRules(this.deps.sock, { table: OVERLAY_TABLE });
    const key = (r: { family: number; src?: string }) => `${r.family}/${r.src ?? ''}`;
    const have = new Set(existing.map(key));
    const want = new Set(plan.rules.map(key));
    for (const rule of plan.rules) {
      if (have.has(key(rule))) continue;
      try {
        await addRule(this.deps.sock, ruleWithDefaults({ family: rule.family, src: rule.src, table: OVERLAY_TABLE }));
      } catch (e) {
        errors.push(`ip rule from ${rule.src} lookup ${OVERLAY_TABLE}: ${(e as Error).message}`);
      }
    }
    for (const rule of existing) {
      if (want.has(key(rule))) continue;
      await deleteRule(this.deps.sock, stripForDelete(rule)).catch(() => undefined);
    }
    return errors;
  }
}

/** The fields that identify a rule for deletion (the kernel matches every field given). */
function stripForDelete(rule: Rule): Rule {
  const out: Rule = { family: rule.family, table: rule.table, action: rule.action };
  if (rule.priority !== undefined) out.priority = rule.priority;
  if (rule.src !== undefined) out.src = rule.src;
  if (rule.dst !== undefined) out.dst = rule.dst;
  return out;
}
