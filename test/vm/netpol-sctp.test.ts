// Runs INSIDE the test VM (lab/vm; the host kernel has no SCTP): real SCTP and TCP packets cross the rules the
// netpol controller programs, on the iptables (iptables-nft userspace) and nftables backends, proving a port
// rule for one protocol never admits the other protocol on the same port.
// Topology: a node namespace routes between a client pod namespace and a target pod namespace.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import type { NetworkPolicyPort } from 'kubernetes-types/networking/v1.js';
import { TestNetns } from '../helpers/netns.ts';
import { config, ns, pod, policy } from '../unit/netpol/fixtures.ts';
import { FakeCluster } from '../unit/netpol/fake-cluster.ts';
import { backendName, newController, type Backend } from '../root/netpol/controller-harness.ts';

const IN_VM = process.env['KUBE_ROUTER_IN_VM'] === '1';

const CLIENT = '198.18.20.2';
const TARGET = '198.18.21.2';
const GATEWAYS = ['198.18.20.1', '198.18.21.1'];

type Proto = 'SCTP' | 'TCP';
// each listener answers with its own name, so a reply proves which socket was reached
const SERVICES: { proto: Proto; port: number }[] = [{ proto: 'SCTP', port: 80 }, { proto: 'SCTP', port: 81 }, { proto: 'TCP', port: 80 }];
const banner = (proto: Proto, port: number): string => `${proto.toLowerCase()}-${port}`;

function wire(node: TestNetns, pod: TestNetns, nodeSide: string, gw: string, addr: string): void {
  node.ip('link', 'add', nodeSide, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod.name);
  node.exec('ip', ['-batch', '-'], `addr add ${gw}/24 dev ${nodeSide}\nlink set ${nodeSide} up\n`);
  pod.exec('ip', ['-batch', '-'], `addr add ${addr}/24 dev eth0\nlink set eth0 up\nroute add default via ${gw}\n`);
}

/** What the target answered over a fresh connection from `from`, or '' when nothing came back in ~2 s. */
function reply(from: TestNetns, proto: Proto, port: number): string {
  // -u: read-only client, since SCTP has no half-close (our EOF would end the association before the reply)
  const r = spawnSync('ip', ['netns', 'exec', from.name, 'socat', '-u', '-T', '3', `${proto}-CONNECT:${TARGET}:${port},connect-timeout=2`, '-'],
    { encoding: 'utf8', timeout: 10_000 });
  return (r.stdout ?? '').trim();
}

/** Which services answer, e.g. { 'sctp-80': true, 'sctp-81': false, 'tcp-80': false }. */
function reachable(from: TestNetns): Record<string, boolean> {
  return Object.fromEntries(SERVICES.map(({ proto, port }) => [banner(proto, port), reply(from, proto, port) === banner(proto, port)]));
}

function clusterAllowing(ports: NetworkPolicyPort[]): FakeCluster {
  const c = new FakeCluster(config({ families: ['ipv4'] }), 'node-a', [GATEWAYS[0] as string], ['198.18.20.0/24', '198.18.21.0/24']);
  c.put(ns('shop'), 'Namespace');
  c.put(pod('shop', 'client', { ip: CLIENT, labels: { app: 'client' } }), 'Pod');
  c.put(pod('shop', 'target', { ip: TARGET, labels: { app: 'target' } }), 'Pod');
  c.put(policy('shop', 'target-in', { podSelector: { matchLabels: { app: 'target' } }, policyTypes: ['Ingress'],
    ingress: [{ from: [{ podSelector: { matchLabels: { app: 'client' } } }], ports }] }), 'NetworkPolicy');
  return c;
}

describe('netpol controller with SCTP traffic in the VM kernel', { skip: IN_VM ? false : 'runs inside the test VM: see test/root/vm/netpol-sctp-vm.test.ts' }, () => {
  let node: TestNetns;
  let client: TestNetns;
  let target: TestNetns;
  const listeners: ChildProcess[] = [];

  before(() => {
    node = new TestNetns('krt-ns');
    client = new TestNetns('krt-ns');
    target = new TestNetns('krt-ns');
    node.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    wire(node, client, 'vclient', GATEWAYS[0] as string, CLIENT);
    wire(node, target, 'vtarget', GATEWAYS[1] as string, TARGET);
    for (const { proto, port } of SERVICES) {
      listeners.push(spawn('ip', ['netns', 'exec', target.name, 'socat', `${proto}-LISTEN:${port},reuseaddr,fork`, `SYSTEM:echo ${banner(proto, port)}`],
        { stdio: 'ignore' }));
    }
    // socat starts slowly under TCG: wait in one shell until every listener answers
    const checks = SERVICES.map(({ proto, port }) => `[ "$(socat -u -T 3 ${proto}-CONNECT:${TARGET}:${port} - 2>/dev/null)" = ${banner(proto, port)} ]`).join(' && ');
    client.exec('sh', ['-c', `for i in $(seq 1 75); do ${checks} && exit 0; sleep 0.2; done; exit 1`]);
  });

  after(() => {
    for (const l of listeners) l.kill('SIGKILL');
    for (const n of [node, client, target]) n?.delete();
  });

  test('without a policy, SCTP 80, SCTP 81 and TCP 80 all answer the client', () => {
    assert.deepEqual(reachable(client), { 'sctp-80': true, 'sctp-81': true, 'tcp-80': true });
  });

  for (const b of [{ kind: 'iptables', mode: 'nft' }, { kind: 'nftables', mode: 'nft' }] as Backend[]) {
    test(`[${backendName(b)}] a policy allowing SCTP 80 admits only SCTP 80: not SCTP 81, not TCP 80`, async () => {
      // the nftables controller's first full sync also removes what the iptables one left behind
      const { controller } = newController(node, clusterAllowing([{ protocol: 'SCTP', port: 80 }]), b);
      await controller.fullSync();
      assert.deepEqual(reachable(client), { 'sctp-80': true, 'sctp-81': false, 'tcp-80': false });
    });

    test(`[${backendName(b)}] a policy allowing TCP 80 admits only TCP 80: not SCTP 80 or 81`, async () => {
      const { controller } = newController(node, clusterAllowing([{ protocol: 'TCP', port: 80 }]), b);
      await controller.fullSync();
      assert.deepEqual(reachable(client), { 'sctp-80': false, 'sctp-81': false, 'tcp-80': true });
    });
  }
});
