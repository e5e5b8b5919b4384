// Pod egress kernel state in a fresh namespace: our ipsets are swapped in with exactly the desired members (taking
// over sets an upstream kube-router made, clearing our leftover temporaries), the MASQUERADE rule is added once and
// removed when egress is disabled, cleanup destroys only our sets, and foreign sets and rules are never touched.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { haveCommand, isRoot, TestNetns } from '../../helpers/netns.ts';
import { processExec } from '../../../src/kernel/exec.ts';
import { tmpSetName } from '../../../src/kernel/ipset.ts';
import { applyEgressRule, cleanupEgress, syncEgressIpsets } from '../../../src/controllers/routing/apply-egress.ts';

const skip = !isRoot || !haveCommand('ipset') || !haveCommand('iptables') ? 'needs root, ipset and iptables' : false;

describe('pod egress ipsets and MASQUERADE rule', { skip }, () => {
  let ns: TestNetns;
  const members = (set: string): string[] => {
    const out = ns.exec('ipset', ['list', set]);
    return out.slice(out.indexOf('Members:') + 'Members:'.length).trim().split('\n').filter((l) => l !== '').sort();
  };
  const setNames = (): string[] => ns.exec('ipset', ['list', '-n']).trim().split('\n');
  const masqueradeRules = (): string[] => ns.exec('iptables', ['-w', '-t', 'nat', '-S', 'POSTROUTING']).split('\n').filter((l) => l.includes('MASQUERADE'));

  before(() => {
    ns = new TestNetns('krt-rt');
    // What an upstream kube-router leaves behind, a temporary from a failed restore of ours (of another type than
    // the set it stands in for), and someone else's set + rule.
    ns.exec('ipset', ['create', 'kube-router-pod-subnets', 'hash:net', 'family', 'inet', 'hashsize', '1024', 'maxelem', '65536', 'timeout', '0']);
    ns.exec('ipset', ['add', 'kube-router-pod-subnets', '198.18.99.0/24']);
    ns.exec('ipset', ['create', tmpSetName('kube-router-pod-subnets'), 'hash:ip']);
    ns.exec('ipset', ['create', 'foreign-set', 'hash:ip']);
    ns.exec('ipset', ['add', 'foreign-set', '198.51.100.77']);
    ns.exec('iptables', ['-w', '-t', 'nat', '-A', 'POSTROUTING', '-s', '198.18.50.0/24', '-j', 'MASQUERADE']);
  });

  after(() => ns?.delete());

  it('fills our sets with exactly the desired members and leaves foreign sets alone', async () => {
    const exec = processExec(ns.name);
    const sets = { podSubnets: ['198.18.1.0/24', '198.18.2.0/24'], nodeIps: ['198.51.100.11', '198.51.100.12'] };
    assert.deepEqual(await syncEgressIpsets(exec, sets, [4]), []);
    assert.deepEqual(members('kube-router-pod-subnets'), ['198.18.1.0/24 timeout 0', '198.18.2.0/24 timeout 0']);
    assert.deepEqual(members('kube-router-node-ips'), ['198.51.100.11 timeout 0', '198.51.100.12 timeout 0']);
    assert.deepEqual(members('foreign-set'), ['198.51.100.77']);
    assert.deepEqual(setNames().filter((n) => n.startsWith('KUBE-TMP-')), [], 'no temporaries left');
    assert.deepEqual(await syncEgressIpsets(exec, { podSubnets: ['198.18.2.0/24'], nodeIps: [] }, [4]), []);
    assert.deepEqual(members('kube-router-pod-subnets'), ['198.18.2.0/24 timeout 0']);
  });

  it('adds the MASQUERADE rule once, removes it when disabled, and keeps the foreign rule', async () => {
    const exec = processExec(ns.name);
    assert.deepEqual(await applyEgressRule(exec, true, [4]), []);
    assert.deepEqual(await applyEgressRule(exec, true, [4]), []);
    assert.equal(masqueradeRules().filter((r) => r.includes('kube-router-pod-subnets')).length, 1);
    assert.deepEqual(await applyEgressRule(exec, false, [4]), []);
    assert.equal(masqueradeRules().filter((r) => r.includes('kube-router-pod-subnets')).length, 0);
    assert.equal(masqueradeRules().filter((r) => r.includes('198.18.50.0/24')).length, 1);
  });

  it('cleanup destroys only our sets', async () => {
    const exec = processExec(ns.name);
    await applyEgressRule(exec, true, [4]);
    assert.deepEqual(await cleanupEgress(exec, [4]), []);
    assert.deepEqual(setNames(), ['foreign-set']);
    assert.equal(masqueradeRules().filter((r) => r.includes('kube-router-pod-subnets')).length, 0);
  });
});
