// Host setup's kernel writes in a fresh namespace: the FORWARD accept rules go in once, below the network policy
// controller's jumps and above everything else, leaving other rules alone; the forwarding sysctls are set in the
// namespace (not on the host).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { haveCommand, isRoot, TestNetns } from '../../helpers/netns.ts';
import { processExec } from '../../../src/kernel/exec.ts';
import { applyForwardingSysctls, ensureForwardRules } from '../../../src/controllers/routing/apply-host.ts';

const skip = !isRoot || !haveCommand('iptables') ? 'needs root and iptables' : false;

describe('FORWARD accept rules and forwarding sysctls', { skip }, () => {
  let ns: TestNetns;
  const forward = (): string[] => ns.exec('iptables', ['-w', '-S', 'FORWARD']).split('\n').filter((l) => l.startsWith('-A FORWARD '));

  before(() => {
    ns = new TestNetns('krt-rt');
    ns.exec('iptables-restore', ['--noflush'], '*filter\n:KUBE-ROUTER-FORWARD - [0:0]\n-A FORWARD -j KUBE-ROUTER-FORWARD\n-A FORWARD -s 198.51.100.9/32 -j DROP\nCOMMIT\n');
  });
  after(() => ns?.delete());

  it('inserts the three rules once, after our policy jump and before the foreign rule', async () => {
    const exec = processExec(ns.name);
    assert.deepEqual(await ensureForwardRules(exec, [4], 'eth9'), []);
    assert.deepEqual(await ensureForwardRules(exec, [4], 'eth9'), []);
    const rules = forward();
    assert.equal(rules.length, 5);
    assert.equal(rules[0], '-A FORWARD -j KUBE-ROUTER-FORWARD');
    assert.deepEqual(new Set(rules.slice(1, 4).map((r) => r.match(/--comment "([^"]+)"/)?.[1])), new Set([
      'allow outbound traffic from pods', 'allow inbound traffic to pods', 'allow outbound node port traffic on node interface with which node ip is associated',
    ]));
    assert.equal(rules[4], '-A FORWARD -s 198.51.100.9/32 -j DROP');
  });

  it('sets forwarding and bridge-netfilter sysctls in the namespace only', async () => {
    const hostForwarding = processExec().run('sysctl', ['-n', 'net.ipv4.ip_forward']);
    assert.deepEqual(await applyForwardingSysctls(processExec(ns.name), [4]), []);
    assert.equal(ns.exec('sysctl', ['-n', 'net.ipv4.ip_forward']).trim(), '1');
    assert.equal(ns.exec('sysctl', ['-n', 'net.bridge.bridge-nf-call-iptables']).trim(), '1');
    assert.deepEqual(await processExec().run('sysctl', ['-n', 'net.ipv4.ip_forward']), await hostForwarding);
  });
});
