// Applies the rendered iptables-restore and ipset text in fresh network namespaces (nf_tables and legacy
// iptables) and checks the kernel holds exactly our chains and sets, re-applying changes nothing,
// incremental changes touch only what changed, and a foreign chain and ipset survive everything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestNetns, haveCommand, isRoot } from '../../helpers/netns.ts';
import { config, ns, policy, pod, viewFor, world } from '../../unit/netpol/fixtures.ts';
import { diff, emptyFamily, type FamilyChanges } from '../../../src/controllers/netpol/diff.ts';
import type { DesiredState } from '../../../src/controllers/netpol/model.ts';
import { plan } from '../../../src/controllers/netpol/plan.ts';
import { isEmptyChange } from '../../../src/controllers/netpol/render-iptables.ts';
import { isEmptyIpsetChange } from '../../../src/controllers/netpol/render-ipset.ts';
import { apply, observe, observeAll, tool, type Backend } from './kernel.ts';

const skip = !isRoot || !haveCommand('ipset') || !haveCommand('iptables-restore') ? 'needs root, ipset and iptables' : false;

const nothingToDo = (changes: FamilyChanges[]): boolean =>
  changes.every((c) => isEmptyChange(c.iptables) && isEmptyIpsetChange(c.ipset));

function desiredFor(labels: Record<string, string>, withPolicy = true): DesiredState {
  const pods = [
    pod('shop', 'api', { ip: '198.18.1.10', ip6: '2001:db8:1::10', labels: { app: 'api' }, ports: [{ name: 'http', containerPort: 8080 }] }),
    pod('shop', 'ui', { ip: '198.18.1.11', ip6: '2001:db8:1::11', labels }),
    pod('shop', 'far', { ip: '198.18.2.11', ip6: '2001:db8:2::11', node: 'node-b', labels }),
  ];
  const policies = withPolicy ? [policy('shop', 'api-in', { podSelector: { matchLabels: { app: 'api' } }, policyTypes: ['Ingress', 'Egress'],
    ingress: [{ from: [{ podSelector: { matchLabels: { app: 'ui' } } }, { ipBlock: { cidr: '198.19.0.0/16', except: ['198.19.9.0/24'] } }],
      ports: [{ port: 'http' }, { protocol: 'SCTP', port: 9 }] }],
    egress: [{ to: [{ ipBlock: { cidr: '::/0', except: ['2001:db8:ffff::/48'] } }, { ipBlock: { cidr: '0.0.0.0/0' } }] }] })] : [];
  return plan(viewFor(world({ pods, namespaces: [ns('shop')], policies, config: config({ defaultDeny: true }) })));
}

function addForeign(n: TestNetns, backend: Backend): void {
  n.exec('ipset', ['create', 'foreign-set', 'hash:ip']);
  n.exec('ipset', ['add', 'foreign-set', '198.51.100.77']);
  n.exec(tool(backend, 'ipv4', 'restore'), ['--noflush'],
    '*filter\n:FOREIGN-CHAIN - [0:0]\n-A FOREIGN-CHAIN -m set --match-set foreign-set src -j ACCEPT\n-A INPUT -j FOREIGN-CHAIN\nCOMMIT\n');
}

function assertForeignIntact(n: TestNetns, backend: Backend): void {
  const save = n.exec(tool(backend, 'ipv4', 'save'), ['-t', 'filter']);
  assert.match(save, /^-A FOREIGN-CHAIN -m set --match-set foreign-set src -j ACCEPT$/m);
  assert.match(save, /^-A INPUT -j FOREIGN-CHAIN$/m);
  assert.match(n.exec('ipset', ['list', 'foreign-set']), /198\.51\.100\.77/);
}

for (const backend of ['nft', 'legacy'] as const) {
  test(`[${backend}] rendered ruleset applies, matches exactly, re-applies idempotently and leaves foreign state`, { skip }, () => {
    const n = new TestNetns('krt-np');
    try {
      addForeign(n, backend);
      const desired = desiredFor({ app: 'ui' });
      apply(n, backend, diff(desired, observeAll(n, backend)));

      for (const fam of desired.families) {
        const o = observe(n, backend, fam.family);
        assert.deepEqual([...o.iptables.chains.keys()].sort(), fam.chains.map((c) => c.name));
        const ours = [...o.sets.values()].filter((s) => s.family === fam.family).map((s) => s.name).sort();
        assert.deepEqual(ours, fam.sets.map((s) => s.name));
        // Our jump is the first rule of each builtin chain, exactly once.
        const save = n.exec(tool(backend, fam.family, 'save'), ['-t', 'filter']);
        for (const b of ['INPUT', 'FORWARD', 'OUTPUT']) {
          const rules = save.split('\n').filter((l) => l.startsWith(`-A ${b} `));
          assert.match(rules[0] ?? '', new RegExp(`-j KUBE-ROUTER-${b}$`));
          assert.equal(rules.filter((l) => l.includes(`KUBE-ROUTER-${b}`)).length, 1);
        }
      }
      assert.ok(nothingToDo(diff(desired, observeAll(n, backend))), 'diff after apply is empty');

      // A forced full rewrite is idempotent too: same kernel state, still no duplicate jumps.
      const before = n.exec(tool(backend, 'ipv4', 'save'), ['-t', 'filter']).replace(/^#.*$/gm, '');
      apply(n, backend, diff(desired, observeAll(n, backend), { full: true }));
      assert.equal(n.exec(tool(backend, 'ipv4', 'save'), ['-t', 'filter']).replace(/^#.*$/gm, ''), before);
      assertForeignIntact(n, backend);
    } finally {
      n.delete();
    }
  });

  test(`[${backend}] a label change is applied as set deltas only, and removal cleans up everything of ours`, { skip }, () => {
    const n = new TestNetns('krt-np');
    try {
      addForeign(n, backend);
      apply(n, backend, diff(desiredFor({ app: 'ui' }), observeAll(n, backend)));

      const relabelled = desiredFor({ app: 'other' });
      const changes = diff(relabelled, observeAll(n, backend));
      assert.ok(changes.every((c) => c.iptables.refill.length === 0 && c.ipset.replace.length === 0));
      assert.deepEqual(changes.flatMap((c) => c.ipset.del.map((d) => d.member.entry)).sort(),
        ['198.18.1.11', '198.18.2.11', '2001:db8:1::11', '2001:db8:2::11']);
      apply(n, backend, changes);
      assert.ok(nothingToDo(diff(relabelled, observeAll(n, backend))));

      // Deleting the policy removes its chains, then its sets (after the references are gone).
      const noPolicy = desiredFor({ app: 'other' }, false);
      apply(n, backend, diff(noPolicy, observeAll(n, backend)));
      assert.ok(nothingToDo(diff(noPolicy, observeAll(n, backend))));
      assert.equal([...observe(n, backend, 'ipv4').sets.keys()].filter((s) => s.startsWith('KUBE-')).length, 0);

      // Full cleanup: nothing of ours is left, the foreign chain and set are untouched.
      const empty: DesiredState = { families: [emptyFamily('ipv4'), emptyFamily('ipv6')], rejections: [] };
      apply(n, backend, diff(empty, observeAll(n, backend)));
      for (const fam of ['ipv4', 'ipv6'] as const) {
        const save = n.exec(tool(backend, fam, 'save'), ['-t', 'filter']);
        assert.doesNotMatch(save, /KUBE-/);
      }
      assert.deepEqual(n.exec('ipset', ['list', '-n']).trim().split('\n'), ['foreign-set']);
      assertForeignIntact(n, backend);
    } finally {
      n.delete();
    }
  });
}
