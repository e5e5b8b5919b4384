// The lab's kernel network: underlay bridge(s), node namespaces, a second underlay subnet routed by the
// underlay namespace, static pod-CIDR routes, nothing on the host, and teardown of exactly what was created.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isRoot, sh, TestNetns } from '../../helpers/netns.ts';
import { execIn, listNetns } from '../../../lab/netns/exec.ts';
import { createNetwork, deleteNetwork, listNetwork } from '../../../lab/netns/network.ts';
import { planTopology } from '../../../lab/netns/topology.ts';
import { createPod, teardownLab } from '../../../lab/pods/runtime.ts';
import { probeBatch } from '../../../lab/probe/probe.ts';

const prefix = `krt-lp-${process.pid}`;

describe('lab topology plan', () => {
  it('numbers nodes .10+i on the underlay and gives node i the pod CIDR 198.18.i.0/24', () => {
    const t = planTopology({ prefix: 'x', nodes: 3, nodesInSecondSubnet: [3], staticRoutes: true });
    assert.deepEqual(t.nodes.map((n) => [n.name, n.ip, n.podCidr]), [
      ['x-n1', '198.51.100.11', '198.18.1.0/24'],
      ['x-n2', '198.51.100.12', '198.18.2.0/24'],
      ['x-n3', '198.19.100.13', '198.18.3.0/24'],
    ]);
    assert.deepEqual(t.subnets.map((s) => s.gateway), ['198.51.100.1', '198.19.100.1']);
    // same subnet: direct next hop; other subnet: the underlay gateway; the underlay knows every pod CIDR
    assert.deepEqual(t.routes.filter((r) => r.netns === 'x-n1'), [
      { netns: 'x-n1', dst: '198.18.2.0/24', via: '198.51.100.12' },
      { netns: 'x-n1', dst: '198.18.3.0/24', via: '198.51.100.1' },
    ]);
    assert.equal(t.routes.filter((r) => r.netns === 'x-ul').length, 3);
  });

  it('rejects prefixes that cannot name namespaces and nodes outside the lab', () => {
    assert.throws(() => planTopology({ prefix: 'Bad Prefix', nodes: 1 }));
    assert.throws(() => planTopology({ prefix: 'x', nodes: 2, nodesInSecondSubnet: [5] }));
  });
});

describe('lab network in the kernel', { skip: !isRoot && 'needs root' }, () => {
  after(async () => {
    await teardownLab({ prefix });
    await teardownLab({ prefix: `${prefix}-b` });
    await teardownLab({ prefix: `${prefix}-x` });
  });

  it('an external client on the underlay reaches pods through node 1; pods report its address, or node 1\'s once node 1 masquerades', async () => {
    const lab = { prefix: `${prefix}-x` };
    const network = await createNetwork({ prefix: lab.prefix, nodes: 2, staticRoutes: true, externalClient: { routes: ['198.18.0.0/16'] } });
    const ext = network.topology.external!;
    assert.deepEqual(listNetwork(lab.prefix).present, [`${lab.prefix}-ul`, `${lab.prefix}-n1`, `${lab.prefix}-n2`, `${lab.prefix}-ext`]);
    const ports = [{ port: 80, protocol: 'TCP' as const }, { port: 81, protocol: 'UDP' as const }];
    const a = await createPod(lab, { node: `${lab.prefix}-n1`, namespace: 'd', name: 'a', uid: 'a', ports });
    const b = await createPod(lab, { node: `${lab.prefix}-n2`, namespace: 'd', name: 'b', uid: 'b', ports });
    const toB = (from: string) => (['tcp', 'udp'] as const).map((protocol) => ({ from, host: b.podIPs[0]!, port: protocol === 'tcp' ? 80 : 81, protocol }));
    const seen = async (from: string) => (await probeBatch(lab, toB(from))).map((r) => [r.connected, r.answer, r.client]);
    assert.deepEqual(await seen(ext.netns), [[true, 'd/b', '198.51.100.254'], [true, 'd/b', '198.51.100.254']]);
    assert.deepEqual(await seen(a.netnsName), [[true, 'd/b', a.podIPs[0]], [true, 'd/b', a.podIPs[0]]]);
    const [tcp] = await probeBatch(lab, toB(ext.netns));
    assert.ok(Number.isInteger(tcp!.clientPort) && tcp!.clientPort! > 0, `client port ${tcp!.clientPort}`);
    // only traffic that really passes node 1 gets node 1's address (an ICMP redirect straight to node 2 would not)
    const masq = await execIn(`${lab.prefix}-n1`, ['iptables', '-t', 'nat', '-A', 'POSTROUTING', '-s', ext.ip, '-o', 'eth0', '-j', 'MASQUERADE']);
    assert.equal(masq.code, 0, masq.stderr);
    assert.deepEqual(await seen(ext.netns), [[true, 'd/b', '198.51.100.11'], [true, 'd/b', '198.51.100.11']]);
    assert.equal((await execIn(ext.netns, ['ip', 'route', 'show', 'default'])).stdout.trim(), '', 'no default route in the external client');
    assert.deepEqual(await teardownLab(lab), []);
  });

  it('routes pod traffic across two underlay subnets through the underlay namespace, touching nothing on the host', async () => {
    const hostLinks = sh('ip', ['-o', 'link', 'show']);
    const hostRoutes = sh('ip', ['route', 'show', 'table', 'all']);
    const network = await createNetwork({ prefix, nodes: 3, staticRoutes: true, nodesInSecondSubnet: [3] });
    const lab = { prefix };
    const pods: { podIPs: string[]; netnsName: string }[] = [];
    for (const node of network.topology.nodes) {
      pods.push(await createPod(lab, { node: node.name, namespace: 'default', name: `p-${node.index}`, uid: `u${node.index}`, ports: [{ port: 80, protocol: 'TCP' }] }));
    }
    const requests = pods.flatMap((a) => pods.filter((b) => b !== a).map((b) => ({ from: a.netnsName, host: b.podIPs[0]!, port: 80 })));
    const results = await probeBatch(lab, requests);
    assert.deepEqual(results.map((r) => r.connected), requests.map(() => true));
    const n3 = await execIn(`${prefix}-n3`, ['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0']);
    assert.match(n3.stdout, / 198\.19\.100\.13\/24 /);
    // no way out of the lab: no default route anywhere, and the host's links and routes are unchanged
    for (const ns of [`${prefix}-ul`, `${prefix}-n1`, `${prefix}-n3`]) {
      assert.equal((await execIn(ns, ['ip', 'route', 'show', 'default'])).stdout.trim(), '', `default route in ${ns}`);
    }
    assert.equal(sh('ip', ['-o', 'link', 'show']), hostLinks);
    assert.equal(sh('ip', ['route', 'show', 'table', 'all']), hostRoutes);
    assert.deepEqual(await teardownLab(lab), []);
  });

  it('without static routes pods on different nodes do not reach each other', async () => {
    const lab = { prefix: `${prefix}-b` };
    await createNetwork({ prefix: lab.prefix, nodes: 2 });
    const a = await createPod(lab, { node: `${lab.prefix}-n1`, namespace: 'd', name: 'a', uid: 'a', ports: [{ port: 80, protocol: 'TCP' }] });
    const b = await createPod(lab, { node: `${lab.prefix}-n2`, namespace: 'd', name: 'b', uid: 'b', ports: [{ port: 80, protocol: 'TCP' }] });
    const [r] = await probeBatch(lab, [{ from: a.netnsName, host: b.podIPs[0]!, port: 80, timeoutMs: 500 }]);
    assert.equal(r!.connected, false);
    // the node itself reaches the other node over the underlay
    const [direct] = await probeBatch(lab, [{ from: `${lab.prefix}-n1`, host: '198.51.100.12', port: 9, timeoutMs: 1000 }]);
    assert.equal(direct!.error, 'refused');
    assert.deepEqual(await teardownLab(lab), []);
  });

  it('lists what it created and deletes exactly that, leaving a foreign namespace with the same prefix alone', async () => {
    const foreign = new TestNetns(prefix);
    try {
      await createNetwork({ prefix, nodes: 2 });
      await assert.rejects(createNetwork({ prefix, nodes: 2 }), /already exists/);
      const listing = listNetwork(prefix);
      assert.deepEqual(listing.present, [`${prefix}-ul`, `${prefix}-n1`, `${prefix}-n2`]);
      assert.deepEqual(listing.missing, []);
      assert.ok(listing.withPrefix.includes(foreign.name));
      const removed = await deleteNetwork(prefix);
      assert.deepEqual(removed.sort(), [`${prefix}-n1`, `${prefix}-n2`, `${prefix}-ul`]);
      assert.deepEqual(listNetns().filter((n) => n.startsWith(`${prefix}-`)), [foreign.name]);
      assert.equal(listNetwork(prefix).network, undefined);
    } finally {
      foreign.delete();
    }
  });
});
