// The Prometheus metrics catalogue: upstream kube-router's metric names (docs/metrics.md) plus our own
// sync/error counters, all on one registry that the metrics HTTP server exposes.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { IpvsStats } from '../kernel/netlink/ipvs-stats.ts';

export const registry = new Registry();
collectDefaultMetrics({ register: registry });

const NS = 'kube_router_';
// Sync durations range from sub-millisecond incremental updates to multi-second full syncs.
const syncBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

function histogram(name: string, help: string, labelNames: string[] = []): Histogram<string> {
  return new Histogram({ name: NS + name, help, labelNames, buckets: syncBuckets, registers: [registry] });
}
function counter(name: string, help: string, labelNames: string[] = []): Counter<string> {
  return new Counter({ name: NS + name, help, labelNames, registers: [registry] });
}
function gauge(name: string, help: string, labelNames: string[] = []): Gauge<string> {
  return new Gauge({ name: NS + name, help, labelNames, registers: [registry] });
}

/** One IPVS virtual service's counters, for the per-service metrics (upstream's labels). */
export interface ServiceStat {
  namespace: string;
  name: string;
  vip: string;
  protocol: string;
  port: number;
  stats: IpvsStats;
}

let serviceStatsSource: (() => Promise<ServiceStat[]>) | undefined;
let serviceStatsCache: { at: number; value: Promise<ServiceStat[]> } | undefined;

/** Where the per-service metrics come from (the service proxy sets it); read once per scrape. */
export function setServiceStatsSource(source: (() => Promise<ServiceStat[]>) | undefined): void {
  serviceStatsSource = source;
  serviceStatsCache = undefined;
}

function currentServiceStats(): Promise<ServiceStat[]> {
  if (!serviceStatsSource) return Promise.resolve([]);
  // Every per-service metric collects on the same scrape: one IPVS dump serves them all.
  if (!serviceStatsCache || Date.now() - serviceStatsCache.at > 1_000) serviceStatsCache = { at: Date.now(), value: serviceStatsSource().catch(() => []) };
  return serviceStatsCache.value;
}

const SERVICE_LABELS = ['svc_namespace', 'service_name', 'service_vip', 'protocol', 'port'];
const serviceLabels = (s: ServiceStat) => ({ svc_namespace: s.namespace, service_name: s.name, service_vip: s.vip, protocol: s.protocol, port: String(s.port) });

/** A per-service metric set from the kernel's counters at scrape time (counters carry the kernel's totals). */
function serviceMetric(kind: 'counter' | 'gauge', name: string, help: string, pick: (s: IpvsStats) => number): void {
  const collect = async function (this: Counter<string> | Gauge<string>): Promise<void> {
    this.reset();
    for (const s of await currentServiceStats()) {
      if (this instanceof Counter) this.inc(serviceLabels(s), pick(s.stats));
      else this.set(serviceLabels(s), pick(s.stats));
    }
  };
  if (kind === 'counter') new Counter({ name: NS + name, help, labelNames: SERVICE_LABELS, registers: [registry], collect });
  else new Gauge({ name: NS + name, help, labelNames: SERVICE_LABELS, registers: [registry], collect });
}

serviceMetric('counter', 'service_total_connections', 'Total incoming connections made', (s) => s.connections);
serviceMetric('counter', 'service_packets_in', 'Total incoming packets', (s) => s.inPackets);
serviceMetric('counter', 'service_packets_out', 'Total outgoing packets', (s) => s.outPackets);
serviceMetric('counter', 'service_bytes_in', 'Total incoming bytes', (s) => s.inBytes);
serviceMetric('counter', 'service_bytes_out', 'Total outgoing bytes', (s) => s.outBytes);
serviceMetric('gauge', 'service_pps_in', 'Incoming packets per second', (s) => s.inPacketsPerSecond);
serviceMetric('gauge', 'service_pps_out', 'Outgoing packets per second', (s) => s.outPacketsPerSecond);
serviceMetric('gauge', 'service_cps', 'Service connections per second', (s) => s.connectionsPerSecond);
serviceMetric('gauge', 'service_bps_in', 'Incoming bytes per second', (s) => s.inBytesPerSecond);
serviceMetric('gauge', 'service_bps_out', 'Outgoing bytes per second', (s) => s.outBytesPerSecond);

export const metrics = {
  buildInfo: gauge('build_info', 'Build information (goversion carries the Node.js version)', ['goversion', 'version']),

  // Routing controller (names as upstream).
  bgpPeerInfo: gauge('bgp_peer_info', 'BGP peer information', ['address', 'type', 'asn', 'state']),
  bgpAdvertisementsReceived: counter('controller_bgp_advertisements_received', 'BGP advertisements received'),
  bgpAdvertisementsSent: counter('controller_bgp_advertisements_sent', 'BGP advertisements sent', ['type']),
  bgpInternalPeersSyncTime: histogram('controller_bgp_internal_peers_sync_time', 'Time to sync internal BGP peers (s)'),
  routesSyncTime: histogram('controller_routes_sync_time', 'Time to sync routes (s)'),
  hostRoutesSyncTime: histogram('host_routes_sync_time', 'Time to sync host routes (s)'),
  hostRoutesSynced: gauge('host_routes_synced', 'Host routes currently synced'),
  hostRoutesAdded: counter('host_routes_added', 'Host routes added'),
  hostRoutesRemoved: counter('host_routes_removed', 'Host routes removed'),

  // Network policy controller (names as upstream).
  iptablesSyncTime: histogram('controller_iptables_sync_time', 'Time to sync iptables (s)'),
  iptablesV4SaveTime: histogram('controller_iptables_v4_save_time', 'Time to save IPv4 iptables state (s)'),
  iptablesV6SaveTime: histogram('controller_iptables_v6_save_time', 'Time to save IPv6 iptables state (s)'),
  iptablesV4RestoreTime: histogram('controller_iptables_v4_restore_time', 'Time to restore IPv4 iptables rules (s)'),
  iptablesV6RestoreTime: histogram('controller_iptables_v6_restore_time', 'Time to restore IPv6 iptables rules (s)'),
  policyChainsSyncTime: histogram('controller_policy_chains_sync_time', 'Time to sync policy chains (s)'),
  policyIpsetV4RestoreTime: histogram('controller_policy_ipset_v4_restore_time', 'Time to restore IPv4 policy ipsets (s)'),
  policyIpsetV6RestoreTime: histogram('controller_policy_ipset_v6_restore_time', 'Time to restore IPv6 policy ipsets (s)'),
  policyChains: gauge('controller_policy_chains', 'Active policy chains'),
  policyIpsets: gauge('controller_policy_ipsets', 'Active policy ipsets'),

  // Service proxy (names as upstream).
  ipvsServicesSyncTime: histogram('controller_ipvs_services_sync_time', 'Time to sync IPVS services (s)'),
  ipvsMetricsExportTime: histogram('controller_ipvs_metrics_export_time', 'Time to export IPVS metrics (s)'),
  ipvsServices: gauge('controller_ipvs_services', 'Number of IPVS services'),

  // Ours: every controller's loop, so sync counts, failures and rejected objects are visible.
  controllerSyncs: counter('controller_syncs_total', 'Controller sync passes', ['controller', 'kind', 'result']),
  controllerErrors: counter('controller_errors_total', 'Errors while handling one object or a sync', ['controller']),
  rejectedObjects: counter('rejected_objects_total', 'Objects a controller rejected as invalid', ['controller', 'kind', 'reason']),
  reflectorRestarts: counter('reflector_restarts_total', 'Lists and watches started over after a failure, per resource and cause (gone, error, idle)', ['resource', 'cause']),
  gobgpdUp: gauge('gobgpd_up', '1 while the supervised gobgpd serves its API, 0 while it cannot be started'),
};
