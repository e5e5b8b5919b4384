// The longest names Kubernetes allows (namespace 63 characters, pod and policy name 253) on both backends,
// with real TCP: such a pod is programmed, a deny-all applied afterwards still takes effect for it and for
// the other pods of the node, and a later full sync finds the kernel as planned (no rewrite every period).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { TestNetns, haveCommand, isRoot } from '../../helpers/netns.ts';
import { config, ns, pod, policy } from '../../unit/netpol/fixtures.ts';
import { FakeCluster } from '../../unit/netpol/fake-cluster.ts';
import { newController, type Backend } from './controller-harness.ts';

const skip = !isRoot || !haveCommand('socat') || !haveCommand('ipset') || !haveCommand('nft') ? 'needs root, socat, ipset, nft' : false;

/** A DNS label of 63 characters and a DNS subdomain of 253: the longest valid namespace and object name. */
const LONG_NS = `ns-${'n'.repeat(59)}x`;
const longName = (tail: string): string => `${'p'.repeat(63)}.${'q'.repeat(63)}.${'r'.repeat(63)}.${'s'.repeat(60)}${tail}`;

const UI = '198.18.20.2';
const API = '198.18.21.2';
const LONG = '198.18.22.2';

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

const denyAll = { podSelector: {}, policyTypes: ['Ingress' as const] };

for (const b of [{ kind: 'iptables', mode: 'nft' }, { kind: 'nftables', mode: 'nft' }] as Backend[]) {
  test(`[${b.kind}] a pod with a 63-character namespace and a 253-character name is programmed, and deny-all policies applied afterwards take effect`, { skip }, async () => {
    assert.equal(LONG_NS.length, 63);
    assert.equal(longName('a').length, 253);
    const spaces: TestNetns[] = [];
    const listeners: ChildProcess[] = [];
    try {
      for (let i = 0; i < 4; i++) spaces.push(new TestNetns('krt-npl'));
      const [node, ui, api, long] = spaces as [TestNetns, TestNetns, TestNetns, TestNetns];
      node.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
      wire(node, ui, 'vui', '198.18.20.1', UI);
      wire(node, api, 'vapi', '198.18.21.1', API);
      wire(node, long, 'vlong', '198.18.22.1', LONG);
      for (const n of [api, long]) listeners.push(spawn('ip', ['netns', 'exec', n.name, 'socat', 'TCP-LISTEN:8080,fork,reuseaddr', '/dev/null'], { stdio: 'ignore' }));
      for (let i = 0; i < 50 && !(connects(ui, API, 8080) && connects(ui, LONG, 8080)); i++) await sleep(100);
      assert.ok(connects(ui, API, 8080) && connects(ui, LONG, 8080), 'open before any rule');

      const c = new FakeCluster(config({ families: ['ipv4'], defaultDeny: true }), 'node-a', ['198.18.20.1'],
        ['198.18.20.0/24', '198.18.21.0/24', '198.18.22.0/24']);
      c.put(ns('shop'), 'Namespace');
      c.put(ns(LONG_NS), 'Namespace');
      c.put(pod('shop', 'ui', { ip: UI }), 'Pod');
      c.put(pod('shop', 'api', { ip: API }), 'Pod');
      c.put(pod(LONG_NS, longName('a'), { ip: LONG }), 'Pod');
      // Same first 252 characters, another node: a name cut short would collide with the local one.
      c.put(pod(LONG_NS, longName('b'), { ip: '198.18.23.2', node: 'node-b' }), 'Pod');
      const { controller } = newController(node, c, b);
      await controller.fullSync();
      // With --netpol-default-deny an unprogrammed pod is rejected: reaching it proves it is programmed.
      assert.equal(connects(ui, LONG, 8080), true, 'the long-named pod is programmed (no policy selects it: open)');
      assert.equal(connects(ui, API, 8080), true, 'api is programmed');

      assert.deepEqual(await controller.handleChanges([c.put(policy('shop', longName('deny'), denyAll), 'NetworkPolicy')]), {});
      assert.equal(connects(ui, API, 8080), false, 'deny-all in shop applied after the long-named pod');
      assert.deepEqual(await controller.handleChanges([c.put(policy(LONG_NS, longName('deny'), denyAll), 'NetworkPolicy')]), {});
      assert.equal(connects(ui, LONG, 8080), false, 'deny-all in the long namespace applies to the long-named pod');

      await controller.fullSync();
      assert.equal(controller.lastSync?.report.unchanged, true, 'a full sync finds the kernel as planned');
    } finally {
      for (const l of listeners) {
        if (l.exitCode !== null) continue;
        const exited = new Promise((r) => l.once('exit', r));
        l.kill('SIGKILL');
        await exited;
      }
      for (const n of spaces) n.delete();
    }
  });
}
