// A 3-node lab with 3x10 pods wired by the real CNI bridge + host-local plugins: pod-to-pod reachability,
// probe answers and rates, UDP, refused ports, requested IPs, hostNetwork pods, pod deletion and teardown.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { isRoot } from '../../helpers/netns.ts';
import { mapLimit } from '../../../lab/netns/concurrency.ts';
import { execIn, isAlive, listNetns, netnsPids } from '../../../lab/netns/exec.ts';
import { createNetwork, type LabNetwork } from '../../../lab/netns/network.ts';
import { labPaths } from '../../../lab/netns/state.ts';
import { createPod, deletePod, findPod, keepAgentsWarm, listPods, teardownLab, type PodSpec } from '../../../lab/pods/runtime.ts';
import { probe, probeBatch, type ProbeRequest } from '../../../lab/probe/probe.ts';
import { runProbeBatchStream } from '../../../lab/probe/stream.ts';

const lab = { prefix: `krt-lp-${process.pid}` };
const NODES = 3;
const PODS_PER_NODE = 10;
const REQUESTED_IP = '198.18.2.200';

interface LabPod {
  spec: PodSpec;
  ip: string;
  netns: string;
}

let network: LabNetwork;
const pods: LabPod[] = [];
const timings: Record<string, number> = {};

function podSpec(node: number, i: number): PodSpec {
  const spec: PodSpec = {
    node: `${lab.prefix}-n${node}`,
    namespace: `ns${node}`,
    name: `pod-${node}-${i}`,
    uid: `uid-${node}-${i}`,
    ports: [
      { port: 8080, protocol: 'TCP' },
      { port: 5353, protocol: 'UDP' },
    ],
  };
  if (node === 2 && i === 1) spec.requestedIp = REQUESTED_IP;
  return spec;
}

describe('lab cluster: 3 nodes x 10 pods with the real CNI plugins', { skip: !isRoot && 'needs root' }, () => {
  before(async () => {
    const started = Date.now();
    network = await createNetwork({ prefix: lab.prefix, nodes: NODES, staticRoutes: true });
    timings['networkMs'] = Date.now() - started;
    const specs: PodSpec[] = [];
    for (let n = 1; n <= NODES; n++) for (let i = 1; i <= PODS_PER_NODE; i++) specs.push(podSpec(n, i));
    const created = await mapLimit(specs, 4, (spec) => createPod(lab, spec));
    created.forEach((c, i) => pods.push({ spec: specs[i]!, ip: c.podIPs[0]!, netns: c.netnsName }));
    timings['upMs'] = Date.now() - started;
  });

  after(async () => {
    const left = await teardownLab(lab);
    console.log(`timings: ${JSON.stringify(timings)}`);
    assert.deepEqual(left, []);
  });

  it('brings 3x10 pods up, each listening, in under 20 s', () => {
    assert.equal(pods.length, NODES * PODS_PER_NODE);
    assert.ok(timings['upMs']! < 20_000, `up took ${timings['upMs']} ms`);
    const ips = new Set(pods.map((p) => p.ip));
    assert.equal(ips.size, pods.length, 'every pod has its own IP');
    for (const p of pods) {
      const node = network.topology.nodes.find((n) => n.name === p.spec.node)!;
      assert.ok(p.ip.startsWith(node.podCidr.replace(/0\/24$/, '')), `${p.ip} in ${node.podCidr}`);
      assert.ok(listNetns().includes(p.netns));
    }
  });

  it('connects every pod to every other pod over TCP, each answer naming the target pod, at >= 300 probes/s', async () => {
    const requests: ProbeRequest[] = [];
    const expected: string[] = [];
    for (const from of pods) {
      for (const to of pods) {
        if (to === from) continue;
        requests.push({ from: from.netns, host: to.ip, port: 8080, protocol: 'tcp', timeoutMs: 2000 });
        expected.push(`${to.spec.namespace}/${to.spec.name}`);
      }
    }
    const started = Date.now();
    const results = await probeBatch(lab, requests, 128);
    const ms = Date.now() - started;
    timings['matrixProbes'] = requests.length;
    timings['matrixMs'] = ms;
    timings['probesPerSecond'] = Math.round((requests.length * 1000) / ms);
    const wrong = results.map((r, i) => ({ r, i })).filter(({ r, i }) => !r.connected || r.answer !== expected[i]);
    assert.deepEqual(wrong.slice(0, 5), [], `${wrong.length} of ${requests.length} probes failed`);
    assert.ok(timings['probesPerSecond']! >= 300, `${timings['probesPerSecond']} probes/s`);
  });

  it('gets a UDP reply from pods on other nodes, and a quick refusal from a closed UDP port', async () => {
    const from = pods[0]!;
    const targets = pods.filter((p) => p.spec.node !== from.spec.node).slice(0, 10);
    const results = await probeBatch(lab, targets.map((t) => ({ from: from.netns, host: t.ip, port: 5353, protocol: 'udp' as const })));
    results.forEach((r, i) => assert.deepEqual([r.connected, r.answer], [true, `${targets[i]!.spec.namespace}/${targets[i]!.spec.name}`]));
    const closed = await probe(lab, { from: from.netns, host: targets[0]!.ip, port: 5354, protocol: 'udp', timeoutMs: 2000 });
    assert.equal(closed.connected, false);
    assert.equal(closed.error, 'refused');
    assert.ok(closed.ms < 1000, `refusal took ${closed.ms} ms`);
  });

  it('reports a closed TCP port as refused, not connected, well before the timeout', async () => {
    const r = await probe(lab, { from: pods[0]!.netns, host: pods[15]!.ip, port: 8081, timeoutMs: 3000 });
    assert.equal(r.connected, false);
    assert.equal(r.error, 'refused');
    assert.ok(r.ms < 500, `refusal took ${r.ms} ms`);
  });

  it('reports an address nobody owns as a timeout', async () => {
    const r = await probe(lab, { from: pods[0]!.netns, host: '198.18.3.250', port: 8080, timeoutMs: 300 });
    assert.deepEqual([r.connected, r.error], [false, 'timeout']);
  });

  it('gives the pod the IP it requested, on its eth0', async () => {
    const pod = pods.find((p) => p.spec.requestedIp === REQUESTED_IP)!;
    assert.equal(pod.ip, REQUESTED_IP);
    const addrs = await execIn(pod.netns, ['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0']);
    assert.match(addrs.stdout, new RegExp(` ${REQUESTED_IP.replace(/\./g, '\\.')}/24 `));
  });

  it('runs commands inside a pod namespace with execIn', async () => {
    const r = await execIn(pods[3]!.netns, ['ip', '-4', 'route', 'show', 'default']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /default via 198\.18\.1\.1 dev eth0/);
  });

  it('serves a hostNetwork pod on the node IP, reachable from pods on other nodes and from the node itself', async () => {
    const node = network.topology.nodes[1]!;
    const host = await createPod(lab, {
      node: node.name, namespace: 'kube-system', name: 'host-agent', uid: 'uid-host', hostNetwork: true,
      ports: [{ port: 9100, protocol: 'TCP' }, { port: 9101, protocol: 'UDP' }],
    });
    assert.deepEqual(host, { podIPs: [node.ip], netnsName: node.netns });
    const results = await probeBatch(lab, [
      { from: pods[0]!.netns, host: node.ip, port: 9100 },
      { from: pods[25]!.netns, host: node.ip, port: 9101, protocol: 'udp' },
      { from: network.topology.nodes[0]!.netns, host: node.ip, port: 9100 },
    ]);
    for (const r of results) assert.deepEqual([r.connected, r.answer], [true, 'kube-system/host-agent']);
    const agentPid = findPod(lab, 'kube-system', 'host-agent')!.agentPid;
    assert.ok(await deletePod(lab, { namespace: 'kube-system', name: 'host-agent' }));
    assert.equal(isAlive(agentPid), false);
    assert.ok(listNetns().includes(node.netns), 'the node namespace stays');
  });

  it('has a new pod listening within 1 s of the create call when an agent was kept warm', async () => {
    assert.equal(await keepAgentsWarm(lab, 1), 1);
    const started = Date.now();
    const created = await createPod(lab, { node: `${lab.prefix}-n1`, namespace: 'quick', name: 'q', uid: 'uid-q', ports: [{ port: 80, protocol: 'TCP' }, { port: 81, protocol: 'UDP' }] });
    timings['warmPodListeningMs'] = Date.now() - started;
    const record = findPod(lab, 'quick', 'q')!;
    // the warm agent now lives in the pod's namespace and answers for the pod
    assert.ok(netnsPids(created.netnsName).includes(record.agentPid));
    const [tcp, udp] = await probeBatch(lab, [
      { from: pods[20]!.netns, host: created.podIPs[0]!, port: 80 },
      { from: pods[20]!.netns, host: created.podIPs[0]!, port: 81, protocol: 'udp' },
    ]);
    assert.deepEqual([tcp!.connected, tcp!.answer, udp!.connected, udp!.answer], [true, 'quick/q', true, 'quick/q']);
    assert.ok(timings['warmPodListeningMs']! < 1000, `${timings['warmPodListeningMs']} ms`);
    assert.ok(await deletePod(lab, { namespace: 'quick', name: 'q' }));
    assert.equal(isAlive(record.agentPid), false);
    // without a warm agent the pod starts its own (measured, for the report)
    const coldStart = Date.now();
    await createPod(lab, { node: `${lab.prefix}-n1`, namespace: 'quick', name: 'cold', uid: 'uid-c', ports: [{ port: 80, protocol: 'TCP' }] });
    timings['coldPodListeningMs'] = Date.now() - coldStart;
    assert.ok(await deletePod(lab, { namespace: 'quick', name: 'cold' }));
  });

  it('answers on SCTP ports where the kernel has SCTP, and skips them (probe: unsupported) where it does not', async () => {
    const created = await createPod(lab, {
      node: `${lab.prefix}-n3`, namespace: 'sctp', name: 's', uid: 'uid-s',
      ports: [{ port: 80, protocol: 'TCP' }, { port: 3868, protocol: 'SCTP' }],
    });
    const record = findPod(lab, 'sctp', 's')!;
    const r = await probe(lab, { from: pods[0]!.netns, host: created.podIPs[0]!, port: 3868, protocol: 'sctp', timeoutMs: 2000 });
    if (record.skippedPorts.length > 0) {
      assert.deepEqual(record.skippedPorts.map((p) => [p.port, p.protocol]), [[3868, 'SCTP']]);
      assert.deepEqual([r.connected, r.error], [false, 'unsupported']);
    } else {
      assert.deepEqual([r.connected, r.answer], [true, 'sctp/s']);
    }
    const tcp = await probe(lab, { from: pods[0]!.netns, host: created.podIPs[0]!, port: 80 });
    assert.deepEqual([tcp.connected, tcp.answer], [true, 'sctp/s']);
    assert.ok(await deletePod(lab, { namespace: 'sctp', name: 's' }));
  });

  it('streams batch results as JSON lines in input order, resolving node/NAME and NS/POD sources', async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    const lines: string[] = [];
    output.setEncoding('utf8').on('data', (d: string) => lines.push(...d.split('\n').filter(Boolean)));
    const target = pods[12]!;
    const requests = [
      { from: 'ns1/pod-1-1', host: target.ip, port: 8080 },
      { from: `node/${lab.prefix}-n3`, host: target.ip, port: 8080, timeout: '1s' },
      { from: 'ns3/pod-3-9', host: target.ip, port: 5353, protocol: 'udp' },
      { from: 'ns3/pod-3-9', host: target.ip, port: 8099 },
      { from: 'ns9/missing', host: target.ip, port: 8080 },
    ];
    const done = runProbeBatchStream(lab, input, output, { concurrency: 2 });
    input.end(requests.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const summary = await done;
    const out = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(summary.total, 5);
    assert.deepEqual(out.map((o) => [o['from'], o['port'], o['connected']]), requests.map((r, i) => [r.from, r.port, i < 3]));
    for (const o of out.slice(0, 3)) assert.equal(o['answer'], `${target.spec.namespace}/${target.spec.name}`);
    assert.equal(out[3]!['error'], 'refused');
    assert.equal(out[4]!['error'], 'error');
  });

  it('deletes a pod: agent gone, namespace gone, CNI veth and IPAM reservation released', async () => {
    const victim = pods.find((p) => p.spec.name === 'pod-3-10')!;
    const record = findPod(lab, victim.spec.namespace, victim.spec.name)!;
    const ipamDir = `${labPaths(lab.prefix).ipam}/${victim.spec.node}/mynet`;
    assert.ok(existsSync(`${ipamDir}/${victim.ip}`));
    const vethsBefore = (await execIn(victim.spec.node, ['ip', '-o', 'link', 'show', 'master', 'kube-bridge'])).stdout.trim().split('\n').length;
    const started = Date.now();
    assert.ok(await deletePod(lab, { namespace: victim.spec.namespace, name: victim.spec.name }));
    timings['deletePodMs'] = Date.now() - started;
    assert.equal(isAlive(record.agentPid), false);
    assert.ok(!listNetns().includes(victim.netns));
    assert.ok(!existsSync(`${ipamDir}/${victim.ip}`));
    const vethsAfter = (await execIn(victim.spec.node, ['ip', '-o', 'link', 'show', 'master', 'kube-bridge'])).stdout.trim().split('\n').length;
    assert.equal(vethsAfter, vethsBefore - 1);
    assert.equal(findPod(lab, victim.spec.namespace, victim.spec.name), undefined);
    const r = await probe(lab, { from: pods[0]!.netns, host: victim.ip, port: 8080, timeoutMs: 300 });
    assert.equal(r.connected, false);
  });

  it('tears down to nothing: no namespaces with the prefix, no agent processes, no state', async () => {
    const agentPids = listPods(lab).map((p) => p.agentPid);
    // a probe from a node namespace starts that node's probe agent; teardown must stop it too
    await probe(lab, { from: network.topology.nodes[2]!.netns, host: pods[0]!.ip, port: 8080 });
    const nodeAgentPids = network.topology.nodes.flatMap((n) => netnsPids(n.netns));
    assert.ok(nodeAgentPids.length > 0);
    // idle warm agents (in unnamed namespaces) must go too
    await keepAgentsWarm(lab, 2);
    const socketsDir = labPaths(lab.prefix).sockets;
    const warmPids = readdirSync(socketsDir).filter((f) => /^warm-.*\.json$/.test(f)).map((f) => (JSON.parse(readFileSync(`${socketsDir}/${f}`, 'utf8')) as { pid: number }).pid);
    assert.equal(warmPids.filter(isAlive).length, 2);
    const started = Date.now();
    const left = await teardownLab(lab);
    timings['teardownMs'] = Date.now() - started;
    assert.deepEqual(left, []);
    assert.deepEqual(listNetns().filter((n) => n.startsWith(`${lab.prefix}-`)), []);
    assert.deepEqual([...agentPids, ...nodeAgentPids, ...warmPids].filter(isAlive), []);
    assert.ok(!existsSync(labPaths(lab.prefix).root));
    assert.ok(!readdirSync('/run/netns').some((n) => n.startsWith(`${lab.prefix}-`)));
  });
});
