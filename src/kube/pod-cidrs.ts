// A node's pod CIDRs, decided in one place for every controller. Sources, first usable wins: the
// `kube-router.io/pod-cidrs` annotation (CSV), the `kube-router.io/pod-cidr` annotation, spec.podCIDRs,
// spec.podCIDR. This keeps upstream's "annotation over spec" for both its single and its dual-stack reader.
// A source that is set but unusable is skipped and reported, so a bad annotation never takes away a valid spec.
import type { Node } from 'kubernetes-types/core/v1.js';
import { parseCidr } from '../net/cidr.ts';

/** Legacy single-CIDR override of spec.podCIDR. */
export const POD_CIDR_ANNOTATION = 'kube-router.io/pod-cidr';
/** Comma-separated CIDRs overriding spec.podCIDRs (dual-stack). */
export const POD_CIDRS_ANNOTATION = 'kube-router.io/pod-cidrs';

export type PodCidrSource = `annotation ${typeof POD_CIDRS_ANNOTATION}` | `annotation ${typeof POD_CIDR_ANNOTATION}` | 'spec.podCIDRs' | 'spec.podCIDR';

export interface RejectedPodCidrSource {
  source: PodCidrSource;
  message: string;
}

export interface NodePodCidrs {
  /** The CIDRs in effect, as written (trimmed); empty when no source is set and usable. */
  cidrs: string[];
  /** Where `cidrs` came from. */
  source?: PodCidrSource;
  /** Sources that were set but unusable, in precedence order; each one was skipped. */
  rejected: RejectedPodCidrSource[];
  /** Set by LastGoodPodCidrs when `cidrs` is the node's last usable value rather than `source`'s. */
  keptLastGood?: true;
}

function candidates(node: Node): Array<[PodCidrSource, string[] | undefined]> {
  const annotations = node.metadata?.annotations ?? {};
  const csv = annotations[POD_CIDRS_ANNOTATION];
  const single = annotations[POD_CIDR_ANNOTATION];
  return [
    [`annotation ${POD_CIDRS_ANNOTATION}`, csv === undefined ? undefined : csv.split(',').map((c) => c.trim()).filter((c) => c !== '')],
    [`annotation ${POD_CIDR_ANNOTATION}`, single === undefined ? undefined : [single.trim()]],
    ['spec.podCIDRs', node.spec?.podCIDRs?.length ? node.spec.podCIDRs : undefined],
    ['spec.podCIDR', node.spec?.podCIDR ? [node.spec.podCIDR] : undefined],
  ];
}

/** The node's pod CIDRs from the first source that is set and made only of CIDRs. */
export function nodePodCidrs(node: Node): NodePodCidrs {
  const name = node.metadata?.name ?? '?';
  const rejected: RejectedPodCidrSource[] = [];
  for (const [source, cidrs] of candidates(node)) {
    if (cidrs === undefined) continue;
    const problem = problemWith(cidrs);
    if (problem === undefined) return { cidrs, source, rejected };
    rejected.push({ source, message: `node ${name}: ${source} ${problem}; ignored` });
  }
  return { cidrs: [], rejected };
}

function problemWith(cidrs: string[]): string | undefined {
  if (cidrs.length === 0) return 'lists no CIDR';
  const bad = cidrs.find((cidr) => !parseCidr(cidr).ok);
  return bad === undefined ? undefined : `has "${bad}", which is not a CIDR`;
}

/**
 * Remembers each node's last usable pod CIDRs, so that an annotation turning bad keeps the value that worked (the
 * next fallback applies only when there is none, e.g. after a restart).
 */
export class LastGoodPodCidrs {
  private readonly last = new Map<string, string[]>();

  resolve(node: Node): NodePodCidrs {
    const name = node.metadata?.name ?? '';
    const found = nodePodCidrs(node);
    const kept = this.last.get(name);
    if (found.rejected.length > 0 && kept !== undefined && kept.join(',') !== found.cidrs.join(',')) {
      return { ...found, cidrs: kept, keptLastGood: true };
    }
    if (found.cidrs.length > 0) this.last.set(name, found.cidrs);
    else if (found.rejected.length === 0) this.last.delete(name); // no source at all: nothing to keep
    return found;
  }

  forget(name: string): void {
    this.last.delete(name);
  }
}
