// One object whose rules the kernel refuses is rejected and fails closed, and never stalls the node: the
// other pods are programmed and a deny-all applied afterwards takes effect, on both backends, with real TCP.
// The refusal is injected by an exec that fails any tool input naming that pod (as nft did for a jump comment
// too long), checks included; every other command reaches the real kernel of the test namespace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { TestNetns, haveCommand, isRoot } from '../../helpers/netns.ts';
import { config, ns, pod, policy } from '../../unit/netpol/fixtures.ts';
import { FakeCluster } from '../../unit/netpol/fake-cluster.ts';
import { netpolExec, type NetpolExec } from '../../../src/controllers/netpol/apply-exec.ts';
import { err } from '../../../src/result.ts';
import { exitFailure } from '../../helpers/fake-exec.ts';
import { inputText } from '../../../src/kernel/exec.ts';
import { newController, type Backend } from './controller-harness.ts';

const skip = !isRoot || !haveCommand('socat') || !haveCommand('ipset') || !haveCommand('nft') || !haveCommand('unshare')
  ? 'needs root, socat, ipset, nft, unshare' : false;

const UI = '198.18.30.2';
const API = '198.18.31.2';
const BAD = '198.18.32.2';

/** The tools of a namespace, except that anything mentioning `poison` (input or check files) is refused. */
function refusingExec(netns: string, poison: string): NetpolExec {
  const inner = netpolExec(netns);
  return {
    get count() {
      return inner.count;
    },
    netns,
    run(cmd, args, options) {
      const files = args.filter((a) => a.includes('kube-router-check-')).map((f) => readFileSync(f, 'utf8'));
      const input = inputText(options?.input);
      if ([input, ...files].some((t) => t.includes(poison))) return Promise.resolve(err(exitFailure(cmd, args, 1, 'refused')));
      return inner.run(cmd, args, { ...options, input });
    },
  };
}

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
  test(`[${b.kind}] a pod whose rules the kernel refuses is rejected with deny, and everyone else's policy still applies`, { skip }, async () => {
    const spaces: TestNetns[] = [];
    const listeners: ChildProcess[] = [];
    try {
      for (let i = 0; i < 4; i++) spaces.push(new TestNetns('krt-npr'));
      const [node, ui, api, bad] = spaces as [TestNetns, TestNetns, TestNetns, TestNetns];
      node.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
      wire(node, ui, 'vui', '198.18.30.1', UI);
      wire(node, api, 'vapi', '198.18.31.1', API);
      wire(node, bad, 'vbad', '198.18.32.1', BAD);
      for (const n of [api, bad]) listeners.push(spawn('ip', ['netns', 'exec', n.name, 'socat', 'TCP-LISTEN:8080,fork,reuseaddr', '/dev/null'], { stdio: 'ignore' }));
      for (let i = 0; i < 50 && !(connects(ui, API, 8080) && connects(ui, BAD, 8080)); i++) await sleep(100);
      assert.ok(connects(ui, API, 8080) && connects(ui, BAD, 8080), 'open before any rule');

      // Without --netpol-default-deny: a pod left unprogrammed would be open, so "closed" proves fail-closed.
      const c = new FakeCluster(config({ families: ['ipv4'] }), 'node-a', ['198.18.30.1'], ['198.18.30.0/24', '198.18.31.0/24', '198.18.32.0/24']);
      c.put(ns('shop'), 'Namespace');
      c.put(pod('shop', 'ui', { ip: UI }), 'Pod');
      c.put(pod('shop', 'api', { ip: API, labels: { app: 'api' } }), 'Pod');
      c.put(pod('shop', 'bad', { ip: BAD }), 'Pod');
      c.put(policy('shop', 'api-from-ui', { podSelector: { matchLabels: { app: 'api' } }, ingress: [{ from: [{ podSelector: {} }] }] }), 'NetworkPolicy');
      const rejected: Pod[] = [];
      const { controller } = newController(node, c, b, { exec: refusingExec(node.name, 'shop/bad'), rejectPod: (p) => rejected.push(p) });
      await controller.fullSync();
      assert.deepEqual(rejected.map((p) => p.metadata?.name), ['bad'], 'the refused pod is reported (Event, metric)');
      assert.equal(connects(ui, API, 8080), true, 'api is programmed: its policy allows ui');
      assert.equal(connects(ui, BAD, 8080), false, 'the refused pod fails closed');

      assert.deepEqual(await controller.handleChanges([c.put(policy('shop', 'deny-all', { podSelector: {}, policyTypes: ['Ingress'] }), 'NetworkPolicy')]), {});
      assert.equal(connects(ui, API, 8080), true, 'api-from-ui still allows ui');
      assert.deepEqual(await controller.handleChanges([c.remove('NetworkPolicy', 'shop/api-from-ui')]), {});
      assert.equal(connects(ui, API, 8080), false, 'deny-all applies once nothing else allows');
      assert.equal(connects(ui, BAD, 8080), false, 'still closed');
      assert.equal(rejected.length, 1, 'reported once');
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
