// Builds the service proxy for the daemon: IPVS over generic netlink (the ip_vs module loaded when missing),
// upstream's sysctls and IPVS timeouts, the dummy link, the netfilter side, and the change filter. Kernel state
// stays in place on exit and is adopted by the next start's full sync.
import { enabledFamilies, type Options } from '../../config/options.ts';
import { processExec, type Exec } from '../../kernel/exec.ts';
import { detectIptablesMode, type IptablesMode } from '../../kernel/iptables.ts';
import { openIpvs, type Ipvs } from '../../kernel/ipvs.ts';
import { openRtnetlink } from '../../kernel/netlink/rtnetlink.ts';
import type { NetlinkSocket } from '../../kernel/netlink/socket.ts';
import { writeSysctls, type SysctlSetting } from '../../kernel/sysctl.ts';
import type { IpFamily } from '../../net/ip.ts';
import { logger } from '../../observe/log.ts';
import { metrics, setServiceStatsSource } from '../../observe/metrics.ts';
import { rejectObject, type ControllerContext } from '../context.ts';
import type { RunningController } from '../runtime.ts';
import { AddressApplier } from './apply-addresses.ts';
import { IpvsApplier } from './apply-ipvs.ts';
import { IptablesNetfilter } from './apply-netfilter.ts';
import { CONTROLLER_NAME, ProxyController } from './controller.ts';
import { IpvsDataplane, ownershipRule, type OwnershipConfig } from './dataplane.ts';
import type { Problem } from './model.ts';
import type { ProxyConfig } from './service-ips.ts';
import { serviceStats } from './service-stats.ts';
import { cacheSource, readLocalAddresses, type CacheSource } from './source.ts';

const log = logger('proxy');
const EPROTONOSUPPORT = 93;

export function proxyConfig(options: Options): ProxyConfig {
  return {
    families: enabledFamilies(options),
    clusterIpRanges: options.serviceClusterIpRanges,
    externalIpRanges: options.serviceExternalIpRanges,
    loadBalancerIpRanges: options.loadBalancerIpRanges,
    strictExternalIpValidation: options.strictExternalIpValidation,
    hairpinAll: options.hairpinMode,
    nodePortBindOnAllIp: options.nodePortBindOnAllIp,
  };
}

export function ownershipConfig(options: Options): OwnershipConfig {
  return { nodePortRange: { from: options.serviceNodePortRange.first, to: options.serviceNodePortRange.last }, excludedCidrs: options.excludedCidrs };
}

/** Upstream's start-up sysctls: IPVS connection tracking (needed by the masquerade rules) and ARP hygiene for VIPs. */
export const PROXY_SYSCTLS: readonly SysctlSetting[] = [
  { key: 'net.ipv4.vs.conntrack', value: '1' },
  { key: 'net.ipv4.vs.expire_nodest_conn', value: '1' },
  { key: 'net.ipv4.vs.expire_quiescent_template', value: '1' },
  { key: 'net.ipv4.vs.conn_reuse_mode', value: '0' },
  { key: 'net.ipv4.conf.all.arp_ignore', value: '1' },
  { key: 'net.ipv4.conf.all.arp_announce', value: '2' },
];

/** Opens IPVS, loading the module once when the kernel has it but it is not loaded. */
export async function openIpvsLoading(exec: Exec, netns?: string): Promise<Ipvs> {
  const path = netns ? `/run/netns/${netns}` : undefined;
  let opened = await openIpvs(path ? { netns: path } : {});
  if (!opened.ok && opened.error.errno === EPROTONOSUPPORT) {
    const loaded = await exec.run('modprobe', ['ip_vs']);
    if (!loaded.ok) log.warn({ err: loaded.error.message }, 'modprobe ip_vs failed');
    opened = await openIpvs(path ? { netns: path } : {});
  }
  if (!opened.ok) {
    throw new Error(opened.error.errno === EPROTONOSUPPORT
      ? 'the service proxy needs IPVS, which this kernel does not provide (ip_vs module); run with --run-service-proxy=false to go without it'
      : `the service proxy cannot open IPVS: ${opened.error.code}`);
  }
  return opened.value;
}

export interface ProxyOverrides {
  /** Run inside this network namespace (tests). */
  netns?: string;
}

/** Everything the proxy is built from; the daemon takes these from the context, tests bring their own source. */
export interface ProxyParts {
  options: Options;
  source: CacheSource;
  exec: Exec;
  ipvs: Ipvs;
  sock: NetlinkSocket;
  mode: IptablesMode;
  report(problem: Problem): void;
}

/** Sysctls and IPVS timeouts as upstream sets them at start; failures are warnings, not fatal. */
export async function prepareKernel(exec: Exec, ipvs: Ipvs, options: Options): Promise<void> {
  for (const e of await writeSysctls(exec, PROXY_SYSCTLS)) log.warn({ err: e.message }, 'proxy sysctl not set');
  const timeouts = { tcp: Math.round(options.serviceTcpTimeoutMs / 1000), tcpFin: Math.round(options.serviceTcpFinTimeoutMs / 1000), udp: Math.round(options.serviceUdpTimeoutMs / 1000) };
  if (timeouts.tcp + timeouts.tcpFin + timeouts.udp > 0) {
    const t = await ipvs.setTimeouts(timeouts);
    if (!t.ok) log.warn({ err: t.error.code }, 'IPVS timeouts not set');
  }
}

export function assembleProxy(parts: ProxyParts): ProxyController {
  const { options, source, exec, ipvs, sock, mode } = parts;
  const config = proxyConfig(options);
  const families: IpFamily[] = config.families.map((f) => (f === 'ipv6' ? 6 : 4));
  const nodeIp = (family: IpFamily) => source.node()?.addresses[family === 6 ? 'ipv6' : 'ipv4'];
  const netfilter = new IptablesNetfilter(exec, {
    families, mode, firewall: options.ipvsPermitAll, masqueradeAll: options.masqueradeAll, nodeIp,
    podCidrs: (family) => (source.node()?.podCidrs ?? []).filter((c) => c.includes(':') === (family === 6)),
    hostAddresses: () => source.localAddresses().host,
  });
  const dataplane = new IpvsDataplane({
    addresses: new AddressApplier(sock, () => source.node()?.addresses ?? {}),
    ipvs: new IpvsApplier(ipvs), netfilter, ownership: ownershipConfig(options),
    localAddresses: async () => source.localAddresses().all,
  });
  const controller: ProxyController = new ProxyController({
    source, dataplane, config, syncPeriodMs: options.ipvsSyncPeriodMs, report: parts.report,
    observeSync: (kind, seconds) => {
      metrics.ipvsServicesSyncTime.observe(seconds);
      if (kind === 'full') metrics.ipvsServices.set([...controller.desiredState().virtualServices()].length);
    },
  });
  return controller;
}

export async function createProxyController(ctx: ControllerContext, overrides: ProxyOverrides = {}): Promise<RunningController> {
  const { options } = ctx;
  const exec = processExec(overrides.netns);
  const ipvs = await openIpvsLoading(exec, overrides.netns);
  await prepareKernel(exec, ipvs, options);
  const mode = await detectIptablesMode(exec);
  if (!mode.ok) throw new Error(`service proxy: ${mode.error.message}`);
  const sock = openRtnetlink(overrides.netns ? { netns: `/run/netns/${overrides.netns}` } : {});
  const controller = assembleProxy({
    options, source: cacheSource(ctx, sock), exec, ipvs, sock, mode: mode.value,
    report: (p) => {
      const [namespace, name] = p.key.split('/');
      const subject = p.kind === 'Service'
        ? { apiVersion: 'v1', kind: 'Service', metadata: { namespace, name } }
        : { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { namespace, name } };
      rejectObject(ctx, CONTROLLER_NAME, subject, p.reason, p.message);
    },
  });
  setServiceStatsSource(async () => {
    const end = metrics.ipvsMetricsExportTime.startTimer();
    try {
      return await serviceStats(ipvs, controller.desiredState());
    } finally {
      end();
    }
  });
  return {
    controller,
    wants: (change) => change.kind === 'Service' || change.kind === 'EndpointSlice' || (change.kind === 'Node' && change.key === ctx.node.name),
    shutdown: async () => {
      // IPVS services, addresses and rules stay: connections keep flowing while kube-router restarts.
      setServiceStatsSource(undefined);
      await ipvs.close();
      await sock.close();
    },
  };
}

/** --cleanup-config: removes the proxy's IPVS services, dummy link, chains and sets; nothing of anyone else. */
export async function cleanupProxyState(options: Options): Promise<string[]> {
  const exec = processExec();
  const errors: string[] = [];
  const mode = await detectIptablesMode(exec);
  const families: IpFamily[] = [...(options.enableIpv4 ? [4 as const] : []), ...(options.enableIpv6 ? [6 as const] : [])];
  const sock = openRtnetlink();
  try {
    const opened = await openIpvs();
    if (opened.ok) {
      const addresses = new AddressApplier(sock, () => ({}));
      const owned = ownershipRule(ownershipConfig(options), await addresses.present(), (await readLocalAddresses(sock)).all);
      const r = await new IpvsApplier(opened.value).fullSync([], owned);
      for (const [key, e] of r.failed) errors.push(`${key}: ${e.code}`);
      await opened.value.close();
    }
    if (mode.ok) {
      errors.push(...await new IptablesNetfilter(exec, {
        families, mode: mode.value, firewall: true, masqueradeAll: false, nodeIp: () => undefined, podCidrs: () => [], hostAddresses: () => new Set(),
      }).removeAll());
    }
    await new AddressApplier(sock, () => ({})).removeLink();
  } catch (e) {
    errors.push(e instanceof Error ? e.message : String(e));
  } finally {
    await sock.close();
  }
  return errors;
}
