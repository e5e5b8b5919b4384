// Node pod-CIDR allocation (the node-ipam controller's job): every node without spec.podCIDR gets the next
// free subnet of each cluster CIDR (dual-stack when two are configured), written to podCIDR and podCIDRs.
import type { LabApi } from '../apiserver/api.ts';
import type { KubeObject } from '../apiserver/resources.ts';
import { cidrSize, formatCidr, parseCidr, type Cidr } from '../apiserver/ipnet.ts';
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
  const step = cidrSize({ ...pool, prefix: mask });
  const count = cidrSize(pool) / step;
  for (let i = 0n; i < count; i++) {
    const candidate: Cidr = { family: pool.family, base: pool.base + i * step, prefix: mask };
    const overlaps = used.some((u) => {
      if (u.family !== candidate.family) return false;
      const wide = u.prefix < candidate.prefix ? u : candidate;
      const narrow = wide === u ? candidate : u;
      return narrow.base >= wide.base && narrow.base < wide.base + cidrSize(wide);
    });
    if (!overlaps) return candidate;
  }
  return undefined;
}

export function startPodCidrAllocator(api: LabApi, options: PodCidrOptions): () => void {
  const pools = options.clusterCidrs.map((text) => {
    const pool = parseCidr(text);
    if (!pool) throw new Error(`invalid cluster CIDR ${text}`);
    return pool;
  });
  const nodes = api.type('', 'nodes');
  const pending = new Set<string>();
  let scheduled = false;
  let stopped = false;

  const allocate = (name: string): void => {
    const current = api.get(nodes, undefined, name);
    if (!current.ok || podCidrsOf(current.value).length > 0) return;
    const used = api.listShared(nodes).flatMap(podCidrsOf).map((c) => parseCidr(c)).filter((c): c is Cidr => c !== undefined);
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
