// Real TCP through rules the controller programs: with --netpol-default-deny a pod unknown to the controller
// is rejected, and a label change handled incrementally opens and closes a policy-governed connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { TestNetns, haveCommand, isRoot } from '../../helpers/netns.ts';
import { config, ns, pod, policy } from '../../unit/netpol/fixtures.ts';
import { FakeCluster } from '../../unit/netpol/fake-cluster.ts';
import { newController, type Backend } from './controller-harness.ts';

const skip = !isRoot || !haveCommand('socat') || !haveCommand('ipset') || !haveCommand('nft') ? 'needs root, socat, ipset, nft' : false;

const UI = '198.18.10.2';
const API = '198.18.11.2';

function wire(node: TestNetns, peer: TestNetns, nodeSide: string, gw: string, addr: string): void {
  node.ip('link', 'add', nodeSide, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', peer.name);
  node.ip('addr', 'add', `${gw}/24`, 'dev', nodeSide);
  node.ip('link', 'set', nodeSide, 'up');
  peer.ip('addr', 'add', `${addr}/24`, 'dev', 'eth0');
  peer.ip('link', 'set', 'eth0', 'up');
  peer.ip('route', 'add', 'default', 'via', gw);
}

function connects(from: TestNetns, ip: string, port: number): boolean {
  return spawnSync('ip', ['netns', 'exec', from.name, 'socat', '-T2', '/dev/null', `TCP:${ip}:${port},connect-timeout=2`], { stdio: 'ignore' }).status === 0;
}

for (const b of [{ kind: 'iptables', mode: 'nft' }, { kind: 'nftables', mode: 'nft' }] as Backend[]) {
  test(`[${b.kind}] default-deny rejects an unknown pod, then a label change opens and closes ui -> api`, { skip }, async () => {
    const spaces: TestNetns[] = [];
    let listener: ChildProcess | null = null;
    try {
      for (let i = 0; i < 3; i++) spaces.push(new TestNetns('krt-npc'));
      const [node, ui, api] = spaces as [TestNetns, TestNetns, TestNetns];
      node.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
      wire(node, ui, 'vui', '198.18.10.1', UI);
      wire(node, api, 'vapi', '198.18.11.1', API);
      listener = spawn('ip', ['netns', 'exec', api.name, 'socat', 'TCP-LISTEN:8080,fork,reuseaddr', '/dev/null'], { stdio: 'ignore' });
      for (let i = 0; i < 50 && !connects(ui, API, 8080); i++) await sleep(100);
      assert.ok(connects(ui, API, 8080), 'open before any rule');

      const c = new FakeCluster(config({ families: ['ipv4'], defaultDeny: true }), 'node-a', ['198.18.10.1'], ['198.18.10.0/24', '198.18.11.0/24']);
      c.put(ns('shop'), 'Namespace');
      c.put(pod('shop', 'api', { ip: API, labels: { app: 'api' } }), 'Pod');
      c.put(policy('shop', 'api-in', { podSelector: { matchLabels: { app: 'api' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'ui' } } }], ports: [{ port: 8080 }] }] }), 'NetworkPolicy');
      const { controller } = newController(node, c, b);
      await controller.fullSync();
      assert.equal(connects(ui, API, 8080), false, 'ui is in a pod CIDR but not programmed: rejected');

      const uiPod = pod('shop', 'ui', { ip: UI, labels: { app: 'web' } });
      assert.deepEqual(await controller.handleChanges([c.put(uiPod, 'Pod')]), {});
      assert.equal(connects(ui, API, 8080), false, 'programmed, but not an allowed peer');

      const relabelled: Pod = { ...uiPod, metadata: { ...uiPod.metadata, labels: { app: 'ui' } } };
      assert.deepEqual(await controller.handleChanges([c.put(relabelled, 'Pod')]), {});
      assert.equal(connects(ui, API, 8080), true, 'allowed peer after the label change');

      assert.deepEqual(await controller.handleChanges([c.put(uiPod, 'Pod')]), {});
      assert.equal(connects(ui, API, 8080), false, 'closed again');
    } finally {
      if (listener && listener.exitCode === null) {
        const exited = new Promise((r) => listener?.once('exit', r));
        listener.kill('SIGKILL');
        await exited;
      }
      for (const n of spaces) n.delete();
    }
  });
}
