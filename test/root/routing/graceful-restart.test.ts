// Graceful restart end to end: two namespace nodes running the real controller with --bgp-graceful-restart, a pod
// on each (real CNI bridge plugin), and a ping every 100 ms from one pod to the other while n1's controller shuts
// down (gobgpd dies without a CEASE, kernel routes stay) and a new controller instance takes its place. No probe may
// be lost and the routes must be the same afterwards. The contrast: without graceful restart, the same shutdown
// makes the peer withdraw n1's pod CIDR at once and pod traffic stops.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { haveCommand, isRoot } from '../../helpers/netns.ts';
import { createRoutingController, type RoutingControllerHandle } from '../../../src/controllers/routing/index.ts';
import { cniPod, eventually, nodeObject, routingOptions, RoutingLab, writeNodeConflist, type LabNode } from './routing-lab.ts';

const skip = !isRoot || !haveCommand('gobgpd') || !haveCommand('ipset') || !haveCommand('iptables') || !haveCommand('busybox') || !existsSync('/usr/lib/cni/bridge')
  ? 'needs root, gobgpd, ipset, iptables, busybox and the CNI plugins' : false;

const GR_FLAGS = ['--bgp-graceful-restart=true', '--bgp-graceful-restart-time=60s', '--bgp-graceful-restart-deferral-time=1s'];

/** A ping every 100 ms from a pod; stop() interrupts it and returns the sequence numbers that got no reply. */
function startProbe(podNs: string, target: string): { stop(): Promise<{ sent: number; lost: number[] }> } {
  const child = spawn('ip', ['netns', 'exec', podNs, 'busybox', 'ping', '-i', '0.1', '-W', '1', target], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = new Promise((r) => child.once('exit', r));
  return {
    async stop() {
      child.kill('SIGINT');
      await exited;
      const replied = new Set([...out.matchAll(/seq=(\d+)/g)].map((m) => Number(m[1])));
      const last = Math.max(-1, ...replied);
      const lost: number[] = [];
      // The request in flight when the probe is interrupted is not a loss; everything before the last reply is.
      for (let seq = 0; seq < last; seq++) if (!replied.has(seq)) lost.push(seq);
      return { sent: last + 1, lost };
    },
  };
}

describe('graceful restart of a node\'s routes controller', { skip }, () => {
  let lab: RoutingLab;
  let n1: LabNode;
  let n2: LabNode;
  const handles = new Map<string, RoutingControllerHandle>();
  const pods: Record<string, { ns: string; ip: string }> = {};
  let generation = 0;
  const proto17 = (node: LabNode): Map<string, string | undefined> =>
    new Map((JSON.parse(node.ns.ip('-j', 'route', 'show', 'proto', '17')) as Array<{ dst: string; gateway?: string }>).map((r) => [r.dst, r.gateway]));

  const startController = async (node: LabNode, flags: string[]): Promise<RoutingControllerHandle> => {
    const options = routingOptions(node.name, node.cniConfFile, ['--enable-pod-egress=false', ...flags]);
    const handle = await createRoutingController(lab.context(node, options), { netns: node.ns.name, socketPath: join(lab.dir, `${node.name}-${generation++}.sock`) });
    handles.set(node.name, handle);
    await handle.controller.fullSync();
    return handle;
  };
  const established = async (node: LabNode): Promise<boolean> => {
    const peers = await handles.get(node.name)!.speaker.listPeers();
    return peers.ok && peers.value.length === 1 && peers.value[0]!.state === 'established';
  };
  const meshUp = async (): Promise<void> => {
    await eventually('both sessions established and pod CIDRs routed', 30_000, async () =>
      await established(n1) && await established(n2) && proto17(n1).get(n2.podCidr) === n2.ip && proto17(n2).get(n1.podCidr) === n1.ip);
  };

  before(async () => {
    lab = new RoutingLab(2, 'krt-re');
    [n1, n2] = [lab.node('n1'), lab.node('n2')];
    for (const node of lab.nodes) {
      lab.cache.store('nodes').upsert(nodeObject(node));
      writeNodeConflist(lab, node);
    }
    for (const node of lab.nodes) await startController(node, GR_FLAGS);
    for (const node of lab.nodes) {
      const pod = await cniPod(lab, node, `gr-${node.name}`);
      pods[node.name] = { ns: pod.ns.name, ip: pod.ip };
    }
    await meshUp();
  });

  after(async () => {
    for (const h of handles.values()) await h.shutdown?.();
    lab?.destroy();
  });

  it('with graceful restart, pod-to-pod pings every 100 ms lose nothing while n1\'s controller is replaced, and the routes are unchanged', async () => {
    const before1 = proto17(n1);
    const before2 = proto17(n2);
    const probe = startProbe(pods['n1']!.ns, pods['n2']!.ip);
    await new Promise((r) => setTimeout(r, 1000));
    const down = Date.now();
    await handles.get('n1')!.shutdown?.();
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(proto17(n2).get(n1.podCidr), n1.ip, 'n2 keeps n1\'s pod CIDR as a stale graceful-restart route');
    assert.equal(proto17(n1).get(n2.podCidr), n2.ip, 'n1\'s kernel routes survive the shutdown');
    await startController(n1, GR_FLAGS);
    await meshUp();
    const recovered = Date.now() - down;
    // Past the restarting side's deferral and the helper's end-of-RIB handling, so stale-path cleanup has run.
    await new Promise((r) => setTimeout(r, 3000));
    const result = await probe.stop();
    console.log(`graceful restart: session back ${recovered} ms after shutdown; ${result.sent} probes, lost ${JSON.stringify(result.lost)}`);
    assert.ok(result.sent >= 40, `probe ran (${result.sent} sent)`);
    assert.deepEqual(result.lost, []);
    assert.deepEqual(proto17(n1), before1);
    assert.deepEqual(proto17(n2), before2);
  });

  it('without graceful restart, the same shutdown makes n2 withdraw n1\'s pod CIDR at once and pod traffic stops', async () => {
    for (const name of ['n1', 'n2']) await handles.get(name)!.shutdown?.();
    for (const node of lab.nodes) await startController(node, []);
    await meshUp();
    const down = Date.now();
    await handles.get('n1')!.shutdown?.();
    await eventually('n2 withdraws n1\'s pod CIDR', 5_000, () => !proto17(n2).has(n1.podCidr));
    console.log(`without graceful restart: n1's pod CIDR gone from n2 ${Date.now() - down} ms after shutdown`);
    const ping = spawnSync('ip', ['netns', 'exec', pods['n2']!.ns, 'busybox', 'ping', '-c', '1', '-W', '1', pods['n1']!.ip], { encoding: 'utf8' });
    assert.notEqual(ping.status, 0, 'no route back to n1\'s pods');
    assert.equal(proto17(n1).get(n2.podCidr), n2.ip, 'the stopped node\'s own kernel routes stay');
  });

  it('with graceful restart, a node that does not come back has its routes withdrawn once the restart time is over', async () => {
    const short = ['--bgp-graceful-restart=true', '--bgp-graceful-restart-time=5s', '--bgp-graceful-restart-deferral-time=1s'];
    for (const name of ['n1', 'n2']) await handles.get(name)!.shutdown?.();
    for (const node of lab.nodes) await startController(node, short);
    await meshUp();
    const down = Date.now();
    await handles.get('n1')!.shutdown?.();
    // Half the restart time after the shutdown began, however long the shutdown itself took on a loaded machine.
    await new Promise((r) => setTimeout(r, Math.max(0, down + 2500 - Date.now())));
    assert.equal(proto17(n2).get(n1.podCidr), n1.ip, 'kept while the restart time runs');
    await eventually('n2 drops n1\'s stale pod CIDR', 10_000, () => !proto17(n2).has(n1.podCidr));
    const gone = Date.now() - down;
    console.log(`graceful restart without a comeback: n1's pod CIDR gone from n2 ${gone} ms after shutdown (restart time 5 s)`);
    assert.ok(gone >= 4500, `not before the restart time (${gone} ms)`);
  });
});
