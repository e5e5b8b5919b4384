// Which CNI conflist a node's pods are wired with: the one kube-router wrote for the node once it carries the
// node's subnet (copied with the lab's per-node host-local dataDir injected, since simulated nodes share one
// filesystem), else a bridge + host-local list for the node's spec.podCIDR on the same bridge name.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultConflist, type CniConflist, type CniPluginConf } from '../pods/cni.ts';
import { writeJson } from '../netns/state.ts';

export interface NodeCniFiles {
  /** KUBE_ROUTER_CNI_CONF_FILE of the node (may not exist, or be the template without a subnet). */
  kubeRouterConflist: string;
  /** Directory the lab writes the effective conflists to. */
  dir: string;
  /** host-local dataDir of this node. */
  ipamDataDir: string;
}

function hasSubnet(ipam: Record<string, unknown> | undefined): boolean {
  return ipam !== undefined && (typeof ipam['subnet'] === 'string' || Array.isArray(ipam['ranges']));
}

function readList(file: string): CniConflist | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    // a single-plugin .conf is accepted as a one-entry list, as libcni does
    if (Array.isArray(parsed['plugins'])) return parsed as unknown as CniConflist;
    if (typeof parsed['type'] === 'string') return { cniVersion: String(parsed['cniVersion'] ?? '0.3.1'), name: String(parsed['name'] ?? 'lab'), plugins: [parsed as unknown as CniPluginConf] };
  } catch {
    // half-written or invalid: treated as absent
  }
  return undefined;
}

/** kube-router's conflist for the node, once it carries a subnet in every IPAM section; else undefined. */
export function kubeRouterConflistWritten(file: string): CniConflist | undefined {
  const written = readList(file);
  const ipams = written?.plugins.map((p) => p['ipam'] as Record<string, unknown> | undefined).filter((i) => i !== undefined) ?? [];
  return written && ipams.length > 0 && ipams.every(hasSubnet) ? written : undefined;
}

/** Path of the conflist to use now for a pod on this node. */
export function effectiveConflist(files: NodeCniFiles, podCidr: string): { file: string; source: 'kube-router' | 'lab-default' } {
  const written = kubeRouterConflistWritten(files.kubeRouterConflist);
  if (written) {
    const list = structuredClone(written);
    for (const plugin of list.plugins) {
      const ipam = plugin['ipam'] as Record<string, unknown> | undefined;
      if (ipam?.['type'] === 'host-local') ipam['dataDir'] = files.ipamDataDir;
    }
    const file = join(files.dir, 'kube-router-effective.conflist');
    writeJson(file, list);
    return { file, source: 'kube-router' };
  }
  const file = join(files.dir, `lab-default-${podCidr.replace(/[/:]/g, '_')}.conflist`);
  if (!existsSync(file)) writeJson(file, defaultConflist({ podCidr, ipamDataDir: files.ipamDataDir }));
  return { file, source: 'lab-default' };
}

/** The file kube-router expects to exist at start (what upstream's install init container copies in): no subnet yet. */
export function kubeRouterConflistTemplate(): CniConflist {
  return {
    cniVersion: '0.3.0',
    name: 'mynet',
    plugins: [{ name: 'kubernetes', type: 'bridge', bridge: 'kube-bridge', isDefaultGateway: true, ipam: { type: 'host-local' } }],
  };
}
