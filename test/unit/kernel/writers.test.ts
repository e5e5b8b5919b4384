// The shared kernel writers without a kernel: what they render for iptables-restore, ipset restore, nft and
// sysctl, which tool and arguments they run, and how they read typed failures (absent table, absent rule).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ok } from '../../../src/result.ts';
import {
  chainRules, detectIptablesMode, iptablesRestore, iptablesTool, quoteArg, renderRestore, ruleExists,
} from '../../../src/kernel/iptables.ts';
import { familySetName, hashSizeOptions, IPSET_NAME_MAX, ipsetRestore, renderIpsetScript, tmpSetName } from '../../../src/kernel/ipset.ts';
import { nftApply, nftListTable } from '../../../src/kernel/nft.ts';
import { readSysctl, writeSysctls } from '../../../src/kernel/sysctl.ts';
import { fails, recordingExec } from '../../helpers/fake-exec.ts';

test('iptables tools are named by family, mode and verb', () => {
  assert.equal(iptablesTool({ family: 4 }, 'restore'), 'iptables-restore');
  assert.equal(iptablesTool({ family: 6, mode: 'legacy' }, 'save'), 'ip6tables-legacy-save');
  assert.equal(iptablesTool({ family: 4, mode: 'nft' }), 'iptables-nft');
});

test('a restore transaction declares and flushes only the chains it fills or removes, in a fixed order per table', () => {
  const text = renderRestore([
    { table: 'filter', fill: [{ chain: 'KUBE-ROUTER-SERVICES', rules: [['-p', 'icmp', '-j', 'ACCEPT'], ['-m', 'comment', '--comment', 'allow "svc" ports', '-j', 'ACCEPT']] }],
      insert: [{ chain: 'INPUT', position: 1, rule: ['-m', 'set', '--match-set', 'kube-router-svip', 'dst', '-j', 'KUBE-ROUTER-SERVICES'] }],
      delete: [{ chain: 'INPUT', rule: ['-j', 'KUBE-OLD'] }], remove: ['KUBE-OLD'] },
    { table: 'nat', append: [{ chain: 'POSTROUTING', rule: ['-j', 'MASQUERADE'] }] },
    { table: 'mangle' },
  ]);
  assert.equal(text, [
    '*filter',
    ':KUBE-ROUTER-SERVICES - [0:0]', ':KUBE-OLD - [0:0]', '-F KUBE-ROUTER-SERVICES', '-F KUBE-OLD',
    '-D INPUT -j KUBE-OLD',
    '-A KUBE-ROUTER-SERVICES -p icmp -j ACCEPT',
    '-A KUBE-ROUTER-SERVICES -m comment --comment "allow \\"svc\\" ports" -j ACCEPT',
    '-I INPUT 1 -m set --match-set kube-router-svip dst -j KUBE-ROUTER-SERVICES',
    '-X KUBE-OLD',
    'COMMIT',
    '*nat', '-A POSTROUTING -j MASQUERADE', 'COMMIT', '',
  ].join('\n'));
  assert.equal(renderRestore([{ table: 'filter' }]), '', 'an empty edit renders nothing');
  assert.equal(quoteArg('a\\b'), '"a\\\\b"');
  assert.equal(quoteArg(''), '""');
});

test('iptablesRestore runs one -w --noflush restore of the family and mode, and nothing for an empty transaction', async () => {
  const exec = recordingExec();
  assert.ok((await iptablesRestore(exec, { family: 6, mode: 'legacy' }, [{ table: 'nat', append: [{ chain: 'POSTROUTING', rule: ['-j', 'MASQUERADE'] }] }])).ok);
  assert.ok((await iptablesRestore(exec, { family: 4 }, [])).ok);
  assert.deepEqual(exec.calls, [{ cmd: 'ip6tables-legacy-restore', args: ['-w', '--noflush'], input: '*nat\n-A POSTROUTING -j MASQUERADE\nCOMMIT\n' }]);
});

test('chainRules keeps only the wanted chains of an iptables-save text, empty ones included', () => {
  const saved = ['# Generated', '*nat', ':PREROUTING ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]', ':FOREIGN - [0:0]', ':KUBE-EMPTY - [0:0]',
    '-A POSTROUTING -j FOREIGN', '-A POSTROUTING -m set --match-set a src -j MASQUERADE --random-fully', '-A FOREIGN -j RETURN', 'COMMIT'].join('\n');
  const chains = chainRules(saved, (c) => c === 'POSTROUTING' || c === 'KUBE-EMPTY' || c === 'ABSENT');
  assert.deepEqual([...chains], [
    ['POSTROUTING', ['-j FOREIGN', '-m set --match-set a src -j MASQUERADE --random-fully']],
    ['KUBE-EMPTY', []],
  ]);
});

test('ruleExists reads "no such rule" and an absent set as false, and passes other failures on', async () => {
  const args = ['-w', '-t', 'nat', '-C', 'POSTROUTING', '-j', 'MASQUERADE'];
  const answers = [
    ok(''),
    fails('iptables', args, 1, 'iptables: Bad rule (does a matching rule exist in that chain?).\n'),
    fails('iptables', args, 2, "iptables v1.8.9 (nf_tables): Set kube-router-pod-subnets doesn't exist.\n"),
    fails('iptables', args, 4, 'Another app is currently holding the xtables lock. Perhaps you want to use the -w option?\n'),
  ];
  const exec = recordingExec(() => answers.shift() ?? ok(''));
  const results = [];
  for (let i = 0; i < 4; i++) results.push(await ruleExists(exec, { family: 4 }, 'nat', 'POSTROUTING', ['-j', 'MASQUERADE']));
  assert.deepEqual(results.slice(0, 3), [ok(true), ok(false), ok(false)]);
  assert.ok(!results[3]!.ok && results[3]!.error.kind === 'xtables-lock');
  assert.deepEqual(exec.calls[0]?.args, args);
});

test('the iptables mode comes from `iptables -V`; output naming neither mode is unexpected-output', async () => {
  assert.deepEqual(await detectIptablesMode(recordingExec(() => ok('iptables v1.8.9 (nf_tables)\n'))), ok('nft'));
  assert.deepEqual(await detectIptablesMode(recordingExec(() => ok('iptables v1.8.9 (legacy)\n'))), ok('legacy'));
  const odd = await detectIptablesMode(recordingExec(() => ok('iptables v1.4.21\n')));
  assert.ok(!odd.ok && odd.error.kind === 'unexpected-output');
});

test('temporary set names fit ipset\'s limit and differ per set', () => {
  const longest = familySetName('x'.repeat(IPSET_NAME_MAX - 6), 6);
  assert.equal(longest.length, IPSET_NAME_MAX);
  const names = [longest, 'kube-router-svip', 'inet6:kube-router-svip', 'kube-router-svip-prt'].map(tmpSetName);
  assert.ok(names.every((n) => /^KUBE-TMP-[0-9a-f]{16}$/.test(n) && n.length <= IPSET_NAME_MAX));
  assert.equal(new Set(names).size, names.length);
});

test('an ipset script creates, replaces through a fresh temporary, adds, deletes and destroys with its temporary', () => {
  const svip = { name: 'kube-router-svip-prt', type: 'hash:ip,port', family: 4 as const, options: ['timeout', '0'] };
  const tmp = tmpSetName(svip.name);
  const text = renderIpsetScript([
    { op: 'create', set: svip, members: [{ entry: '198.18.0.10,tcp:80' }] },
    { op: 'replace', set: svip, members: [{ entry: '198.18.0.10,tcp:80' }, { entry: '198.18.0.11,132:9' }] },
    { op: 'add', set: 'inet6:kube-router-svip', entry: { entry: '2001:db8::10' } },
    { op: 'add', set: 'KUBE-SRC-X', entry: { entry: '198.18.0.0/16', nomatch: true } },
    { op: 'del', set: 'kube-router-svip', entry: '198.18.0.12' },
    { op: 'destroy', set: 'kube-router-local-ips' },
  ]);
  assert.equal(text, [
    'create kube-router-svip-prt hash:ip,port family inet timeout 0', 'add kube-router-svip-prt 198.18.0.10,tcp:80',
    `destroy ${tmp}`, `create ${tmp} hash:ip,port family inet timeout 0`, `add ${tmp} 198.18.0.10,tcp:80`, `add ${tmp} 198.18.0.11,132:9`,
    `swap ${tmp} kube-router-svip-prt`, `destroy ${tmp}`,
    'add inet6:kube-router-svip 2001:db8::10',
    'add KUBE-SRC-X 198.18.0.0/16 nomatch',
    'del kube-router-svip 198.18.0.12',
    'destroy kube-router-local-ips', `destroy ${tmpSetName('kube-router-local-ips')}`, '',
  ].join('\n'));
  assert.equal(renderIpsetScript([]), '');
});

test('a big set is created with a table for its members (a power of two, at least half their count); small ones keep the default', () => {
  assert.deepEqual(hashSizeOptions(0), []);
  assert.deepEqual(hashSizeOptions(2048), []);
  assert.deepEqual(hashSizeOptions(2049), ['hashsize', '2048']);
  assert.deepEqual(hashSizeOptions(17_000), ['hashsize', '16384']);
  assert.deepEqual(hashSizeOptions(50_000), ['hashsize', '32768']);
});

test('ipsetRestore runs `ipset -exist restore` once, and nothing for no operations', async () => {
  const exec = recordingExec();
  assert.ok((await ipsetRestore(exec, [])).ok);
  assert.ok((await ipsetRestore(exec, [{ op: 'destroy', set: 'a' }])).ok);
  assert.deepEqual(exec.calls.map((c) => [c.cmd, ...c.args].join(' ')), ['ipset -exist restore']);
});

test('nft: a transaction is one `nft -f -`; an absent table lists as undefined, other failures stay errors', async () => {
  const exec = recordingExec(({ args }) => (args.includes('gone') ? fails('nft', args, 1, 'Error: No such file or directory\n') : args.includes('bad') ? fails('nft', args, 1, 'Error: syntax error\n') : ok('{}')));
  assert.ok((await nftApply(exec, 'table ip t {}\n')).ok);
  assert.ok((await nftApply(exec, '')).ok);
  assert.deepEqual(await nftListTable(exec, 'ip', 'gone'), ok(undefined));
  assert.deepEqual(await nftListTable(exec, 'ip', 'here', 'json'), ok('{}'));
  const bad = await nftListTable(exec, 'ip', 'bad');
  assert.ok(!bad.ok && bad.error.kind === 'exit');
  assert.deepEqual(exec.calls.map((c) => [c.cmd, ...c.args].join(' ')), ['nft -f -', 'nft list table ip gone', 'nft -j list table ip here', 'nft list table ip bad']);
});

test('sysctl: each setting is one `sysctl -q -w`, failures do not stop the rest, and a malformed name is a bug', async () => {
  const exec = recordingExec(({ args }) => (args.some((a) => a.startsWith('net.bridge.')) ? fails('sysctl', args, 255, 'sysctl: cannot stat /proc/sys/net/bridge/bridge-nf-call-iptables: No such file or directory\n') : ok('')));
  const errors = await writeSysctls(exec, [
    { key: 'net.bridge.bridge-nf-call-iptables', value: 1 }, { key: 'net.ipv4.vs.conntrack', value: 1 },
  ]);
  assert.deepEqual(errors.map((e) => e.kind), ['object-not-found']);
  await assert.rejects(writeSysctls(exec, [{ key: '-p', value: 1 }]), /invalid setting/);
  assert.deepEqual(exec.calls.map((c) => c.args.join(' ')), ['-q -w net.bridge.bridge-nf-call-iptables=1', '-q -w net.ipv4.vs.conntrack=1']);
  assert.deepEqual(await readSysctl(recordingExec(() => ok('1\n')), 'net.ipv4.ip_forward'), ok('1'));
});
