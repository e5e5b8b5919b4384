// Test fixtures for the routes controller's root tests: "nodes" as network namespaces on one L2 segment
// (198.51.100.0/24 through a bridge in a switch namespace), each with pod CIDR 198.18.<i>.0/24, and a
// ControllerContext over an in-memory ClusterCache so the real controller runs without an API server.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Node } from 'kubernetes-types/core/v1.js';
import { parseCommandLine } from '../../../src/cli/command-line.ts';
import type { Options } from '../../../src/config/options.ts';
import type { ControllerContext } from '../../../src/controllers/context.ts';
import { ClusterCache } from '../../../src/kube/cluster-cache.ts';
import type { KubeClient } from '../../../src/kube/client.ts';
import type { EventRecorder, EventSubject } from '../../../src/observe/events.ts';
import { HealthRegistry } from '../../../src/observe/health.ts';
import { eventually } from '../../helpers/eventually.ts';
import { TestNetns } from '../../helpers/netns.ts';
import { cniAdd, readConflist } from '../../../lab/pods/cni.ts';

export interface LabNode {
  name: string;
  ns: TestNetns;
  ip: string;
  podCidr: string;
  cniConfFile: string;
}

export interface RecordedEvent {
  subject: EventSubject;
  reason: string;
  message: string;
}

export function nodeObject(node: Pick<LabNode, 'name' | 'ip' | 'podCidr'>, annotations: Record<string, string> = {}): Node {
  return {
    apiVersion: 'v1', kind: 'Node',
    metadata: { name: node.name, annotations },
    spec: { podCIDR: node.podCidr, podCIDRs: [node.podCidr] },
    status: { addresses: [{ type: 'InternalIP', address: node.ip }, { type: 'Hostname', address: node.name }] },
  };
}

export function routingOptions(nodeName: string, cniConfFile: string, extra: string[] = []): Options {
  const outcome = parseCommandLine([
    '--run-router=true', '--run-service-proxy=false', '--run-firewall=false', `--hostname-override=${nodeName}`,
    '--gobgp-admin-port=0', '--injected-routes-sync-period=1s', '--routes-sync-period=1h', '--enable-overlay=false',
    ...extra,
  ], { KUBE_ROUTER_CNI_CONF_FILE: cniConfFile });
  if (outcome.kind !== 'run') throw new Error(`options: ${JSON.stringify(outcome)}`);
  return outcome.options;
}

export class RoutingLab {
  readonly sw: TestNetns;
  readonly nodes: LabNode[] = [];
  readonly dir = mkdtempSync(join(tmpdir(), 'krt-rt-'));
  readonly cache = new ClusterCache({} as KubeClient, ['nodes', 'services', 'endpointslices']);
  readonly events: RecordedEvent[] = [];
  private readonly extraNs: TestNetns[] = [];

  /** `prefix` names every namespace of the lab (each engineer's tests use their own). */
  constructor(count: number, private readonly prefix = 'krt-rt') {
    this.sw = new TestNetns(prefix);
    try {
      this.sw.ip('link', 'add', 'sw0', 'type', 'bridge');
      this.sw.ip('link', 'set', 'sw0', 'up');
      for (let i = 1; i <= count; i++) this.addNode();
    } catch (e) {
      this.destroy();
      throw e;
    }
  }

  /** One more node n<i> on the segment at 198.51.100.<10+i> with pod CIDR 198.18.<i>.0/24 (no Node object yet). */
  addNode(): LabNode {
    const i = this.nodes.length + 1;
    const ns = new TestNetns(this.prefix);
    const node: LabNode = { name: `n${i}`, ns, ip: `198.51.100.${10 + i}`, podCidr: `198.18.${i}.0/24`, cniConfFile: join(this.dir, `n${i}`, '10-kuberouter.conflist') };
    this.nodes.push(node);
    this.sw.ip('link', 'add', `p${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns.name);
    this.sw.ip('link', 'set', `p${i}`, 'master', 'sw0');
    this.sw.ip('link', 'set', `p${i}`, 'up');
    ns.ip('addr', 'add', `${node.ip}/24`, 'dev', 'eth0');
    ns.ip('link', 'set', 'eth0', 'up');
    return node;
  }

  /** Another host on the node segment (e.g. an upstream router) at 198.51.100.<host>. */
  host(host: number): TestNetns {
    const ns = this.netns();
    this.sw.ip('link', 'add', `h${host}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns.name);
    this.sw.ip('link', 'set', `h${host}`, 'master', 'sw0');
    this.sw.ip('link', 'set', `h${host}`, 'up');
    ns.ip('addr', 'add', `198.51.100.${host}/24`, 'dev', 'eth0');
    ns.ip('link', 'set', 'eth0', 'up');
    return ns;
  }

  /** A namespace that is deleted with the lab (pods). */
  netns(): TestNetns {
    const ns = new TestNetns(this.prefix);
    this.extraNs.push(ns);
    return ns;
  }

  node(name: string): LabNode {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  context(node: LabNode, options: Options, cache: ClusterCache = this.cache, client: KubeClient = {} as KubeClient): ControllerContext {
    const events = {
      record: (subject: EventSubject, _type: string, reason: string, message: string) => this.events.push({ subject, reason, message }),
      flush: async () => undefined,
    } as unknown as EventRecorder;
    return {
      options,
      node: { name: node.name, primaryIp: node.ip, ipv4: node.ip },
      currentNode: () => cache.store('nodes').get(node.name),
      cache,
      client,
      events,
      health: new HealthRegistry(),
    };
  }

  destroy(): void {
    for (const ns of [...this.extraNs, ...this.nodes.map((n) => n.ns), this.sw]) ns.delete();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export { BirdRouter } from '../../helpers/bird.ts';
export { eventually };

/**
 * Pre-writes the node's conflist with IPAM state under the lab directory (host-local's default state directory is
 * per host, shared by every namespace node); the controller then fills in ranges and MTU and keeps dataDir.
 */
export function writeNodeConflist(lab: RoutingLab, node: LabNode): void {
  mkdirSync(join(lab.dir, node.name), { recursive: true });
  writeFileSync(node.cniConfFile, JSON.stringify({
    cniVersion: '0.3.0', name: 'mynet',
    plugins: [{ name: 'kubernetes', type: 'bridge', bridge: 'kube-bridge', isDefaultGateway: true, ipam: { type: 'host-local', dataDir: join(lab.dir, node.name, 'ipam') } }],
  }));
}

/** A pod on `node`: a namespace attached by the real CNI bridge plugin from the node's written conflist. */
export async function cniPod(lab: RoutingLab, node: LabNode, id: string): Promise<{ ns: TestNetns; ip: string }> {
  const ns = lab.netns();
  const cacheDir = join(lab.dir, node.name, 'cni-cache');
  mkdirSync(cacheDir, { recursive: true });
  const added = await cniAdd(readConflist(node.cniConfFile), { containerId: id, netnsPath: ns.path, ifName: 'eth0', args: [] }, { execNetns: node.ns.name, cacheDir });
  if (!added.ok) throw new Error(`CNI ADD on ${node.name}: ${JSON.stringify(added.error)}`);
  const ip = added.value.ips?.[0]?.address.split('/')[0];
  if (!ip) throw new Error(`CNI ADD on ${node.name} returned no IP`);
  return { ns, ip };
}

