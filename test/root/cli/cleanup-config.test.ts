// `kube-router --cleanup-config` run in a node's namespace removes kube-router's own chains, jumps, ipsets and
// nftables tables, and leaves another tool's chain and set alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { TestNetns, isRoot } from '../../helpers/netns.ts';

const bin = new URL('../../../bin/kube-router.js', import.meta.url).pathname;
const built = existsSync(new URL('../../../dist/src/cli/main.js', import.meta.url));

test('--cleanup-config removes only what kube-router made', { skip: (!isRoot && 'needs root') || (!built && 'run `npm run build` first') }, () => {
  const ns = new TestNetns('krt-cc');
  try {
    ns.exec('ipset', ['restore'], [
      'create KUBE-SRC-ABCDEFGHIJKLMNOP hash:ip', 'add KUBE-SRC-ABCDEFGHIJKLMNOP 198.18.1.2',
      'create kube-router-pod-subnets hash:net', 'create kube-router-node-ips hash:ip',
      'create foreign-set hash:ip', 'add foreign-set 198.18.9.9', ''].join('\n'));
    ns.exec('iptables-restore', ['--noflush'], [
      '*filter', ':KUBE-ROUTER-FORWARD - [0:0]', ':KUBE-NWPLCY-ABCDEFGHIJKLMNOP - [0:0]', ':FOREIGN-FW - [0:0]',
      '-A FORWARD -m comment --comment "kube-router netpol - TEST" -j KUBE-ROUTER-FORWARD',
      '-A FORWARD -j FOREIGN-FW',
      '-A KUBE-ROUTER-FORWARD -m set --match-set KUBE-SRC-ABCDEFGHIJKLMNOP src -j KUBE-NWPLCY-ABCDEFGHIJKLMNOP',
      '-A FOREIGN-FW -m set --match-set foreign-set src -j ACCEPT', 'COMMIT',
      '*nat',
      '-A POSTROUTING -m set --match-set kube-router-pod-subnets src -m set ! --match-set kube-router-pod-subnets dst -m set ! --match-set kube-router-node-ips dst -j MASQUERADE --random-fully',
      'COMMIT', ''].join('\n'));
    ns.exec('nft', ['-f', '-'], 'table ip kube-router-filter-ipv4 {\n  chain input {\n    type filter hook input priority filter;\n  }\n}\ntable inet foreign {\n}\n');

    const r = spawnSync('ip', ['netns', 'exec', ns.name, process.execPath, bin, '--cleanup-config'], { encoding: 'utf8', env: { ...process.env, KUBE_ROUTER_LOG_LEVEL: 'silent' } });
    assert.equal(r.status, 0, r.stderr);

    const filter = ns.exec('iptables-save', ['-t', 'filter']);
    const nat = ns.exec('iptables-save', ['-t', 'nat']);
    const sets = ns.exec('ipset', ['list', '-n']).trim().split('\n').sort();
    const tables = ns.exec('nft', ['list', 'tables']);
    assert.doesNotMatch(filter, /KUBE-ROUTER-FORWARD|KUBE-NWPLCY-/);
    assert.doesNotMatch(nat, /kube-router-pod-subnets/);
    assert.match(filter, /-A FORWARD -j FOREIGN-FW/);
    assert.match(filter, /-A FOREIGN-FW -m set --match-set foreign-set src -j ACCEPT/);
    assert.deepEqual(sets, ['foreign-set']);
    assert.doesNotMatch(tables, /kube-router-filter-ipv4/);
    assert.match(tables, /table inet foreign/);
  } finally {
    ns.delete();
  }
});
