// Applies desired BGP state through the BgpSpeaker with the fewest calls: it remembers what it last applied
// (global config, peers, originated paths, defined sets, policies) and sends only the differences. After the
// daemon restarted, `reset()` forgets everything so the next apply re-sends it all.
import type { BgpResult, BgpSpeaker, DefinedSet, GlobalConfig, Path, PeerConfig, Policy, PolicyDirection } from '../../bgp/speaker.ts';
import { metrics } from '../../observe/metrics.ts';
import { logger } from '../../observe/log.ts';
import { POLICY_NAMES, type PolicyPlan } from './plan-policies.ts';

const log = logger('routing');

export type PathKind = 'pod-route' | 'vip';
export interface OriginatedPath extends Path {
  kind: PathKind;
}

interface AppliedPolicy {
  name: string;
  /** Statements as planned (names unversioned), to compare with the next plan. */
  content: string;
  empty: boolean;
}

const ALREADY_EXISTS = 6;

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export class BgpApplier {
  private global: GlobalConfig | undefined;
  private readonly peers = new Map<string, PeerConfig>();
  private readonly paths = new Map<string, OriginatedPath>();
  private readonly sets = new Map<string, DefinedSet>();
  private readonly policies = new Map<PolicyDirection, AppliedPolicy>();
  private version = 0;

  constructor(private readonly speaker: BgpSpeaker) {}

  /** Forgets what was applied (the daemon restarted empty); the next apply sends everything. */
  reset(): void {
    this.global = undefined;
    this.peers.clear();
    this.paths.clear();
    this.sets.clear();
    this.policies.clear();
  }

  get started(): boolean {
    return this.global !== undefined;
  }

  /** Starts BGP, or restarts it (peers, paths and policies are then re-applied) when the global config changed. */
  async applyGlobal(desired: GlobalConfig): Promise<string[]> {
    if (this.global && same(this.global, desired)) return [];
    if (this.global) {
      log.info({ asn: desired.asn, routerId: desired.routerId }, 'BGP global configuration changed; restarting the BGP server');
      const stopped = await this.speaker.stop();
      if (!stopped.ok) return [stopped.error.message];
      this.reset();
    }
    const started = await this.speaker.start(desired);
    if (!started.ok) return [started.error.message];
    this.global = desired;
    return [];
  }

  /** Adds, updates and deletes peers; returns one message per failed peer (the rest is applied). */
  async applyPeers(desired: ReadonlyMap<string, PeerConfig>): Promise<string[]> {
    const errors: string[] = [];
    for (const address of [...this.peers.keys()]) {
      if (desired.has(address)) continue;
      const r = await this.speaker.deletePeer(address);
      if (r.ok) this.peers.delete(address);
      else errors.push(r.error.message);
    }
    for (const [address, peer] of desired) {
      const current = this.peers.get(address);
      if (current && same(current, peer)) continue;
      let r: BgpResult<void>;
      if (current) r = await this.speaker.updatePeer(peer);
      else {
        r = await this.speaker.addPeer(peer);
        // A peer we did not know about already exists (e.g. state survived us): take it over.
        if (!r.ok && (r.error.code === ALREADY_EXISTS || r.error.details.includes("can't overwrite"))) r = await this.speaker.updatePeer(peer);
      }
      if (r.ok) this.peers.set(address, peer);
      else errors.push(r.error.message);
    }
    return errors;
  }

  /** Originates the desired paths and withdraws the ones no longer desired. */
  async applyPaths(desired: readonly OriginatedPath[]): Promise<string[]> {
    const errors: string[] = [];
    const want = new Map(desired.map((p) => [p.prefix, p]));
    for (const [prefix, path] of this.paths) {
      if (want.has(prefix)) continue;
      const r = await this.speaker.deletePath(path);
      if (!r.ok) {
        errors.push(r.error.message);
        continue;
      }
      this.paths.delete(prefix);
      if (path.kind === 'vip') metrics.bgpAdvertisementsSent.inc({ type: 'withdraw-vip' });
    }
    for (const [prefix, path] of want) {
      const current = this.paths.get(prefix);
      if (current && same(current, path)) continue;
      const { kind, ...bgpPath } = path;
      if (current && current.nextHop !== path.nextHop) await this.speaker.deletePath(current);
      const r = await this.speaker.addPath(bgpPath);
      if (!r.ok) {
        errors.push(r.error.message);
        continue;
      }
      this.paths.set(prefix, path);
      metrics.bgpAdvertisementsSent.inc({ type: kind === 'vip' ? 'advertise-vip' : 'pod-route' });
    }
    return errors;
  }

  /**
   * Sets are replaced in place; a policy whose statements changed is installed under the next version name,
   * assigned, and the old one deleted (gobgp cannot edit an assigned policy). Unused sets are deleted last.
   */
  async applyPolicies(plan: PolicyPlan): Promise<string[]> {
    const errors: string[] = [];
    const check = (r: BgpResult<void>): boolean => {
      if (!r.ok) errors.push(r.error.message);
      return r.ok;
    };
    const wanted = new Map(plan.sets.map((s) => [s.name, s]));
    let importRejectsChanged = false;
    for (const [name, set] of wanted) {
      const current = this.sets.get(name);
      if (current && same(current, set)) continue;
      if (check(current ? await this.speaker.replaceDefinedSet(set) : await this.speaker.addDefinedSet(set))) this.sets.set(name, set);
      if (name.startsWith(POLICY_NAMES.customImportReject)) importRejectsChanged = true;
    }
    if (errors.length > 0) return errors;
    const policyChanged = { export: false, import: false };
    for (const [direction, policy] of [['export', plan.exportPolicy], ['import', plan.importPolicy]] as const) {
      const before = this.policies.get(direction);
      errors.push(...await this.applyPolicy(direction, policy));
      policyChanged[direction] = this.policies.get(direction) !== before;
    }
    if (errors.length > 0) return errors;
    for (const [name, set] of this.sets) {
      if (wanted.has(name)) continue;
      if (name.startsWith(POLICY_NAMES.customImportReject)) importRejectsChanged = true;
      if (check(await this.speaker.deleteDefinedSet(set.kind, name))) this.sets.delete(name);
    }
    // Routes already received are re-judged when the custom import rejects (a live annotation) changed in place.
    if (importRejectsChanged && !policyChanged.import) await this.softResetAll('in');
    return errors;
  }

  private async applyPolicy(direction: PolicyDirection, policy: Policy | undefined): Promise<string[]> {
    const content = JSON.stringify(policy?.statements ?? null);
    const current = this.policies.get(direction);
    if (current && current.content === content) return [];
    const defaultAction = direction === 'export' ? 'reject' : 'accept';
    const statements = policy?.statements ?? [];
    let applied: AppliedPolicy;
    if (!policy) {
      // Route-reflector servers: no policy at all, the daemon's defaults (accept) apply.
      const r = await this.speaker.setGlobalPolicy(direction, { policies: [], defaultAction: 'accept' });
      if (!r.ok) return [r.error.message];
      applied = { name: '', content, empty: true };
    } else if (statements.length === 0) {
      const r = await this.speaker.setGlobalPolicy(direction, { policies: [], defaultAction });
      if (!r.ok) return [r.error.message];
      applied = { name: '', content, empty: true };
    } else {
      const name = `${policy.name}${++this.version}`;
      // Statement names are global in gobgp: version them with the policy so old and new can coexist briefly.
      const versioned: Policy = { name, statements: statements.map((s) => ({ ...s, name: `${name}_${s.name}` })) };
      const added = await this.speaker.addPolicy(versioned);
      if (!added.ok) return [added.error.message];
      const assigned = await this.speaker.setGlobalPolicy(direction, { policies: [name], defaultAction });
      if (!assigned.ok) return [assigned.error.message];
      applied = { name, content, empty: false };
    }
    this.policies.set(direction, applied);
    if (current && !current.empty && current.name !== applied.name) {
      const r = await this.speaker.deletePolicy(current.name);
      if (!r.ok) log.warn({ policy: current.name, error: r.error.message }, 'could not delete the replaced policy');
    }
    // Routes already exchanged are re-evaluated against the new policy without resetting sessions.
    await this.softResetAll(direction === 'export' ? 'out' : 'in');
    return [];
  }

  private async softResetAll(direction: 'in' | 'out'): Promise<void> {
    for (const address of this.peers.keys()) {
      const r = await this.speaker.softResetPeer(address, direction);
      if (!r.ok) log.warn({ peer: address, error: r.error.message }, 'soft reset failed');
    }
  }
}
