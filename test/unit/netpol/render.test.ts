// Renderer golden files (iptables-restore, ipset restore, nft) for a small fixed cluster, and round trips:
// rendered rules parse back into the same structured rules, ipset text back into the same sets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { config, policy, viewFor, world } from './fixtures.ts';
import { smallState } from './small-state.ts';
import { NAMESPACES, PODS } from './cases.ts';
import { diff, emptyFamily, ruleKey } from '../../../src/controllers/netpol/diff.ts';
import { plan } from '../../../src/controllers/netpol/plan.ts';
import { parseIpsetSave } from '../../../src/controllers/netpol/parse-ipset-save.ts';
import { parseIptablesSave, parseRuleArgs, tokenize } from '../../../src/controllers/netpol/parse-iptables-save.ts';
import { renderIptablesRestore, ruleArgs } from '../../../src/controllers/netpol/render-iptables.ts';
import { renderIpsetRestore } from '../../../src/controllers/netpol/render-ipset.ts';
import { renderNft } from '../../../src/controllers/netpol/render-nft.ts';

const GOLDEN = join(dirname(fileURLToPath(import.meta.url)), 'golden');

/** Compares with a golden file; UPDATE_GOLDEN=1 rewrites it (review the diff before committing). */
function golden(name: string, actual: string): void {
  const file = join(GOLDEN, name);
  if (process.env['UPDATE_GOLDEN'] === '1' || !existsSync(file)) {
    if (process.env['UPDATE_GOLDEN'] !== '1') assert.fail(`golden file ${name} missing (run with UPDATE_GOLDEN=1)`);
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(file, actual);
  }
  assert.equal(actual, readFileSync(file, 'utf8'));
}

test('iptables-restore, ipset and nft renderings match the golden files', () => {
  const desired = smallState();
  for (const ch of diff(desired, {})) {
    golden(`${ch.family}.iptables-restore`, renderIptablesRestore(ch.iptables));
    golden(`${ch.family}.ipset-restore`, renderIpsetRestore(ch.ipset));
  }
  for (const fam of desired.families) golden(`${fam.family}.nft`, renderNft(fam));
});

test('every planned rule renders to arguments that parse back to the same rule', () => {
  const policies = [policy('prod', 'mixed', { podSelector: {}, policyTypes: ['Ingress', 'Egress'],
    ingress: [{ from: [{ namespaceSelector: {}, podSelector: { matchLabels: { app: 'web' } } }], ports: [{ protocol: 'SCTP' }, { port: 'http' }] }],
    egress: [{ to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['198.19.0.0/16'] } }], ports: [{ port: 1, endPort: 1024, protocol: 'UDP' }] }] })];
  const desired = plan(viewFor(world({ pods: PODS, namespaces: NAMESPACES, policies, config: config({ defaultDeny: true }) })));
  const states = [...desired.families, ...smallState().families];
  let count = 0;
  for (const fam of states) {
    for (const chain of fam.chains) {
      for (const rule of chain.rules) {
        const parsed = parseRuleArgs(tokenize(ruleArgs(rule, fam.family)));
        assert.ok(parsed, ruleArgs(rule, fam.family));
        assert.equal(ruleKey(parsed), ruleKey(rule));
        count++;
      }
    }
  }
  assert.ok(count > 50);
});

test('parsing the rendered restore text as if saved yields an empty diff', () => {
  const desired = smallState();
  for (const ch of diff(desired, {})) {
    const fam = desired.families.find((f) => f.family === ch.family);
    assert.ok(fam);
    // What iptables-save prints after the restore: builtin chains with our jumps, then our chains.
    const text = renderIptablesRestore(ch.iptables).replace(/^-I (\w+) 1 /gm, '-A $1 ').replace(/^-F .*\n/gm, '');
    const ipsetText = renderIpsetRestore(ch.ipset).replace(/^create (\S+) (\S+) family (\S+)$/gm, 'create $1 $2 family $3 hashsize 1024 maxelem 65536');
    const again = diff({ families: [fam], rejections: [] }, { [ch.family]: { iptables: parseIptablesSave(text), sets: parseIpsetSave(ipsetText) } })[0];
    assert.deepEqual(again?.iptables.refill, []);
    assert.deepEqual(again?.iptables.insertBuiltin, []);
    assert.deepEqual(again?.ipset.create, []);
    assert.deepEqual(again?.ipset.add, []);
    assert.deepEqual(again?.ipset.del, []);
  }
});

test('ipset save parsing keeps only our sets, canonicalises members and keeps nomatch', () => {
  const text = [
    'create foreign-set hash:ip family inet hashsize 1024 maxelem 65536',
    'add foreign-set 10.0.0.1',
    'create KUBE-SRC-AAAA hash:net family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x1',
    'add KUBE-SRC-AAAA 198.19.9.0/24 nomatch',
    'add KUBE-SRC-AAAA 198.19.0.0/16',
    'add KUBE-SRC-AAAA 1.2.3.4',
    'create inet6:KUBE-DST-BBBB hash:ip family inet6 hashsize 1024 maxelem 65536',
    'add inet6:KUBE-DST-BBBB 2001:0db8:0000::0001',
  ].join('\n');
  const sets = parseIpsetSave(text);
  assert.deepEqual([...sets.keys()], ['KUBE-SRC-AAAA', 'inet6:KUBE-DST-BBBB']);
  assert.deepEqual(sets.get('KUBE-SRC-AAAA')?.members, [{ entry: '1.2.3.4' }, { entry: '198.19.0.0/16' }, { entry: '198.19.9.0/24', nomatch: true }]);
  assert.deepEqual(sets.get('inet6:KUBE-DST-BBBB')?.members, [{ entry: '2001:db8::1' }]);
  assert.equal(sets.get('inet6:KUBE-DST-BBBB')?.family, 'ipv6');
});

test('iptables-save parsing ignores foreign chains and reads our builtin jumps', () => {
  const text = [
    '*nat', ':PREROUTING ACCEPT [0:0]', '-A PREROUTING -j KUBE-POD-FW-NOTFILTER', 'COMMIT',
    '*filter', ':INPUT ACCEPT [0:0]', ':FORWARD DROP [0:0]', ':OTHER-CHAIN - [0:0]', ':KUBE-POD-FW-X - [0:0]',
    '-A INPUT -m comment --comment "kube-router netpol - X" -j KUBE-ROUTER-INPUT',
    '-A INPUT -j OTHER-CHAIN', '-A OTHER-CHAIN -j ACCEPT',
    '-A KUBE-POD-FW-X -m frag --fragid 1 -j ACCEPT', 'COMMIT',
  ].join('\n');
  const o = parseIptablesSave(text);
  assert.deepEqual([...o.chains.keys()], ['KUBE-POD-FW-X']);
  assert.deepEqual(o.chains.get('KUBE-POD-FW-X'), [null]);
  assert.deepEqual(o.builtinJumps.map((j) => [j.builtin, j.target, j.rule?.match.comment]), [['INPUT', 'KUBE-ROUTER-INPUT', 'kube-router netpol - X']]);
});

test('diffing against nothing desired removes our chains, jumps and sets', () => {
  const desired = smallState();
  const fam = desired.families[0];
  assert.ok(fam);
  const ch = diff(desired, {})[0];
  assert.ok(ch);
  const saved = renderIptablesRestore(ch.iptables).replace(/^-I (\w+) 1 /gm, '-A $1 ');
  const observed = { iptables: parseIptablesSave(saved), sets: parseIpsetSave(renderIpsetRestore(ch.ipset)) };
  const cleanup = diff({ families: [emptyFamily('ipv4')], rejections: [] }, { ipv4: observed })[0];
  assert.deepEqual(cleanup?.iptables.remove, fam.chains.map((c) => c.name));
  assert.deepEqual(cleanup?.iptables.deleteBuiltin.map((d) => d.builtin), ['INPUT', 'FORWARD', 'OUTPUT']);
  assert.deepEqual(cleanup?.ipset.destroy, fam.sets.map((s) => s.name));
});

test("every set name fits ipset's 31-character limit, in both families", () => {
  const desired = smallState();
  const names = desired.families.flatMap((f) => f.sets.map((s) => s.name));
  assert.ok(names.some((n) => n.startsWith('inet6:KUBE-')));
  for (const n of names) assert.ok(n.length <= 31, n);
});
