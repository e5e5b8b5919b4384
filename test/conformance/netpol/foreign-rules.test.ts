// Another tool's chain (jumped to from the top of FORWARD), ipset and nft table in node 1 survive every kube-router sync
// on both backends: incremental syncs for policy, label and deletion changes, periodic full syncs
// (--iptables-sync-period=3s) and the full sync of a restarted instance.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execIn } from '../../../lab/netns/exec.ts';
import { guardIngress, never } from './cases-selectors.ts';
import { firstRule, foreignSnapshot, installForeignRules } from './foreign-rules.ts';
import { KubeRouterControl } from './kube-router-control.ts';
import { LabModel, type Backend } from './lab-model.ts';
import { TCP80, inNs, isPod } from './model.ts';
import { applyChange, denyAllIngress, ingressTo, podSel, type CaseStep } from './policies.ts';
import { expectReachability } from './probe-runner.ts';
import { resetModel, skipUnlessRoot } from './suite.ts';

const xa = isPod('x/a');
const CHANGES: CaseStep[] = [
  { what: 'deny-all ingress in x', apply: [denyAllIngress('x')], probes: [TCP80], expect: guardIngress(inNs('x'), never) },
  { what: 'x/a from pod=b added', apply: [ingressTo('x', 'a', [{ podSelector: podSel({ pod: 'b' }) }])], probes: [TCP80], expect: (f, t) => !inNs('x')(t) || (xa(t) && isPod('x/b')(f)) },
  { what: 'x/a policy updated to pod=c', apply: [ingressTo('x', 'a', [{ podSelector: podSel({ pod: 'c' }) }])], probes: [TCP80], expect: (f, t) => !inNs('x')(t) || (xa(t) && isPod('x/c')(f)) },
  { what: 'x/c relabelled', podLabels: [{ pod: { namespace: 'x', name: 'c' }, labels: { pod: 'q' } }], probes: [TCP80], expect: guardIngress(inNs('x'), never) },
  { what: 'both policies deleted', deletePolicies: [{ namespace: 'x', name: 'deny-all-ingress' }, { namespace: 'x', name: 'ingress-a' }], probes: [TCP80], expect: () => true },
];

async function ownStatePresent(netns: string, backend: Backend): Promise<boolean> {
  if (backend === 'nftables') return (await execIn(netns, ['nft', 'list', 'tables'])).stdout.includes('kube-router-filter-ipv4');
  return (await execIn(netns, ['iptables-save', '-t', 'filter'])).stdout.includes(':KUBE-ROUTER-FORWARD');
}

function describeForeign(backend: Backend, prefix: string): void {
  describe(`foreign firewall state survives kube-router syncs (${backend})`, { skip: skipUnlessRoot }, () => {
    // firewall only: the restart below would otherwise also take node 1's BGP routes down for a while
    const model = new LabModel({ prefix, backend, firewallOnly: true, extraArgs: ['--iptables-sync-period=3s'] });
    const control = new KubeRouterControl(model);
    before(async () => { await model.start(); });
    after(async () => {
      await control.stopAll();
      await model.stop();
    });

    test(`${backend}: another tool's chain + FORWARD jump, ipset and nft table in node 1 are unchanged by policy changes, full resyncs and a restart`, async () => {
      const netns = model.nodeNetns(1);
      await resetModel(model);
      await installForeignRules(netns);
      const before0 = await foreignSnapshot(netns);
      for (const step of CHANGES) {
        applyChange(model, step);
        const outcome = await expectReachability(model, step);
        assert.ok(outcome.ok, `${step.what}: reachability never matched\n${outcome.report}`);
        assert.equal(await foreignSnapshot(netns), before0, `foreign state changed after "${step.what}"`);
      }
      assert.ok(await ownStatePresent(netns, backend), `kube-router's own ${backend} state is not in ${netns}: no sync happened there`);
      // two periodic full syncs
      await new Promise((r) => setTimeout(r, 7000));
      assert.equal(await foreignSnapshot(netns), before0, 'foreign state changed after periodic full syncs');
      // as upstream, a full sync puts kube-router's jump back in front of rules inserted above it
      if (backend === 'iptables') assert.match(await firstRule(netns, 'FORWARD'), /kube-router netpol/, 'FORWARD does not start with the netpol jump after full syncs');
      // a new instance's first full sync (and its cleanup of the other backend)
      await control.stop(1);
      await control.start(1);
      applyChange(model, CHANGES[0]!);
      const afterRestart = await expectReachability(model, CHANGES[0]!);
      assert.ok(afterRestart.ok, `after the restart: ${afterRestart.report}`);
      assert.equal(await foreignSnapshot(netns), before0, 'foreign state changed after a restart');
    });
  });
}

describeForeign('iptables', 'krt-cf-fi');
describeForeign('nftables', 'krt-cf-fn');
