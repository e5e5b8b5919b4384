// Node pod-CIDR allocation (the node-ipam controller's job): every node without spec.podCIDR gets the next
// free subnet of each cluster CIDR (dual-stack when two are configured), written to podCIDR and podCIDRs.
import type { LabApi } from '../apiserver/api.ts';
import type { KubeObject } from '../apiserver/resources.ts';
import { cidrContains, cidrSize, formatCidr, parseCidr, type Cidr } from '../../src/net/cidr.ts';
import { ipFromBigInt, ipToBigInt } from '../../src/net/ip.ts';
import { logger } from '../../src/observe/log.ts';

const log = logger('lab-podcidr');

export interface PodCidrOptions {
  /** One cluster CIDR per family, primary first (e.g. ["198.18.0.0/16"]). */
  clusterCidrs: string[];
  /** Size of each node's IPv4 block; default 24. */
  nodeMaskV4?: number;
  /** Size of each node's IPv6 block; default 64. */
  nodeMaskV6?: number;
}

const podCidrsOf = (node: KubeObject): string[] => {
  const spec = (node['spec'] ?? {}) as { podCIDR?: string; podCIDRs?: string[] };
  return spec.podCIDRs?.length ? spec.podCIDRs : spec.podCIDR ? [spec.podCIDR] : [];
};

/** The first block of `pool` (of size `mask`) not overlapping any used CIDR. */
export function nextFreeBlock(pool: Cidr, mask: number, used: readonly Cidr[]): Cidr | undefined {
  const step = cidrSize({ ...pool, prefixLength: mask });
  const count = cidrSize(pool) / step;
  const base = ipToBigInt({ family: pool.family, bytes: pool.network });
  for (let i = 0n; i < count; i++) {
    const candidate: Cidr = { family: pool.family, network: ipFromBigInt(pool.family, base + i * step).bytes, prefixLength: mask };
    // Two CIDRs overlap exactly when one contains the other.
    const overlaps = used.some((u) => cidrContains(u, candidate) || cidrContains(candidate, u));
    if (!overlaps) return candidate;
  }
  return undefined;
}

export function startPodCidrAllocator(api: LabApi, options: PodCidrOptions): () => void {
  const pools = options.clusterCidrs.map((text) => {
    const pool = parseCidr(text);
    if (!pool.ok) throw new Error(`invalid cluster CIDR ${text}`);
    return pool.value;
  });
  const nodes = api.type('', 'nodes');
  const pending = new Set<string>();
  let scheduled = false;
  let stopped = false;

  const allocate = (name: string): void => {
    const current = api.get(nodes, undefined, name);
    if (!current.ok || podCidrsOf(current.value).length > 0) return;
    const used = api.listShared(nodes).flatMap(podCidrsOf).flatMap((c) => { const p = parseCidr(c); return p.ok ? [p.value] : []; });
    const blocks: string[] = [];
    for (const pool of pools) {
      const block = nextFreeBlock(pool, pool.family === 4 ? options.nodeMaskV4 ?? 24 : options.nodeMaskV6 ?? 64, used);
      if (!block) { log.warn({ node: name, pool: formatCidr(pool) }, 'cluster CIDR exhausted'); return; }
      blocks.push(formatCidr(block));
    }
    const node = current.value;
    node['spec'] = { ...(node['spec'] as object | undefined), podCIDR: blocks[0], podCIDRs: blocks };
    const written = api.update(nodes, node);
    if (!written.ok) pending.add(name);  // raced with another writer: try again on the next pass
  };

  const flush = (): void => {
    scheduled = false;
    if (stopped) return;
    const names = [...pending];
    pending.clear();
    for (const name of names) allocate(name);
  };
  const enqueue = (name: string): void => {
    pending.add(name);
    if (!scheduled) { scheduled = true; setImmediate(flush); }
  };

  const unsubscribe = api.subscribe((event) => {
    if (event.resource === '/nodes' && event.type !== 'DELETED' && podCidrsOf(event.object).length === 0) enqueue(event.object.metadata.name ?? '');
  });
  for (const node of api.list(nodes)) if (podCidrsOf(node).length === 0) enqueue(node.metadata.name ?? '');
  return () => { stopped = true; unsubscribe(); };
}
