// A node's pod CIDR as users set it, through the real routes and network-policy controllers in namespace nodes:
// a node whose only source is the kube-router.io/pod-cidr annotation is routed by the other nodes AND covered by
// --netpol-default-deny (packets), and a bad annotation never takes a node's route away from the others (it
// falls back to spec.podCIDRs, or keeps the last good annotation) while it is reported on the Node.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Node } from 'kubernetes-types/core/v1.js';
import { haveCommand, isRoot, type TestNetns } from '../../helpers/netns.ts';
import { createRoutingController, type RoutingControllerHandle } from '../../../src/controllers/routing/index.ts';
import { netpolExec } from '../../../src/controllers/netpol/apply-exec.ts';
import { IptablesApplier } from '../../../src/controllers/netpol/apply-iptables.ts';
import { detectIptablesMode } from '../../../src/kernel/iptables.ts';
import { NetpolController } from '../../../src/controllers/netpol/controller.ts';
import { cacheSource, netpolConfig } from '../../../src/controllers/netpol/index.ts';
import { IptablesSync } from '../../../src/controllers/netpol/sync-backends.ts';
import { ClusterCache } from '../../../src/kube/cluster-cache.ts';
import type { KubeClient } from '../../../src/kube/client.ts';
import { eventually, nodeObject, routingOptions, RoutingLab, type LabNode } from './routing-lab.ts';

const skip = !isRoot || !haveCommand('gobgpd') || !haveCommand('ipset') || !haveCommand('iptables') || !haveCommand('socat')
  ? 'needs root, gobgpd, ipset, iptables and socat' : false;

const POD_CIDR_ANNOTATION = 'kube-router.io/pod-cidr';

function connects(from: TestNetns, ip: string, port: number): boolean {
  return spawnSync('ip', ['netns', 'exec', from.name, 'socat', '-T2', '/dev/null', `TCP:${ip}:${port},connect-timeout=2`], { stdio: 'ignore' }).status === 0;
}

describe('pod CIDR sources across the routes and network-policy controllers', { skip }, () => {
  let lab: RoutingLab;
  let listener: ChildProcess | null = null;
  const cache = new ClusterCache({} as KubeClient, ['nodes', 'services', 'endpointslices', 'pods', 'namespaces', 'networkpolicies']);
  const handles = new Map<string, RoutingControllerHandle>();
  const proto17 = (node: LabNode): Map<string, string | undefined> =>
    new Map((JSON.parse(node.ns.ip('-j', 'route', 'show', 'proto', '17')) as Array<{ dst: string; gateway?: string }>).map((r) => [r.dst, r.gateway]));
  const setNode = async (node: Node): Promise<void> => {
    cache.store('nodes').upsert(node);
    for (const h of handles.values()) await h.controller.handleChanges([{ kind: 'Node', key: node.metadata?.name ?? '' }]);
  };
  /** Fails if `node` loses its route to `cidr` via `via` at any point of `ms`. */
  const keepsRoute = async (node: LabNode, cidr: string, via: string, ms: number): Promise<void> => {
    for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) assert.equal(proto17(node).get(cidr), via, `${node.name} lost ${cidr}`);
  };

  before(async () => {
    lab = new RoutingLab(2, 'krt-pcs');
    const [n1, n2] = [lab.node('n1'), lab.node('n2')];
    // n1's only pod-CIDR source is the legacy single annotation: no spec.podCIDR(s).
    const annotatedOnly = nodeObject(n1, { [POD_CIDR_ANNOTATION]: n1.podCidr });
    annotatedOnly.spec = {};
    cache.store('nodes').upsert(annotatedOnly);
    cache.store('nodes').upsert(nodeObject(n2));
    for (const node of [n1, n2]) {
      const options = routingOptions(node.name, node.cniConfFile, ['--enable-pod-egress=false']);
      const handle = await createRoutingController(lab.context(node, options, cache), { netns: node.ns.name, socketPath: join(lab.dir, `${node.name}.sock`) });
      handles.set(node.name, handle);
      await handle.controller.fullSync();
    }
    // A pod on n1 (a namespace behind a veth, 198.18.1.2) serving TCP 8080.
    const pod = lab.netns();
    n1.ns.ip('link', 'add', 'vpod', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod.name);
    n1.ns.ip('addr', 'add', '198.18.1.1/24', 'dev', 'vpod');
    n1.ns.ip('link', 'set', 'vpod', 'up');
    pod.ip('addr', 'add', '198.18.1.2/24', 'dev', 'eth0');
    pod.ip('link', 'set', 'eth0', 'up');
    pod.ip('route', 'add', 'default', 'via', '198.18.1.1');
    listener = spawn('ip', ['netns', 'exec', pod.name, 'socat', 'TCP-LISTEN:8080,fork,reuseaddr', '/dev/null'], { stdio: 'ignore' });
  });

  after(async () => {
    if (listener && listener.exitCode === null) {
      const exited = new Promise((r) => listener?.once('exit', r));
      listener.kill('SIGKILL');
      await exited;
    }
    for (const h of handles.values()) await h.shutdown?.();
    lab?.destroy();
  });

  it('a node whose only source is the kube-router.io/pod-cidr annotation is routed and covered by --netpol-default-deny', async () => {
    const [n1, n2] = [lab.node('n1'), lab.node('n2')];
    await eventually('n2 routes n1\'s annotated pod CIDR', 30_000, () => proto17(n2).get(n1.podCidr) === n1.ip);
    for (let i = 0; i < 50 && !connects(n2.ns, '198.18.1.2', 8080); i++) await sleep(100);
    assert.ok(connects(n2.ns, '198.18.1.2', 8080), 'n2 reaches the pod on n1 over the learned route');

    const options = routingOptions(n1.name, n1.cniConfFile, ['--run-firewall=true']);
    const ctx = lab.context(n1, options, cache);
    const exec = netpolExec(n1.ns.name);
    const mode = await detectIptablesMode(exec);
    assert.ok(mode.ok, mode.ok ? '' : mode.error.message);
    const netpol = new NetpolController({
      source: cacheSource(ctx, { ...netpolConfig(options), families: ['ipv4'], defaultDeny: true }),
      backend: new IptablesSync(new IptablesApplier(exec, mode.value)), syncPeriodMs: 60_000, reject: () => undefined,
    });
    await netpol.fullSync();
    assert.equal(connects(n2.ns, '198.18.1.2', 8080), false, 'a pod in the annotated pod CIDR that no policy programmed is rejected');

    cache.store('namespaces').upsert({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });
    cache.store('pods').upsert({
      apiVersion: 'v1', kind: 'Pod', metadata: { namespace: 'default', name: 'p1' },
      spec: { nodeName: n1.name, containers: [{ name: 'c' }] }, status: { phase: 'Running', podIP: '198.18.1.2', podIPs: [{ ip: '198.18.1.2' }] },
    });
    assert.deepEqual(await netpol.handleChanges([{ kind: 'Namespace', key: 'default' }, { kind: 'Pod', key: 'default/p1' }]), {});
    assert.ok(connects(n2.ns, '198.18.1.2', 8080), 'once programmed (no policy selects it), the pod is reachable again');
  });

  it('a bad kube-router.io/pod-cidr annotation keeps the node routed (spec fallback, then the last good value) and is reported', async () => {
    const [n1, n2] = [lab.node('n1'), lab.node('n2')];
    await eventually('n1 routes n2\'s spec pod CIDR', 30_000, () => proto17(n1).get(n2.podCidr) === n2.ip);

    await setNode(nodeObject(n2, { [POD_CIDR_ANNOTATION]: 'not-a-cidr' }));
    await handles.get('n2')!.controller.fullSync();
    await keepsRoute(n1, n2.podCidr, n2.ip, 2_000);
    const reported = lab.events.filter((e) => e.subject.metadata?.name === 'n2' && e.reason === 'BadPodCidrAnnotation');
    // Reported on the change and again by the full sync (routing re-reports every problem on a full sync).
    assert.ok(reported.length >= 1, JSON.stringify(lab.events.map((e) => e.reason)));
    assert.match(reported[0]?.message ?? '', /"not-a-cidr", which is not a CIDR.*using 198\.18\.2\.0\/24 \(spec\.podCIDRs\)/);

    // A valid annotation moves the route; turning it bad again keeps that last good value, not the spec.
    await setNode(nodeObject(n2, { [POD_CIDR_ANNOTATION]: '198.18.12.0/24' }));
    await eventually('n1 routes the annotated pod CIDR instead', 10_000, () => proto17(n1).get('198.18.12.0/24') === n2.ip && !proto17(n1).has(n2.podCidr));
    await setNode(nodeObject(n2, { [POD_CIDR_ANNOTATION]: 'still-not-a-cidr' }));
    await keepsRoute(n1, '198.18.12.0/24', n2.ip, 2_000);
    assert.equal(proto17(n1).has(n2.podCidr), false, 'the spec does not replace the last good annotation');
  });
});
