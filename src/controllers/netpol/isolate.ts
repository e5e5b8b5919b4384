// Finds which objects' parts make the kernel refuse a ruleset, so that one object the backend cannot express
// is rejected (fail closed) instead of stalling the whole node. Pure apart from the injected check, which asks
// the kernel without committing (nft -c, or a throwaway network namespace for iptables and ipset).

/** An object that contributes its own part to the ruleset: a pod (set members, its firewall) or a policy. */
export interface Suspect {
  kind: 'Pod' | 'NetworkPolicy';
  key: string;
}

export type IsolationResult =
  /** The state as planned is accepted: the refusal was not about its content (retry as usual). */
  | { kind: 'accepted' }
  /** Quarantining these makes the state acceptable. */
  | { kind: 'found'; culprits: Suspect[] }
  /** No set of at most `limit` objects explains the refusal (e.g. the kernel lacks something every rule uses). */
  | { kind: 'unattributable' };

/**
 * Bisects the suspects: `accepts(q)` says whether the state with the objects `q` quarantined would be taken.
 * Each culprit costs about log2(suspects) checks; objects are only ever quarantined in checks, never applied,
 * until found. Culprits are found one at a time with the earlier ones quarantined, up to `limit`.
 */
export async function findCulprits(suspects: readonly Suspect[], accepts: (quarantined: readonly Suspect[]) => Promise<boolean>,
  limit = 8): Promise<IsolationResult> {
  if (await accepts([])) return { kind: 'accepted' };
  if (suspects.length === 0 || !(await accepts(suspects))) return { kind: 'unattributable' };
  const found: Suspect[] = [];
  while (found.length < limit) {
    // Invariant: the state is refused with `base` quarantined and accepted with base + candidates quarantined.
    let base = [...found];
    let candidates = suspects.filter((s) => !found.includes(s));
    while (candidates.length > 1) {
      const half = candidates.slice(0, Math.ceil(candidates.length / 2));
      if (await accepts([...base, ...half])) {
        candidates = half;
      } else {
        base = [...base, ...half];
        candidates = candidates.slice(half.length);
      }
    }
    const culprit = candidates[0];
    if (!culprit) return { kind: 'unattributable' };
    found.push(culprit);
    if (await accepts(found)) return { kind: 'found', culprits: found };
  }
  return { kind: 'unattributable' };
}
