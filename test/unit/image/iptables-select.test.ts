// The image's iptables variant decision (deploy/image/iptables-select --decide): which of legacy and nf_tables
// holds the host's rules, from counts of kubelet's hint chains, KUBE-* rules and all rules in each.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const script = new URL('../../../deploy/image/iptables-select', import.meta.url).pathname;

interface Counts { legacyHints: number; nftHints: number; legacyKube: number; nftKube: number; legacyAll: number; nftAll: number }
const none: Counts = { legacyHints: 0, nftHints: 0, legacyKube: 0, nftKube: 0, legacyAll: 0, nftAll: 0 };

function decide(c: Partial<Counts>): string {
  const n = { ...none, ...c };
  const args = [n.legacyHints, n.nftHints, n.legacyKube, n.nftKube, n.legacyAll, n.nftAll].map(String);
  const r = spawnSync('bash', [script, '--decide', ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split(' ')[0] ?? '';
}

const cases: { name: string; counts: Partial<Counts>; want: 'legacy' | 'nft' }[] = [
  { name: 'an empty host gets nf_tables', counts: {}, want: 'nft' },
  { name: "kubelet's hint in legacy wins over more rules in nf_tables", counts: { legacyHints: 1, nftKube: 50, nftAll: 80 }, want: 'legacy' },
  { name: "kubelet's hint in nf_tables wins over more rules in legacy", counts: { nftHints: 2, legacyKube: 40, legacyAll: 90 }, want: 'nft' },
  { name: 'hints in both: nf_tables (a kubelet that moved to nft left its old legacy hint)', counts: { legacyHints: 1, nftHints: 1 }, want: 'nft' },
  { name: 'more KUBE-* rules in legacy wins over more rules of any kind in nf_tables', counts: { legacyKube: 5, nftKube: 1, legacyAll: 5, nftAll: 300 }, want: 'legacy' },
  { name: 'more KUBE-* rules in nf_tables', counts: { legacyKube: 2, nftKube: 9, legacyAll: 20, nftAll: 9 }, want: 'nft' },
  { name: 'no KUBE-* rules: the variant with more rules', counts: { legacyAll: 3, nftAll: 1 }, want: 'legacy' },
  { name: 'equal rule counts: nf_tables', counts: { legacyKube: 4, nftKube: 4, legacyAll: 7, nftAll: 7 }, want: 'nft' },
];

for (const c of cases) {
  test(`iptables variant: ${c.name}`, () => {
    assert.equal(decide(c.counts), c.want);
  });
}

test('iptables variant: KUBE_ROUTER_IPTABLES_MODE overrides detection, and a bad value is refused', () => {
  const forced = spawnSync('bash', [script, '--print'], { encoding: 'utf8', env: { ...process.env, KUBE_ROUTER_IPTABLES_MODE: 'legacy' } });
  assert.equal(forced.status, 0, forced.stderr);
  assert.match(forced.stdout, /^legacy /);
  const bad = spawnSync('bash', [script, '--print'], { encoding: 'utf8', env: { ...process.env, KUBE_ROUTER_IPTABLES_MODE: 'both' } });
  assert.equal(bad.status, 2);
});
