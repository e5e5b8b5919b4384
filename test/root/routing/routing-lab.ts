// Test fixtures for the routes controller's root tests: "nodes" as network namespaces on one L2 segment
// (198.51.100.0/24 through a bridge in a switch namespace), each with pod CIDR 198.18.<i>.0/24, and a
// ControllerContext over an in-memory ClusterCache so the real controller runs without an API server.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Node } from 'kubernetes-types/core/v1.js';
import { parseCommandLine } from '../../../src/cli/command-line.ts';
import type { Options } from '../../../src/cli/options.ts';
import type { ControllerContext } from '../../../src/controllers/context.ts';
import { ClusterCache } from '../../../src/kube/cluster-cache.ts';
import type { KubeClient } from '../../../src/kube/client.ts';
import type { EventRecorder, EventSubject } from '../../../src/observe/events.ts';
import { HealthRegistry } from '../../../src/observe/health.ts';
import { TestNetns } from '../../helpers/netns.ts';

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
  readonly sw = new TestNetns('krt-rt');
  readonly nodes: LabNode[] = [];
  readonly dir = mkdtempSync(join(tmpdir(), 'krt-rt-'));
  readonly cache = new ClusterCache({} as KubeClient, ['nodes', 'services', 'endpointslices']);
  readonly events: RecordedEvent[] = [];
  private readonly extraNs: TestNetns[] = [];

  constructor(count: number) {
    try {
      this.sw.ip('link', 'add', 'sw0', 'type', 'bridge');
      this.sw.ip('link', 'set', 'sw0', 'up');
      for (let i = 1; i <= count; i++) {
        const ns = new TestNetns('krt-rt');
        const node: LabNode = { name: `n${i}`, ns, ip: `198.51.100.${10 + i}`, podCidr: `198.18.${i}.0/24`, cniConfFile: join(this.dir, `n${i}`, '10-kuberouter.conflist') };
        this.sw.ip('link', 'add', `p${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns.name);
        this.sw.ip('link', 'set', `p${i}`, 'master', 'sw0');
        this.sw.ip('link', 'set', `p${i}`, 'up');
        ns.ip('addr', 'add', `${node.ip}/24`, 'dev', 'eth0');
        ns.ip('link', 'set', 'eth0', 'up');
        this.nodes.push(node);
      }
    } catch (e) {
      this.destroy();
      throw e;
    }
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
    const ns = new TestNetns('krt-rt');
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

export async function eventually<T>(what: string, timeoutMs: number, probe: () => T | undefined | false | Promise<T | undefined | false>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
