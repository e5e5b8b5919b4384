// Runs a CNI network configuration list the way libcni (kubelet/containerd) does: each plugin gets its own
// config on stdin (plugin object + list name + cniVersion + prevResult + runtimeConfig for declared
// capabilities), the CNI_* environment, and is executed inside the node's namespace (`ip netns exec`).
// ADD runs the chain in order and caches the final result; DEL runs it in reverse; CHECK needs cniVersion >= 0.4.0.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Result } from '../../src/result.ts';
import { readJson, removeFile, writeJson } from '../netns/state.ts';
import { run } from '../netns/exec.ts';

export interface CniPluginConf {
  type: string;
  capabilities?: Record<string, boolean>;
  [key: string]: unknown;
}

export interface CniConflist {
  cniVersion: string;
  name: string;
  disableCheck?: boolean;
  plugins: CniPluginConf[];
}

export interface CniIpConfig {
  address: string;
  gateway?: string;
  interface?: number;
  version?: string;
}

export interface CniResult {
  cniVersion?: string;
  interfaces?: { name: string; mac?: string; sandbox?: string }[];
  ips?: CniIpConfig[];
  routes?: { dst: string; gw?: string }[];
  dns?: unknown;
  [key: string]: unknown;
}

export interface CniError {
  plugin: string;
  code: number;
  msg: string;
  details?: string;
}

/** What the runtime knows about the attachment (kubelet's view of the sandbox). */
export interface CniAttachment {
  containerId: string;
  /** Path of the pod's network namespace, e.g. /run/netns/<name>. */
  netnsPath: string;
  ifName: string;
  /** CNI_ARGS pairs, in order (IgnoreUnknown=1 is always put first). */
  args: [string, string][];
  /** Values for plugin capabilities (portMappings, bandwidth, ...); injected only where a plugin declares them. */
  capabilityArgs?: Record<string, unknown>;
}

export interface CniEnvironment {
  /** Namespace the plugins run in (the simulated node); undefined = the caller's own. */
  execNetns?: string;
  /** Plugin directories (CNI_PATH), default /usr/lib/cni. */
  cniPath?: string[];
  /** Directory of cached ADD results. */
  cacheDir: string;
}

export const DEFAULT_CNI_PATH = ['/usr/lib/cni'];

export function readConflist(file: string): CniConflist {
  const list = JSON.parse(readFileSync(file, 'utf8')) as CniConflist;
  if (typeof list.name !== 'string' || !Array.isArray(list.plugins) || list.plugins.length === 0) {
    throw new Error(`${file}: not a CNI conflist (needs name and plugins)`);
  }
  return list;
}

/** -1, 0, 1 comparing dotted versions ("0.3.1" < "0.4.0"). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

export function formatCniArgs(args: [string, string][]): string {
  return [['IgnoreUnknown', '1'], ...args.filter(([k]) => k !== 'IgnoreUnknown')].map(([k, v]) => `${k}=${v}`).join(';');
}

/** The stdin config libcni builds for one plugin of a list. */
export function pluginStdin(list: CniConflist, plugin: CniPluginConf, att: CniAttachment, prevResult?: CniResult): Record<string, unknown> {
  const conf: Record<string, unknown> = { ...plugin, name: list.name, cniVersion: list.cniVersion };
  const runtimeConfig: Record<string, unknown> = {};
  for (const [cap, declared] of Object.entries(plugin.capabilities ?? {})) {
    if (declared && att.capabilityArgs && cap in att.capabilityArgs) runtimeConfig[cap] = att.capabilityArgs[cap];
  }
  if (Object.keys(runtimeConfig).length > 0) conf['runtimeConfig'] = runtimeConfig;
  if (prevResult) conf['prevResult'] = prevResult;
  return conf;
}

function cacheFile(env: CniEnvironment, list: CniConflist, att: CniAttachment): string {
  return join(env.cacheDir, `${list.name}-${att.containerId}-${att.ifName}.json`);
}

export function cachedResult(env: CniEnvironment, list: CniConflist, att: CniAttachment): CniResult | undefined {
  return readJson<CniResult>(cacheFile(env, list, att));
}

async function invoke(command: 'ADD' | 'DEL' | 'CHECK', list: CniConflist, plugin: CniPluginConf, att: CniAttachment, env: CniEnvironment, prev?: CniResult): Promise<Result<CniResult | undefined, CniError>> {
  const dirs = env.cniPath ?? DEFAULT_CNI_PATH;
  const binary = dirs.map((d) => join(d, plugin.type)).find((p) => existsSync(p));
  if (!binary) return { ok: false, error: { plugin: plugin.type, code: 1, msg: `failed to find plugin "${plugin.type}" in path [${dirs.join(' ')}]` } };
  // like libcni: the runtime's own environment plus the CNI_* variables
  const pluginEnv: NodeJS.ProcessEnv = {
    ...process.env,
    CNI_COMMAND: command,
    CNI_CONTAINERID: att.containerId,
    CNI_NETNS: att.netnsPath,
    CNI_IFNAME: att.ifName,
    CNI_ARGS: formatCniArgs(att.args),
    CNI_PATH: dirs.join(':'),
  };
  const argv = env.execNetns ? ['ip', 'netns', 'exec', env.execNetns, binary] : [binary];
  const stdin = JSON.stringify(pluginStdin(list, plugin, att, prev));
  const r = await run(argv, { input: stdin, env: pluginEnv });
  const out = r.stdout.trim();
  if (r.code !== 0) {
    let parsed: { code?: number; msg?: string; details?: string } = {};
    try {
      parsed = JSON.parse(out) as typeof parsed;
    } catch {
      // plugins that die before printing JSON
    }
    const error: CniError = { plugin: plugin.type, code: parsed.code ?? r.code, msg: parsed.msg ?? (r.stderr.trim() || out) };
    if (parsed.details) error.details = parsed.details;
    return { ok: false, error };
  }
  if (command !== 'ADD' || out === '') return { ok: true, value: undefined };
  try {
    return { ok: true, value: JSON.parse(out) as CniResult };
  } catch {
    return { ok: false, error: { plugin: plugin.type, code: 999, msg: `unparsable result: ${out.slice(0, 200)}` } };
  }
}

/** ADD: the chain in order, each plugin seeing the previous one's result; the final result is cached. */
export async function cniAdd(list: CniConflist, att: CniAttachment, env: CniEnvironment): Promise<Result<CniResult, CniError>> {
  let prev: CniResult | undefined;
  for (const plugin of list.plugins) {
    const r = await invoke('ADD', list, plugin, att, env, prev);
    if (!r.ok) return r;
    prev = r.value ?? prev;
  }
  const result = prev ?? {};
  writeJson(cacheFile(env, list, att), result);
  return { ok: true, value: result };
}

/** DEL: the chain in reverse; from 0.4.0 on each plugin gets the cached ADD result as prevResult. */
export async function cniDel(list: CniConflist, att: CniAttachment, env: CniEnvironment): Promise<Result<void, CniError>> {
  const prev = compareVersions(list.cniVersion, '0.4.0') >= 0 ? cachedResult(env, list, att) : undefined;
  for (const plugin of [...list.plugins].reverse()) {
    const r = await invoke('DEL', list, plugin, att, env, prev);
    if (!r.ok) return r;
  }
  removeFile(cacheFile(env, list, att));
  return { ok: true, value: undefined };
}

/** CHECK: the chain in order with the cached ADD result; refused below 0.4.0 like libcni does. */
export async function cniCheck(list: CniConflist, att: CniAttachment, env: CniEnvironment): Promise<Result<void, CniError>> {
  if (compareVersions(list.cniVersion, '0.4.0') < 0) {
    return { ok: false, error: { plugin: '', code: 1, msg: `configuration version "${list.cniVersion}" does not support the CHECK command` } };
  }
  if (list.disableCheck) return { ok: true, value: undefined };
  const prev = cachedResult(env, list, att);
  if (!prev) return { ok: false, error: { plugin: '', code: 1, msg: `no cached ADD result for ${att.containerId}/${att.ifName}` } };
  for (const plugin of list.plugins) {
    const r = await invoke('CHECK', list, plugin, att, env, prev);
    if (!r.ok) return r;
  }
  return { ok: true, value: undefined };
}

/** Addresses (without prefix length) of the result's IPs. */
export function resultAddresses(result: CniResult): string[] {
  return (result.ips ?? []).map((ip) => ip.address.split('/')[0] ?? ip.address);
}

export interface DefaultConflistOptions {
  podCidr: string;
  /** host-local dataDir, one per simulated node. */
  ipamDataDir: string;
  cniVersion?: string;
  bridge?: string;
}

/**
 * The bridge + host-local list a node uses until kube-router writes its own (which adds portmap). cniVersion
 * 0.4.0 by default so CHECK works; portmap is left out because without port mappings it installs nothing.
 */
export function defaultConflist(opts: DefaultConflistOptions): CniConflist {
  return {
    cniVersion: opts.cniVersion ?? '0.4.0',
    name: 'mynet',
    plugins: [
      {
        name: 'kubernetes',
        type: 'bridge',
        bridge: opts.bridge ?? 'kube-bridge',
        isDefaultGateway: true,
        hairpinMode: true,
        mtu: 1500,
        ipam: { type: 'host-local', subnet: opts.podCidr, dataDir: opts.ipamDataDir },
      },
    ],
  };
}
