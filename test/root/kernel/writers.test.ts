// The shared kernel writers against real kernel state in fresh network namespaces: iptables-restore --noflush
// (both userspaces), ipset restore, nft -f and sysctl write exactly what they are given, read back only what
// they are asked about, report typed failures, and leave another tool's chain, set and table alone.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { haveCommand, isRoot, TestNetns } from '../../helpers/netns.ts';
import { processExec } from '../../../src/kernel/exec.ts';
import {
  firstRule, iptablesRestore, iptablesTool, listChain, readChains, ruleExists, type IptablesMode, type TableEdit,
} from '../../../src/kernel/iptables.ts';
import { hashSizeOptions, ipsetRestore, listSetNames, saveSets, tmpSetName, type IpsetSpec } from '../../../src/kernel/ipset.ts';
import { nftApply, nftListTable } from '../../../src/kernel/nft.ts';
import { readSysctl, writeSysctls } from '../../../src/kernel/sysctl.ts';

const skip = !isRoot || !haveCommand('ipset') || !haveCommand('iptables-restore') || !haveCommand('nft') ? 'needs root, ipset, iptables and nft' : false;

const SERVICES = 'KUBE-ROUTER-SERVICES';
const jump = ['-m', 'set', '--match-set', 'kube-router-svip', 'dst', '-j', SERVICES];
// (The proxy's real rule matches `-m ipvs`, which only the VM's kernel has.)
const masquerade = ['-s', '198.18.0.0/16', '!', '-d', '198.18.0.0/16', '-m', 'comment', '--comment', 'kube-router masquerade', '-j', 'MASQUERADE'];

for (const mode of ['nft', 'legacy'] as const satisfies readonly IptablesMode[]) {
  describe(`iptables-restore writer [${mode}]`, { skip }, () => {
    let ns: TestNetns;
    const target = { family: 4 as const, mode };
    const save = (table: string): string => ns.exec(iptablesTool(target, 'save'), ['-t', table]).split('\n').filter((l) => !l.startsWith('#')).join('\n');

    before(() => {
      ns = new TestNetns('krt-kw');
      ns.exec('ipset', ['create', 'kube-router-svip', 'hash:ip']);
      ns.exec(iptablesTool(target, 'restore'), ['--noflush'], '*filter\n:FOREIGN - [0:0]\n-A FOREIGN -j RETURN\n-A INPUT -j FOREIGN\nCOMMIT\n*nat\n-A POSTROUTING -s 198.18.50.0/24 -j MASQUERADE\nCOMMIT\n');
    });
    after(() => ns?.delete());

    it('writes our chain, jump and nat rule in one transaction and reads back only what it is asked about', async () => {
      const exec = processExec(ns.name);
      const edits: TableEdit[] = [
        { table: 'filter', fill: [{ chain: SERVICES, rules: [['-p', 'icmp', '-j', 'ACCEPT'], ['-m', 'comment', '--comment', 'allow svc ports', '-j', 'ACCEPT']] }],
          insert: [{ chain: 'INPUT', position: 1, rule: jump }] },
        { table: 'nat', append: [{ chain: 'POSTROUTING', rule: masquerade }] },
      ];
      assert.deepEqual(await iptablesRestore(exec, target, edits), { ok: true, value: undefined });
      const chains = await readChains(exec, target, 'filter', [SERVICES, 'INPUT']);
      assert.ok(chains.ok);
      assert.deepEqual([...chains.value], [
        ['INPUT', ['-m set --match-set kube-router-svip dst -j KUBE-ROUTER-SERVICES', '-j FOREIGN']],
        [SERVICES, ['-p icmp -j ACCEPT', '-m comment --comment "allow svc ports" -j ACCEPT']],
      ]);
      assert.deepEqual(await firstRule(exec, target, 'filter', 'INPUT'), { ok: true, value: '-m set --match-set kube-router-svip dst -j KUBE-ROUTER-SERVICES' });
      assert.deepEqual(await ruleExists(exec, target, 'nat', 'POSTROUTING', masquerade), { ok: true, value: true });
      assert.deepEqual(await ruleExists(exec, target, 'nat', 'POSTROUTING', ['-j', 'SNAT', '--to-source', '198.51.100.1']), { ok: true, value: false });
      assert.match(save('nat'), /^-A POSTROUTING -s 198\.18\.50\.0\/24 -j MASQUERADE$/m);
    });

    it('refilling our chain replaces its rules; removing it and its jump leaves the foreign chain and rules', async () => {
      const exec = processExec(ns.name);
      assert.ok((await iptablesRestore(exec, target, [{ table: 'filter', fill: [{ chain: SERVICES, rules: [['-j', 'REJECT']] }] }])).ok);
      assert.deepEqual(await listChain(exec, target, 'filter', SERVICES), { ok: true, value: ['-j REJECT --reject-with icmp-port-unreachable'] });
      assert.ok((await iptablesRestore(exec, target, [
        { table: 'filter', delete: [{ chain: 'INPUT', rule: jump }], remove: [SERVICES] },
        { table: 'nat', delete: [{ chain: 'POSTROUTING', rule: masquerade }] },
      ])).ok);
      assert.equal(save('filter').includes(SERVICES), false);
      assert.equal(save('nat').includes('kube-router masquerade'), false);
      assert.match(save('filter'), /^-A INPUT -j FOREIGN$/m);
      assert.match(save('filter'), /^-A FOREIGN -j RETURN$/m);
      assert.match(save('nat'), /^-A POSTROUTING -s 198\.18\.50\.0\/24 -j MASQUERADE$/m);
    });

    it('a failing transaction changes nothing and is a typed error', async () => {
      const exec = processExec(ns.name);
      const before = save('filter');
      const r = await iptablesRestore(exec, target, [{ table: 'filter', fill: [{ chain: SERVICES, rules: [['-j', 'ACCEPT']] }], delete: [{ chain: 'INPUT', rule: ['-j', 'NOT-THERE'] }] }]);
      assert.ok(!r.ok);
      assert.equal(r.error.kind, 'exit');
      assert.equal(r.error.tool, iptablesTool(target, 'restore'));
      assert.equal(save('filter'), before);
    });
  });
}

describe('ipset writer', { skip }, () => {
  let ns: TestNetns;
  const members = (set: string): string[] => {
    const out = ns.exec('ipset', ['list', set]);
    return out.slice(out.indexOf('Members:') + 'Members:'.length).trim().split('\n').filter((l) => l !== '').sort();
  };
  const svip: IpsetSpec = { name: 'kube-router-svip', type: 'hash:ip', family: 4, options: ['timeout', '0'] };
  const svipPort: IpsetSpec = { name: 'kube-router-svip-prt', type: 'hash:ip,port', family: 4, options: ['timeout', '0'] };
  const svip6: IpsetSpec = { name: 'inet6:kube-router-svip', type: 'hash:ip', family: 6, options: ['timeout', '0'] };

  before(() => {
    ns = new TestNetns('krt-kw');
    ns.exec('ipset', ['create', 'foreign-set', 'hash:ip']);
    ns.exec('ipset', ['add', 'foreign-set', '198.51.100.77']);
    // A temporary a failed run left behind, of another type than the set it stands in for.
    ns.exec('ipset', ['create', tmpSetName(svipPort.name), 'hash:net']);
  });
  after(() => ns?.delete());

  it('creates sets with members, replaces a set whole, adds and deletes members incrementally', async () => {
    const exec = processExec(ns.name);
    assert.ok((await ipsetRestore(exec, [
      { op: 'create', set: svip, members: [{ entry: '198.18.0.10' }] },
      { op: 'create', set: svipPort },
      { op: 'replace', set: svipPort, members: [{ entry: '198.18.0.10,tcp:80' }, { entry: '198.18.0.10,132:9' }] },
      { op: 'create', set: svip6, members: [{ entry: '2001:db8::10' }] },
    ])).ok);
    assert.deepEqual(members(svipPort.name), ['198.18.0.10,sctp:9 timeout 0', '198.18.0.10,tcp:80 timeout 0']);
    assert.ok((await ipsetRestore(exec, [
      { op: 'add', set: svip.name, entry: { entry: '198.18.0.11' } }, { op: 'del', set: svip.name, entry: '198.18.0.10' },
      { op: 'del', set: svip.name, entry: '198.18.0.99' }, { op: 'add', set: svip.name, entry: { entry: '198.18.0.11' } },
    ])).ok, 'deleting an absent member and adding a present one are no-ops');
    assert.deepEqual(members(svip.name), ['198.18.0.11 timeout 0']);
    const names = await listSetNames(exec);
    assert.ok(names.ok);
    assert.deepEqual(names.value.filter((n) => n.startsWith('KUBE-TMP-')), [], 'no temporaries left');
    const saved = await saveSets(exec, [svip6.name]);
    assert.ok(saved.ok);
    assert.match(saved.value, /^add inet6:kube-router-svip 2001:db8::10/m);
    assert.doesNotMatch(saved.value, /foreign-set|kube-router-svip-prt/);
  });

  it('a big set (over a MiB of restore input) is created at its size, streamed in one restore; an existing one with another hashsize is kept', async () => {
    const exec = processExec(ns.name);
    const big: IpsetSpec = { name: 'KUBE-SRC-BIGSETTESTBIGSET', type: 'hash:ip', family: 4, options: hashSizeOptions(40_000) };
    const entries = Array.from({ length: 40_000 }, (_, i) => ({ entry: `198.18.${i >> 8}.${i & 255}` }));
    assert.ok((await ipsetRestore(exec, [{ op: 'create', set: big, members: entries }])).ok);
    const header = ns.exec('ipset', ['list', '-t', big.name]);
    assert.match(header, /hashsize 32768 /);
    assert.match(header, /Number of entries: 40000/);
    // -exist: the same set asked for at another size is the same set (a re-run after a partial failure)
    assert.ok((await ipsetRestore(exec, [{ op: 'create', set: { ...big, options: hashSizeOptions(3000) } }])).ok);
    assert.match(ns.exec('ipset', ['list', '-t', big.name]), /Number of entries: 40000/);
    assert.ok((await ipsetRestore(exec, [{ op: 'destroy', set: big.name }])).ok);
  });

  it('destroys only the sets it names (absent ones are no-ops), and never a set still in use', async () => {
    const exec = processExec(ns.name);
    ns.exec('iptables', ['-w', '-A', 'INPUT', '-m', 'set', '--match-set', svip.name, 'dst', '-j', 'ACCEPT']);
    const inUse = await ipsetRestore(exec, [{ op: 'destroy', set: svip.name }]);
    assert.equal(inUse.ok ? 'ok' : inUse.error.kind, 'exit');
    assert.deepEqual(members(svip.name), ['198.18.0.11 timeout 0'], 'a set in use keeps its members');
    ns.exec('iptables', ['-w', '-D', 'INPUT', '-m', 'set', '--match-set', svip.name, 'dst', '-j', 'ACCEPT']);
    assert.ok((await ipsetRestore(exec, [svip, svipPort, svip6, { name: 'kube-router-local-ips' }].map((s) => ({ op: 'destroy' as const, set: s.name })))).ok);
    const names = await listSetNames(exec);
    assert.deepEqual(names, { ok: true, value: ['foreign-set'] });
    assert.deepEqual(members('foreign-set'), ['198.51.100.77']);
  });
});

describe('nft writer, sysctl and tools inside a namespace', { skip }, () => {
  let ns: TestNetns;
  before(() => {
    ns = new TestNetns('krt-kw');
    ns.exec('nft', ['add', 'table', 'inet', 'foreign']);
  });
  after(() => ns?.delete());

  it('applies a transaction, lists our table by name, and reads an absent one as undefined', async () => {
    const exec = processExec(ns.name);
    assert.deepEqual(await nftListTable(exec, 'ip', 'kube-router-test'), { ok: true, value: undefined });
    assert.ok((await nftApply(exec, 'table ip kube-router-test {\n  set svip {\n    type ipv4_addr\n    elements = { 198.18.0.10 }\n  }\n}\n')).ok);
    const listed = await nftListTable(exec, 'ip', 'kube-router-test');
    assert.ok(listed.ok);
    assert.match(listed.value ?? '', /elements = \{ 198\.18\.0\.10 \}/);
    // A jump to a chain that does not exist names a missing object; a syntax error is a plain failure.
    const missing = await nftApply(exec, 'table ip kube-router-test {\n  chain c {\n    jump nowhere\n  }\n}\n');
    assert.equal(missing.ok ? 'ok' : missing.error.kind, 'object-not-found');
    const bad = await nftApply(exec, 'table ip kube-router-test {\n  chian c {\n  }\n}\n');
    assert.equal(bad.ok ? 'ok' : bad.error.kind, 'exit');
    assert.ok((await nftApply(exec, 'delete table ip kube-router-test\n')).ok);
    assert.match(ns.exec('nft', ['list', 'tables']), /table inet foreign/);
  });

  it('sysctls are written in the namespace only; an unknown one is object-not-found', async () => {
    const exec = processExec(ns.name);
    const host = await readSysctl(processExec(), 'net.ipv4.conf.all.forwarding');
    assert.ok(host.ok);
    const wanted = host.value === '1' ? '0' : '1';
    assert.deepEqual(await writeSysctls(exec, [{ key: 'net.ipv4.conf.all.forwarding', value: wanted }]), []);
    assert.deepEqual(await readSysctl(exec, 'net.ipv4.conf.all.forwarding'), { ok: true, value: wanted });
    assert.deepEqual(await readSysctl(processExec(), 'net.ipv4.conf.all.forwarding'), host, 'the host is untouched');
    const [unknown] = await writeSysctls(exec, [{ key: 'net.ipv4.krt-no-such-parameter', value: 1 }]);
    assert.equal(unknown?.kind, 'object-not-found');
  });

  it('a tool missing inside the namespace is tool-not-found', async () => {
    const r = await processExec(ns.name).run('krt-no-such-tool', []);
    assert.ok(!r.ok);
    assert.equal(r.error.kind, 'tool-not-found');
  });
});
