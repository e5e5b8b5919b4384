// The per-service IPVS counters behind upstream's kube_router_service_* metrics: one listing of the kernel's
// virtual services at scrape time, each matched to the Service that owns it in the desired state.
import type { Ipvs } from '../../kernel/ipvs.ts';
import type { ServiceStat } from '../../observe/metrics.ts';
import { virtualServiceKey, type Protocol } from './model.ts';
import type { ProxyState } from './plan-state.ts';

export async function serviceStats(ipvs: Ipvs, state: ProxyState): Promise<ServiceStat[]> {
  const listed = await ipvs.listServices();
  if (!listed.ok) throw new Error(`IPVS: listing services failed: ${listed.error.code}`);
  const out: ServiceStat[] = [];
  for (const s of listed.value) {
    if ('fwmark' in s || !s.stats) continue;
    const protocol = s.protocol.toUpperCase() as Protocol;
    const vs = state.virtualService(virtualServiceKey(protocol, s.address, s.port));
    if (!vs) continue; // not one of ours
    const [namespace = '', name = ''] = vs.service.split('/');
    out.push({ namespace, name, vip: s.address, protocol: s.protocol, port: s.port, stats: s.stats });
  }
  return out;
}
