// The last state applied to the kernel, held as an observation: incremental syncs diff against it instead of
// re-reading the kernel (a full sync re-reads and replaces it). Pure.
import { emptyFamily, type ObservedFamily } from './diff.ts';
import type { Family, FamilyState, Rule } from './model.ts';
import type { ObservedSet } from './parse-ipset-save.ts';
import type { ObservedBuiltinJump } from './parse-iptables-save.ts';
import { ruleArgs } from './render-iptables.ts';

/** What the kernel holds of one family after a state was applied successfully. */
function observedOf(state: FamilyState): ObservedFamily {
  const chains = new Map<string, (Rule | null)[]>(state.chains.map((c) => [c.name, c.rules]));
  const builtinJumps: ObservedBuiltinJump[] = state.builtinJumps.map((j) => {
    const rule: Rule = { match: { comment: j.comment }, action: { kind: 'jump', chain: j.target } };
    // Applied jumps are inserted at position 1 (the diff moves misplaced ones there).
    return { builtin: j.builtin, target: j.target, args: ruleArgs(rule, state.family), rule, position: 0 };
  });
  const sets = new Map<string, ObservedSet>(state.sets.map((s) => [s.name, { ...s, foreignOptions: false }]));
  return { iptables: { chains, builtinJumps }, sets };
}

export class AppliedCache {
  private readonly families = new Map<Family, ObservedFamily>();

  get valid(): boolean {
    return this.families.size > 0;
  }

  invalidate(): void {
    this.families.clear();
  }

  /** After a full apply: the kernel now holds exactly these states. */
  replaceAll(states: readonly FamilyState[]): void {
    this.families.clear();
    for (const s of states) this.families.set(s.family, observedOf(s));
  }

  /** The cached observation restricted to the given names (what a delta diff compares against). */
  restricted(family: Family, names: ReadonlySet<string>): ObservedFamily {
    const have = this.families.get(family) ?? observedOf(emptyFamily(family));
    const chains = new Map([...names].filter((n) => have.iptables.chains.has(n)).map((n) => [n, have.iptables.chains.get(n) ?? []]));
    const sets = new Map<string, ObservedSet>();
    for (const n of names) {
      const s = have.sets.get(n);
      if (s && s.family === family) sets.set(n, s);
    }
    return { iptables: { chains, builtinJumps: have.iptables.builtinJumps }, sets };
  }

  /** After a delta apply: the touched names now hold the delta state (absent names were removed). */
  applyDelta(state: FamilyState, names: ReadonlySet<string>): void {
    const have = this.families.get(state.family);
    if (!have) return;
    const now = observedOf(state);
    for (const n of names) {
      have.iptables.chains.delete(n);
      (have.sets as Map<string, ObservedSet>).delete(n);
    }
    for (const [n, rules] of now.iptables.chains) have.iptables.chains.set(n, rules);
    for (const [n, s] of now.sets) (have.sets as Map<string, ObservedSet>).set(n, s);
  }
}
