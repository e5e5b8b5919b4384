// Host setup for pod networking on this node: the CNI file (written atomically, only when it changes), the
// kube-bridge link (up, MTU), the FORWARD accept rules (inserted at position 1 only when missing, nothing else
// touched) and the forwarding / bridge-netfilter sysctls.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createBridge, getLink, listAddresses, setLinkMtu, setLinkUp, type Link } from '../../kernel/netlink/rtnetlink.ts';
import type { NetlinkSocket } from '../../kernel/netlink/socket.ts';
import type { Exec } from '../../kernel/exec.ts';
import { iptablesRestore, listChain, ruleExists } from '../../kernel/iptables.ts';
import { writeSysctls, type SysctlSetting } from '../../kernel/sysctl.ts';
import { err, ok, type Result } from '../../result.ts';
import { BRIDGE_NAME, planCniConf } from './plan-cni.ts';

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Writes the node's CNI configuration if it differs from what is there; ok(true) when the file was written. */
export async function applyCniConf(path: string, podCidrs: string[], mtu?: number): Promise<Result<boolean>> {
  let existing: string | undefined;
  try {
    existing = await readOptional(path);
  } catch (e) {
    return err(`reading ${path}: ${(e as Error).message}`);
  }
  const planned = planCniConf(existing, basename(path), podCidrs, mtu);
  if (!planned.ok) return planned;
  if (planned.value === undefined) return ok(false);
  try {
    await mkdir(dirname(path), { recursive: true });
    // Rename over the old file so the container runtime never reads a half-written configuration.
    const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
    await writeFile(tmp, planned.value, { mode: 0o644 });
    await rename(tmp, path);
  } catch (e) {
    return err(`writing ${path}: ${(e as Error).message}`);
  }
  return ok(true);
}

async function findLink(sock: NetlinkSocket, name: string | number): Promise<Link | undefined> {
  try {
    return await getLink(sock, name);
  } catch {
    return undefined;
  }
}

/** The interface holding this IP (the node interface: auto-MTU source and the third FORWARD rule). */
export async function interfaceWithAddress(sock: NetlinkSocket, ip: string): Promise<Link | undefined> {
  const address = (await listAddresses(sock)).find((a) => a.address.split('/')[0] === ip);
  return address ? findLink(sock, address.ifindex) : undefined;
}

/** Creates kube-bridge if missing, sets it up and (when given) its MTU; returns the bridge's MTU. */
export async function ensureBridge(sock: NetlinkSocket, mtu?: number): Promise<Result<number | undefined>> {
  try {
    let link = await findLink(sock, BRIDGE_NAME);
    if (!link) {
      await createBridge(sock, BRIDGE_NAME, mtu !== undefined ? { mtu } : {});
      link = await getLink(sock, BRIDGE_NAME);
    }
    if (!link.up) await setLinkUp(sock, link.index);
    if (mtu !== undefined && link.mtu !== mtu) {
      try {
        await setLinkMtu(sock, link.index, mtu);
        return ok(mtu);
      } catch {
        // Upstream falls back to the bridge's own MTU for the CNI file when it cannot be changed.
        return ok(link.mtu);
      }
    }
    return ok(link.mtu);
  } catch (e) {
    return err(`kube-bridge: ${(e as Error).message}`);
  }
}

/** The FORWARD accept rules upstream inserts (comments included: they are part of the rule identity). */
export function forwardRules(nodeInterface: string | undefined): string[][] {
  const rules = [
    ['-m', 'comment', '--comment', 'allow outbound traffic from pods', '-i', BRIDGE_NAME, '-j', 'ACCEPT'],
    ['-m', 'comment', '--comment', 'allow inbound traffic to pods', '-o', BRIDGE_NAME, '-j', 'ACCEPT'],
  ];
  if (nodeInterface) {
    rules.push(['-m', 'comment', '--comment', 'allow outbound node port traffic on node interface with which node ip is associated', '-o', nodeInterface, '-j', 'ACCEPT']);
  }
  return rules;
}

/** Inserts each rule at FORWARD position 1 unless `-C` finds it already; other rules are never touched. */
export async function ensureForwardRules(exec: Exec, families: Array<4 | 6>, nodeInterface: string | undefined): Promise<string[]> {
  const errors: string[] = [];
  for (const family of families) {
    const target = { family };
    for (const rule of forwardRules(nodeInterface)) {
      const present = await ruleExists(exec, target, 'filter', 'FORWARD', rule);
      if (present.ok && present.value) continue;
      const position = await firstPositionAfterPolicyJumps(exec, family);
      const r = await iptablesRestore(exec, target, [{ table: 'filter', insert: [{ chain: 'FORWARD', position, rule }] }]);
      if (!r.ok) errors.push(r.error.message);
    }
  }
  return errors;
}

/**
 * Where an accept rule may go in FORWARD: at the top as upstream, but below the network policy controller's
 * jumps (KUBE-ROUTER-FORWARD), which must see pod traffic before anything accepts it.
 */
async function firstPositionAfterPolicyJumps(exec: Exec, family: 4 | 6): Promise<number> {
  const rules = await listChain(exec, { family }, 'filter', 'FORWARD');
  if (!rules.ok) return 1;
  let leading = 0;
  while (leading < rules.value.length && /-j KUBE-ROUTER-/.test(rules.value[leading] ?? '')) leading++;
  return leading + 1;
}

/** ip_forward (and IPv6 forwarding), br_netfilter and bridge-nf-call-ip(6)tables = 1. */
export async function applyForwardingSysctls(exec: Exec, families: Array<4 | 6>): Promise<string[]> {
  // Without the module the bridge-nf sysctls do not exist; a failure here shows up as a sysctl error below.
  await exec.run('modprobe', ['br_netfilter']);
  const settings: SysctlSetting[] = [];
  if (families.includes(4)) settings.push({ key: 'net.ipv4.ip_forward', value: 1 }, { key: 'net.bridge.bridge-nf-call-iptables', value: 1 });
  if (families.includes(6)) settings.push({ key: 'net.ipv6.conf.all.forwarding', value: 1 }, { key: 'net.bridge.bridge-nf-call-ip6tables', value: 1 });
  return (await writeSysctls(exec, settings)).map((e) => e.message);
}
