// Pure planning of the CNI bridge configuration kube-router maintains: patch an existing .conf/.conflist (bridge
// plugin: legacy ipam.subnet moved into ipam.ranges, missing pod CIDRs added as their own ranges, mtu set) or
// produce upstream's default when there is none. Returns the new file text, or undefined when nothing changes.
import { err, ok, type Result } from '../../result.ts';

export const BRIDGE_NAME = 'kube-bridge';

type Json = Record<string, unknown>;

function defaultBridgePlugin(): Json {
  return { name: 'kubernetes', type: 'bridge', bridge: BRIDGE_NAME, isDefaultGateway: true, hairpinMode: true, ipam: { type: 'host-local' } };
}

/** Upstream's default: a conflist named "mynet" with the bridge and portmap plugins, or a single bridge .conf. */
function defaultConf(fileName: string): Json {
  if (fileName.endsWith('.conflist')) {
    return {
      cniVersion: '0.3.0', name: 'mynet',
      plugins: [defaultBridgePlugin(), { type: 'portmap', capabilities: { snat: true, portMappings: true } }],
    };
  }
  return { cniVersion: '0.3.0', name: 'mynet', ...defaultBridgePlugin() };
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function findBridge(conf: Json): Json | undefined {
  if (Array.isArray(conf['plugins'])) return (conf['plugins'] as unknown[]).find((p): p is Json => isObject(p) && p['type'] === 'bridge');
  return conf['type'] === 'bridge' ? conf : undefined;
}

function rangeSubnets(ranges: unknown[]): Set<string> {
  const subnets = new Set<string>();
  for (const range of ranges) {
    if (!Array.isArray(range)) continue;
    for (const entry of range) if (isObject(entry) && typeof entry['subnet'] === 'string') subnets.add(entry['subnet']);
  }
  return subnets;
}

/**
 * The CNI file content for this node. `existing` is the current file text (undefined when absent), `mtu` is set
 * only when --auto-mtu is on.
 */
export function planCniConf(existing: string | undefined, fileName: string, podCidrs: string[], mtu?: number): Result<string | undefined> {
  let conf: Json;
  if (existing === undefined || existing.trim() === '') conf = defaultConf(fileName);
  else {
    try {
      const parsed: unknown = JSON.parse(existing);
      if (!isObject(parsed)) return err(`${fileName}: not a JSON object`);
      conf = parsed;
    } catch (e) {
      return err(`${fileName}: not valid JSON: ${(e as Error).message}`);
    }
  }
  const before = existing === undefined ? '' : JSON.stringify(conf);
  const bridge = findBridge(conf);
  if (!bridge) return err(`${fileName}: no plugin of type "bridge"`);
  if (!isObject(bridge['ipam'])) bridge['ipam'] = { type: 'host-local' };
  const ipam = bridge['ipam'] as Json;
  const ranges: unknown[] = Array.isArray(ipam['ranges']) ? (ipam['ranges'] as unknown[]) : [];
  // host-local refuses subnet and ranges together: the legacy subnet becomes a range of its own.
  if (typeof ipam['subnet'] === 'string') {
    if (!rangeSubnets(ranges).has(ipam['subnet'])) ranges.push([{ subnet: ipam['subnet'] }]);
    delete ipam['subnet'];
  }
  const present = rangeSubnets(ranges);
  for (const cidr of podCidrs) if (!present.has(cidr)) ranges.push([{ subnet: cidr }]);
  if (ranges.length > 0) ipam['ranges'] = ranges;
  if (mtu !== undefined) bridge['mtu'] = mtu;
  if (JSON.stringify(conf) === before) return ok(undefined);
  return ok(`${JSON.stringify(conf, null, 2)}\n`);
}
