// Bad routing annotations on a node, through the whole daemon path (lab API server, ClusterCache, ControllerRunner,
// real gobgpd per node, bird2 routers, Events posted to the API): a bad kube-router.io/node.asn in full mesh does
// not stop the node's routing, and a bad peer.ips edit keeps the existing external session and is reported as an
// Event on the Node, while a later valid edit is applied.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Event, Node } from 'kubernetes-types/core/v1.js';
import { haveCommand, isRoot } from '../../helpers/netns.ts';
import { startLabApiServer, type LabApiServer } from '../../../lab/apiserver/server.ts';
import { KubeClient, resourcePath } from '../../../src/kube/client.ts';
import { loadClientConfig } from '../../../src/kube/kubeconfig.ts';
import { ClusterCache } from '../../../src/kube/cluster-cache.ts';
import { ControllerRunner } from '../../../src/controllers/runtime.ts';
import { createRoutingController, type RoutingControllerHandle } from '../../../src/controllers/routing/index.ts';
import { EventRecorder } from '../../../src/observe/events.ts';
import { BirdRouter, eventually, routingOptions, RoutingLab, type LabNode } from './routing-lab.ts';

const skip = !isRoot || !haveCommand('gobgpd') || !haveCommand('bird') || !haveCommand('birdc') || !haveCommand('ipset') || !haveCommand('iptables')
  ? 'needs root, gobgpd, bird2, ipset and iptables' : false;

const R1 = { ip: '198.51.100.1', asn: 65100 };
const R2 = { ip: '198.51.100.2', asn: 65200 };

/** A bird2 router that peers with n1 (198.51.100.11, cluster ASN 64512) and originates one prefix. */
function birdConfig(router: { ip: string; asn: number }, prefix: string): string {
  return `router id ${router.ip};
protocol device { }
protocol static originated { ipv4; route ${prefix} blackhole; }
protocol bgp n1 {
  local ${router.ip} as ${router.asn}; neighbor 198.51.100.11 as 64512;
  hold time 9; keepalive time 3; connect retry time 1; connect delay time 1;
  ipv4 { import all; export where proto = "originated"; next hop self; };
}
`;
}

function proto17(node: LabNode): Map<string, string | undefined> {
  return new Map((JSON.parse(node.ns.ip('-j', 'route', 'show', 'proto', '17')) as Array<{ dst: string; gateway?: string }>).map((r) => [r.dst, r.gateway]));
}

describe('bad routing annotations on a node (lab API server)', { skip }, () => {
  let lab: RoutingLab;
  let api: LabApiServer;
  let client: KubeClient;
  let cache: ClusterCache;
  let r1: BirdRouter;
  let r2: BirdRouter;
  const running: Array<{ handle: RoutingControllerHandle; runner: ControllerRunner }> = [];

  const podCidrOf = (name: string): string | undefined => cache.store('nodes').get(name)?.spec?.podCIDR;
  const annotate = async (name: string, annotations: Record<string, string | null>): Promise<void> => {
    const patched = await client.patch(resourcePath('v1', 'nodes', undefined, name), { metadata: { annotations } });
    assert.ok(patched.ok, JSON.stringify(patched));
  };
  const nodeEvents = async (name: string): Promise<Event[]> => {
    const listed = await client.list<Event>(resourcePath('v1', 'events', 'default'));
    assert.ok(listed.ok, JSON.stringify(listed));
    return listed.value.items.filter((e) => e.involvedObject.name === name);
  };
  /** bird's `show protocols` line of the n1 session: its "since" column changes whenever the session flaps. */
  const sessionLine = (router: BirdRouter): string => router.birdc('show', 'protocols').split('\n').find((l) => l.startsWith('n1 ')) ?? '';

  before(async () => {
    lab = new RoutingLab(2, 'krt-an');
    r1 = new BirdRouter(lab.host(1), lab.dir, 'r1');
    r1.start(birdConfig(R1, '198.18.101.0/24'));
    r2 = new BirdRouter(lab.host(2), lab.dir, 'r2');
    r2.start(birdConfig(R2, '198.18.102.0/24'));
    api = await startLabApiServer({ stateDir: join(lab.dir, 'api') });
    const config = loadClientConfig({ kubeconfigPath: api.kubeconfigPath });
    assert.ok(config.ok);
    client = new KubeClient(config.value);
    for (const node of lab.nodes) {
      const created = await client.create<Node>(resourcePath('v1', 'nodes'), {
        apiVersion: 'v1', kind: 'Node', metadata: { name: node.name },
        status: { addresses: [{ type: 'InternalIP', address: node.ip }] },
      });
      assert.ok(created.ok, JSON.stringify(created));
    }
    cache = new ClusterCache(client, ['nodes', 'services', 'endpointslices']);
    cache.start();
    await cache.waitForSync(10_000);
    for (const node of lab.nodes) {
      const ctx = { ...lab.context(node, routingOptions(node.name, node.cniConfFile, ['--enable-pod-egress=false']), cache, client), events: new EventRecorder({ client, host: node.name }) };
      const handle = await createRoutingController(ctx, { netns: node.ns.name, socketPath: join(lab.dir, `${node.name}.sock`) });
      const runner = new ControllerRunner(handle.controller, { heartbeatMs: 1000, retryBaseMs: 200, retryMaxMs: 2000 });
      cache.onChange((change) => {
        if (handle.wants(change)) runner.notify({ kind: change.kind, key: change.key });
      });
      runner.start();
      running.push({ handle, runner });
    }
    const [n1, n2] = [lab.node('n1'), lab.node('n2')];
    const [c1, c2] = await eventually('pod CIDRs allocated', 10_000, (): [string, string] | undefined => {
      const [a, b] = [podCidrOf('n1'), podCidrOf('n2')];
      return a && b ? [a, b] : undefined;
    });
    await eventually('n1 routes n2\'s pod CIDR', 40_000, () => proto17(n1).get(c2) === n2.ip);
    await eventually('n2 routes n1\'s pod CIDR', 10_000, () => proto17(n2).get(c1) === n1.ip);
  });

  after(async () => {
    for (const { runner, handle } of running) {
      await runner.stop();
      await handle.shutdown?.();
    }
    await r1?.stop();
    await r2?.stop();
    await cache?.stop();
    await client?.close();
    await api?.stop();
    lab?.destroy();
  });

  it('node.asn "abc" in full mesh: routes keep flowing and a later valid peer.ips change is applied', async () => {
    const [n1, n2] = [lab.node('n1'), lab.node('n2')];
    await annotate('n1', { 'kube-router.io/node.asn': 'abc' });
    await annotate('n1', { 'kube-router.io/peer.ips': R1.ip, 'kube-router.io/peer.asns': String(R1.asn) });
    await eventually('r1 has a session with n1', 40_000, () => r1.established('n1'));
    await eventually('n1 installs what r1 announces', 20_000, () => proto17(n1).get('198.18.101.0/24') === R1.ip);
    assert.equal(proto17(n1).get(podCidrOf('n2')!), n2.ip);
    assert.equal(proto17(n2).get(podCidrOf('n1')!), n1.ip);
  });

  it('peer.ips edited to "999.1.1.1,banana": the session with r1 stays up, an Event names the Node, a later valid edit applies', async () => {
    const n1 = lab.node('n1');
    // Independent of the test above: n1 peers with r1 and nothing else is wrong with it.
    await annotate('n1', { 'kube-router.io/node.asn': null, 'kube-router.io/peer.ips': R1.ip, 'kube-router.io/peer.asns': String(R1.asn) });
    await eventually('r1 has a session with n1', 40_000, () => r1.established('n1'));
    const before = sessionLine(r1);
    await annotate('n1', { 'kube-router.io/peer.ips': '999.1.1.1,banana', 'kube-router.io/peer.asns': `${R1.asn},${R1.asn}` });
    const rejected = await eventually('an Event on Node n1 rejects the peers', 15_000, async () =>
      (await nodeEvents('n1')).find((e) => e.reason === 'BadPeerAnnotation' && e.type === 'Warning'));
    assert.match(rejected.message ?? '', /999\.1\.1\.1/);
    assert.equal(rejected.involvedObject.kind, 'Node');
    // A deleted peer gets a CEASE at once; give the controller time to have done anything it was going to do.
    await new Promise((r) => setTimeout(r, 3000));
    assert.ok(r1.established('n1'), 'the session with r1 is still established');
    assert.equal(sessionLine(r1), before, 'and it did not flap');
    assert.equal(proto17(n1).get('198.18.101.0/24'), R1.ip);

    await annotate('n1', { 'kube-router.io/peer.ips': `${R1.ip},${R2.ip}`, 'kube-router.io/peer.asns': `${R1.asn},${R2.asn}` });
    await eventually('r2 has a session with n1', 40_000, () => r2.established('n1'));
    await eventually('n1 installs what r2 announces', 20_000, () => proto17(n1).get('198.18.102.0/24') === R2.ip);
    assert.ok(r1.established('n1'));
  });
});
