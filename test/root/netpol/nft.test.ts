// Applies the rendered nft transaction in a fresh network namespace: the tables hold exactly our chains
// (base chains on the filter hooks) and sets (with except companions), re-applying and shrinking work, and a
// foreign nft table survives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestNetns, haveCommand, isRoot } from '../../helpers/netns.ts';
import { config, ns, policy, pod, viewFor, world } from '../../unit/netpol/fixtures.ts';
import type { DesiredState } from '../../../src/controllers/netpol/model.ts';
import { plan } from '../../../src/controllers/netpol/plan.ts';
import { exceptSetName, nftSetName, nftTable, nftTableName, renderNft, renderNftDelete } from '../../../src/controllers/netpol/render-nft.ts';
import { nftTableDifference, parseNftListing } from '../../../src/controllers/netpol/nft-compare.ts';

const skip = !isRoot || !haveCommand('nft') ? 'needs root and nft' : false;

function desired(withPolicy: boolean): DesiredState {
  const pods = [
    pod('shop', 'api', { ip: '198.18.1.10', ip6: '2001:db8:1::10', labels: { app: 'api' }, ports: [{ name: 'http', containerPort: 8080 }] }),
    pod('shop', 'ui', { ip: '198.18.1.11', ip6: '2001:db8:1::11', labels: { app: 'ui' } }),
  ];
  const policies = withPolicy ? [policy('shop', 'api-in', { podSelector: { matchLabels: { app: 'api' } }, policyTypes: ['Ingress', 'Egress'],
    ingress: [{ from: [{ podSelector: { matchLabels: { app: 'ui' } } }, { ipBlock: { cidr: '198.19.0.0/16', except: ['198.19.9.0/24', '198.19.10.0/24'] } }],
      ports: [{ port: 'http' }, { protocol: 'UDP', port: 53, endPort: 54 }, { protocol: 'SCTP' }] }],
    egress: [{ to: [{ ipBlock: { cidr: '::/0', except: ['2001:db8:ffff::/48'] } }, { ipBlock: { cidr: '0.0.0.0/0', except: ['198.19.0.0/16'] } }] }] })] : [];
  return plan(viewFor(world({ pods, namespaces: [ns('shop')], policies, config: config({ defaultDeny: true }) })));
}

interface Listed { chains: { name: string; hook?: string }[]; sets: { name: string; elem?: unknown[] }[] }

function listTable(n: TestNetns, family: 'ip' | 'ip6', table: string): Listed {
  const json = JSON.parse(n.exec('nft', ['-j', 'list', 'table', family, table])) as { nftables: Record<string, Record<string, unknown>>[] };
  const out: Listed = { chains: [], sets: [] };
  for (const item of json.nftables) {
    if (item['chain']) out.chains.push(item['chain'] as Listed['chains'][number]);
    if (item['set']) out.sets.push(item['set'] as Listed['sets'][number]);
  }
  return out;
}

test('nft transaction applies per family with exactly our chains and sets, re-applies and shrinks cleanly', { skip }, () => {
  const n = new TestNetns('krt-np');
  try {
    n.exec('nft', ['-f', '-'], [
      'table inet foreign {', '  set keep { type ipv4_addr; elements = { 198.51.100.77 }; }',
      '  chain c {', '    type filter hook input priority 0; policy accept;', '    ip saddr @keep accept', '  }', '}', ''].join('\n'));
    const full = desired(true);
    for (let round = 0; round < 2; round++) {
      for (const fam of full.families) n.exec('nft', ['-f', '-'], renderNft(fam));
    }
    for (const fam of full.families) {
      const listed = listTable(n, fam.family === 'ipv4' ? 'ip' : 'ip6', nftTableName(fam.family));
      assert.deepEqual(listed.chains.map((c) => c.name).sort(), fam.chains.map((c) => c.name).sort());
      assert.deepEqual(listed.chains.filter((c) => c.hook).map((c) => [c.name, c.hook]).sort(),
        [['KUBE-ROUTER-FORWARD', 'forward'], ['KUBE-ROUTER-INPUT', 'input'], ['KUBE-ROUTER-OUTPUT', 'output']]);
      const expectSets = fam.sets.flatMap((s) => s.members.some((m) => m.nomatch) ? [nftSetName(s.name), exceptSetName(s.name)] : [nftSetName(s.name)]);
      assert.deepEqual(listed.sets.map((s) => s.name).sort(), expectSets.sort());
      // Each ipBlock except landed in the companion set, not in the block set.
      for (const s of fam.sets.filter((x) => x.members.some((m) => m.nomatch))) {
        const except = listed.sets.find((x) => x.name === exceptSetName(s.name));
        assert.equal(except?.elem?.length, s.members.filter((m) => m.nomatch).length);
      }
    }
    // Re-planning without the policy drops its chains and sets in the same kind of single transaction.
    const small = desired(false);
    for (const fam of small.families) n.exec('nft', ['-f', '-'], renderNft(fam));
    const v4 = listTable(n, 'ip', nftTableName('ipv4'));
    assert.deepEqual(v4.chains.map((c) => c.name).sort(), small.families[0]?.chains.map((c) => c.name).sort());
    assert.deepEqual(v4.sets.map((s) => s.name), ['kube-router-local-pods']);

    for (const fam of ['ipv4', 'ipv6'] as const) n.exec('nft', ['-f', '-'], renderNftDelete(fam));
    const tables = n.exec('nft', ['list', 'tables']);
    assert.doesNotMatch(tables, /kube-router/);
    assert.match(tables, /table inet foreign/);
    assert.match(n.exec('nft', ['list', 'set', 'inet', 'foreign', 'keep']), /198\.51\.100\.77/);
  } finally {
    n.delete();
  }
});

test('a listed table compares equal to the state it was rendered from, and any drift in sets, chains or rules is found', { skip }, () => {
  const n = new TestNetns('krt-np');
  try {
    const state = desired(true);
    for (const fam of state.families) n.exec('nft', ['-f', '-'], renderNft(fam));
    const listed = (fam: DesiredState['families'][number]) =>
      parseNftListing(n.exec('nft', ['-j', 'list', 'table', fam.family === 'ipv4' ? 'ip' : 'ip6', nftTableName(fam.family)]));
    for (const fam of state.families) assert.equal(nftTableDifference(listed(fam), nftTable(fam)), null, fam.family);

    const v4 = state.families.find((f) => f.family === 'ipv4');
    const v6 = state.families.find((f) => f.family === 'ipv6');
    assert.ok(v4 && v6);
    const t4 = `ip ${nftTableName('ipv4')}`;
    const withExcept = v4.sets.find((s) => s.members.some((m) => m.nomatch));
    const podSet = v4.sets.find((s) => s.type === 'hash:ip' && s.members.length > 0);
    const ruled = v4.chains.find((c) => c.rules.length > 1);
    assert.ok(withExcept && podSet && ruled);
    const drifts: [string, string][] = [
      [`add element ${t4} ${nftSetName(podSet.name)} { 198.51.100.99 }`, 'has other elements'],
      [`delete element ${t4} ${exceptSetName(withExcept.name)} { ${withExcept.members.find((m) => m.nomatch)?.entry} }`, 'has other elements'],
      [`flush chain ${t4} ${ruled.name}`, 'has other rules'],
      [`add rule ${t4} ${ruled.name} accept`, 'has other rules'],
      [`add chain ${t4} FOREIGN-IN-OUR-TABLE`, 'chains listed'],
      [`add set ${t4} foreign { type ipv4_addr; }`, 'sets listed'],
    ];
    for (const [command, found] of drifts) {
      n.exec('nft', ['-f', '-'], renderNft(v4));
      n.exec('nft', ['-f', '-'], `${command}\n`);
      assert.match(nftTableDifference(listed(v4), nftTable(v4)) ?? 'no difference', new RegExp(found), command);
    }
    // A rule whose text changed but kept its place is told apart by its fingerprint.
    n.exec('nft', ['-f', '-'], renderNft(v4));
    const handles = (JSON.parse(n.exec('nft', ['-j', '-a', 'list', 'chain', 'ip', nftTableName('ipv4'), ruled.name])) as { nftables: { rule?: { handle: number } }[] })
      .nftables.flatMap((i) => (i.rule ? [i.rule.handle] : []));
    n.exec('nft', ['replace', 'rule', 'ip', nftTableName('ipv4'), ruled.name, 'handle', String(handles[0]), 'accept']);
    assert.match(nftTableDifference(listed(v4), nftTable(v4)) ?? 'no difference', /has other rules/);
    assert.equal(nftTableDifference(listed(v6), nftTable(v6)), null, 'the other family is untouched');
  } finally {
    n.delete();
  }
});
