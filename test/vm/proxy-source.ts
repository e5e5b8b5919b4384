// The service proxy's view of the cluster for node n1 of the VM proxy topologies (test/vm/proxy-topology.ts, and
// proxy-dual-stack-topology.ts with both families): Services and EndpointSlices the test puts in a map, the node's
// addresses read from its namespace as the daemon reads them.
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { readLocalAddresses, type CacheSource, type LocalAddresses } from '../../src/controllers/proxy/source.ts';
import type { NetlinkSocket } from '../../src/kernel/netlink/socket.ts';
import type { ProxyNode } from '../../src/controllers/proxy/plan-service.ts';
import { N1_IP } from './proxy-topology.ts';

/** Node n1 as the Node object gives it: its best address per family and its pod CIDRs (IPv4 topology by default). */
export interface NodeOne {
  addresses: ProxyNode['addresses'];
  podCidrs: string[];
}

export class NodeOneServices implements CacheSource {
  readonly svcs = new Map<string, Service>();
  readonly slices = new Map<string, EndpointSlice>();
  private local: LocalAddresses = { all: new Set(), host: new Set(), nodePort: { ipv4: [], ipv6: [] } };
  constructor(private readonly sock: NetlinkSocket, private readonly self: NodeOne = { addresses: { ipv4: N1_IP }, podCidrs: ['198.18.1.0/24'] }) {}
  services() { return this.svcs.values(); }
  service(key: string) { return this.svcs.get(key); }
  slicesOf(key: string) { return [...this.slices.values()].filter((s) => `${s.metadata!.namespace}/${s.metadata!.labels!['kubernetes.io/service-name']}` === key); }
  slice(key: string) { return this.slices.get(key); }
  node() { return { name: 'n1', addresses: this.self.addresses, nodePortAddresses: this.local.nodePort, podCidrs: this.self.podCidrs }; }
  async refresh() { this.local = await readLocalAddresses(this.sock); }
  localAddresses() { return this.local; }
  /** Adds or replaces a Service (namespace default) and its slices; returns the changes to hand the controller. */
  put(svc: Service, ...slices: EndpointSlice[]) {
    this.svcs.set(`default/${svc.metadata!.name}`, svc);
    for (const s of slices) this.slices.set(`default/${s.metadata!.name}`, s);
    return [{ kind: 'Service', key: `default/${svc.metadata!.name}` }, ...slices.map((s) => ({ kind: 'EndpointSlice', key: `default/${s.metadata!.name}` }))];
  }
}
