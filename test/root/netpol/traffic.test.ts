// Real TCP through the planned ruleset: a node namespace routing between two pod namespaces and an
// outside host, with the rules applied by iptables (nf_tables and legacy) or by the nft renderer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NetworkPolicy } from 'kubernetes-types/networking/v1.js';
import { TestNetns, haveCommand, isRoot } from '../../helpers/netns.ts';
import { config, ns, policy, pod } from '../../unit/netpol/fixtures.ts';
import { diff } from '../../../src/controllers/netpol/diff.ts';
import { plan } from '../../../src/controllers/netpol/plan.ts';
import { renderNft } from '../../../src/controllers/netpol/render-nft.ts';
import { apply, observeAll } from './kernel.ts';

const skip = !isRoot || !haveCommand('socat') || !haveCommand('ipset') || !haveCommand('nft') ? 'needs root, socat, ipset, nft' : false;

const UI = '198.18.10.2';
const API = '198.18.11.2';
const OUTSIDE = '198.19.5.5';
// IPv6 documentation prefix, only ever configured inside the test's own namespaces.
const UI6 = '2001:db8:10::2';
const API6 = '2001:db8:11::2';
const OUTSIDE6 = '2001:db8:5::5';

interface Lab { node: TestNetns; ui: TestNetns; api: TestNetns; outside: TestNetns; listeners: ChildProcess[] }

function link(node: TestNetns, peer: TestNetns, nodeSide: string, nodeAddr: string, peerAddr: string, net6: string): void {
  node.ip('link', 'add', nodeSide, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', peer.name);
  node.ip('addr', 'add', `${nodeAddr}/24`, 'dev', nodeSide);
  node.ip('-6', 'addr', 'add', `${net6}1/64`, 'dev', nodeSide, 'nodad');
  node.ip('link', 'set', nodeSide, 'up');
  peer.ip('addr', 'add', `${peerAddr}/24`, 'dev', 'eth0');
  peer.ip('-6', 'addr', 'add', `${net6}${net6 === '2001:db8:5::' ? '5' : '2'}/64`, 'dev', 'eth0', 'nodad');
  peer.ip('link', 'set', 'eth0', 'up');
  peer.ip('route', 'add', 'default', 'via', nodeAddr);
  peer.ip('-6', 'route', 'add', 'default', 'via', `${net6}1`);
}

function listen(n: TestNetns, port: number): ChildProcess {
  return spawn('ip', ['netns', 'exec', n.name, 'socat', `TCP6-LISTEN:${port},fork,reuseaddr,ipv6only=0`, '/dev/null'], { stdio: 'ignore' });
}

function connects(from: TestNetns, ip: string, port: number): boolean {
  const target = ip.includes(':') ? `TCP6:[${ip}]:${port}` : `TCP:${ip}:${port}`;
  const r = spawnSync('ip', ['netns', 'exec', from.name, 'socat', '-T2', '/dev/null', `${target},connect-timeout=2`], { stdio: 'ignore' });
  return r.status === 0;
}

async function makeLab(): Promise<Lab> {
  const created: TestNetns[] = [];
  try {
    for (let i = 0; i < 4; i++) created.push(new TestNetns('krt-np'));
  } catch (e) {
    for (const n of created) n.delete();
    throw e;
  }
  const [node, ui, api, outside] = created as [TestNetns, TestNetns, TestNetns, TestNetns];
  const lab: Lab = { node, ui, api, outside, listeners: [] };
  try {
    node.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
    link(node, ui, 'vui', '198.18.10.1', UI, '2001:db8:10::');
    link(node, api, 'vapi', '198.18.11.1', API, '2001:db8:11::');
    link(node, outside, 'vout', '198.19.5.1', OUTSIDE, '2001:db8:5::');
    lab.listeners.push(listen(api, 8080), listen(api, 8081), listen(ui, 8080), listen(outside, 8080));
    const ready = (): boolean => connects(ui, API, 8080) && connects(ui, API, 8081) && connects(api, UI, 8080) &&
      connects(ui, OUTSIDE, 8080) && connects(ui, API6, 8081) && connects(ui, OUTSIDE6, 8080);
    for (let i = 0; i < 50 && !ready(); i++) await sleep(100);
    return lab;
  } catch (e) {
    await destroyLab(lab);
    throw e;
  }
}

async function destroyLab(lab: Lab): Promise<void> {
  const exited = lab.listeners.map((l) => (l.exitCode !== null || l.signalCode !== null ? Promise.resolve() : new Promise((r) => l.once('exit', r))));
  for (const l of lab.listeners) l.kill('SIGKILL');
  await Promise.all(exited);
  for (const n of [lab.node, lab.ui, lab.api, lab.outside]) n.delete();
}

function desired(except: string[]) {
  const pods = [
    pod('shop', 'ui', { ip: UI, ip6: UI6, labels: { app: 'ui' } }),
    pod('shop', 'api', { ip: API, ip6: API6, labels: { app: 'api' }, ports: [{ name: 'http', containerPort: 8080 }] }),
  ];
  const policies: NetworkPolicy[] = [
    policy('shop', 'api-in', { podSelector: { matchLabels: { app: 'api' } }, ingress: [{
      from: [{ podSelector: { matchLabels: { app: 'ui' } } }, { ipBlock: { cidr: '198.19.0.0/16', except } }], ports: [{ port: 'http' }] }] }),
    policy('shop', 'ui-out', { podSelector: { matchLabels: { app: 'ui' } }, policyTypes: ['Egress'],
      egress: [{ to: [{ podSelector: { matchLabels: { app: 'api' } } }] }] }),
  ];
  return plan({ pods, namespaces: [ns('shop')], policies, nodeName: 'node-a', nodeIPs: ['198.18.10.1', '198.18.11.1', '198.19.5.1'],
    podCIDRs: ['198.18.10.0/24', '198.18.11.0/24'], config: config({ families: ['ipv4', 'ipv6'] }) });
}

type Applier = (lab: Lab, except: string[]) => void;
const appliers: Record<string, Applier> = {
  'iptables-nft': (lab, except) => apply(lab.node, 'nft', diff(desired(except), observeAll(lab.node, 'nft'))),
  'iptables-legacy': (lab, except) => apply(lab.node, 'legacy', diff(desired(except), observeAll(lab.node, 'legacy'))),
  nft: (lab, except) => { for (const f of desired(except).families) lab.node.exec('nft', ['-f', '-'], renderNft(f)); },
};

for (const [name, applyRules] of Object.entries(appliers)) {
  test(`[${name}] real TCP over IPv4 and IPv6 follows policy: selectors, named port, ipBlock/except update, egress, node access`, { skip }, async () => {
    const lab = await makeLab();
    try {
      assert.ok(connects(lab.ui, API, 8081) && connects(lab.ui, API6, 8081) && connects(lab.outside, API6, 8080) &&
        connects(lab.ui, OUTSIDE6, 8080) && connects(lab.ui, OUTSIDE, 8080), 'before any policy, traffic flows');
      applyRules(lab, []);
      assert.equal(connects(lab.ui, API, 8080), true, 'ui -> api on the named port');
      assert.equal(connects(lab.ui, API, 8081), false, 'ui -> api on another port');
      assert.equal(connects(lab.outside, API, 8080), true, 'outside inside the ipBlock');
      assert.equal(connects(lab.ui, OUTSIDE, 8080), false, 'ui egress only to api');
      assert.equal(connects(lab.outside, UI, 8080), true, 'ui has no ingress policy');
      assert.equal(connects(lab.node, API, 8081), true, 'the node reaches its local pods');

      // IPv6 is filtered by its own family's rules: the ipBlock is IPv4-only, so outside6 gets nothing.
      assert.equal(connects(lab.ui, API6, 8080), true, 'ui6 -> api6 on the named port');
      assert.equal(connects(lab.ui, API6, 8081), false, 'ui6 -> api6 on another port');
      assert.equal(connects(lab.outside, API6, 8080), false, 'outside6 has no IPv6 ipBlock');
      assert.equal(connects(lab.ui, OUTSIDE6, 8080), false, 'ui6 egress only to api');
      assert.equal(connects(lab.node, API6, 8081), true, 'the node reaches its local pods over IPv6');

      applyRules(lab, ['198.19.5.0/24']);
      assert.equal(connects(lab.outside, API, 8080), false, 'outside now under an except');
      assert.equal(connects(lab.ui, API, 8080), true, 'the other peer still allowed after the update');
    } finally {
      await destroyLab(lab);
    }
  });
}
