// The netpol controller against the real kernel of a test namespace (both iptables userspaces and the nft
// backend): it adopts existing rules without rewriting them, repairs drift on a full sync, applies a pod
// label change as set deltas only, leaves foreign chains/sets/tables alone, and cleans the other backend.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { TestNetns, haveCommand, isRoot } from '../../helpers/netns.ts';
import { pod } from '../../unit/netpol/fixtures.ts';
import { iptablesTool } from '../../../src/controllers/netpol/apply-iptables.ts';
import { CHAIN_COMMON, type Family } from '../../../src/controllers/netpol/model.ts';
import { nftTableName } from '../../../src/controllers/netpol/render-nft.ts';
import type { SyncReport } from '../../../src/controllers/netpol/sync-backends.ts';
import { backendName, iptablesSnapshot, newController, nftSnapshot, recordingNetnsExec, shopCluster, writes, type Backend } from './controller-harness.ts';
import type { NetpolExec } from '../../../src/controllers/netpol/apply-exec.ts';

const skip = !isRoot || !haveCommand('ipset') || !haveCommand('iptables-legacy-restore') || !haveCommand('nft') ? 'needs root, ipset, iptables, nft' : false;

const IPT_BACKENDS: Backend[] = [{ kind: 'iptables', mode: 'nft' }, { kind: 'iptables', mode: 'legacy' }];

function addForeign(n: TestNetns, b: Backend): void {
  n.exec('ipset', ['create', 'foreign-set', 'hash:ip']);
  n.exec('ipset', ['add', 'foreign-set', '198.51.100.77']);
  n.exec(iptablesTool(b.mode, 'ipv4', 'restore'), ['--noflush'],
    '*filter\n:FOREIGN-CHAIN - [0:0]\n-A FOREIGN-CHAIN -m set --match-set foreign-set src -j ACCEPT\n-A INPUT -j FOREIGN-CHAIN\nCOMMIT\n');
  n.exec('nft', ['-f', '-'], 'table inet foreign {\n chain c {\n  type filter hook input priority 0; policy accept;\n  ip saddr 198.51.100.78 accept\n }\n}\n');
}

function assertForeignIntact(n: TestNetns, b: Backend): void {
  const save = n.exec(iptablesTool(b.mode, 'ipv4', 'save'), ['-t', 'filter']);
  assert.match(save, /^-A FOREIGN-CHAIN -m set --match-set foreign-set src -j ACCEPT$/m);
  assert.match(save, /^-A INPUT -j FOREIGN-CHAIN$/m);
  assert.match(n.exec('ipset', ['list', 'foreign-set']), /198\.51\.100\.77/);
  assert.match(n.exec('nft', ['list', 'table', 'inet', 'foreign']), /198\.51\.100\.78/);
}

function relabel(p: Pod, labels: Record<string, string>): Pod {
  return { ...p, metadata: { ...p.metadata, labels } };
}

for (const b of IPT_BACKENDS) {
  const name = backendName(b);
  test(`[${name}] a restarted controller adopts the rules in place: its first full sync writes nothing and the kernel is byte-identical`, { skip }, async () => {
    const n = new TestNetns('krt-npc');
    try {
      addForeign(n, b);
      const c = shopCluster();
      await newController(n, c, b).controller.fullSync();
      const before = iptablesSnapshot(n, b.mode);
      assert.match(before, /KUBE-POD-FW-/);
      const restarted = newController(n, c, b);
      await restarted.controller.fullSync();
      assert.deepEqual(writes(restarted.exec.commands), [], 'no write at all: no flush, no window');
      assert.equal(restarted.controller.lastSync?.report.unchanged, true);
      assert.equal(iptablesSnapshot(n, b.mode), before);
      assertForeignIntact(n, b);
    } finally {
      n.delete();
    }
  });

  test(`[${name}] a rule another tool inserts above our FORWARD jump is found between full syncs and our jump goes back on top`, { skip }, async () => {
    const n = new TestNetns('krt-npc');
    try {
      const c = shopCluster();
      const { controller } = newController(n, c, b);
      await controller.fullSync();
      assert.equal(await controller.housekeeping?.run(), 'ok');
      n.exec(iptablesTool(b.mode, 'ipv4', 'save').replace('-save', ''), ['-I', 'FORWARD', '1', '-i', 'foreign0', '-j', 'ACCEPT']);
      assert.equal(await controller.housekeeping?.run(), 'resync');
      await controller.fullSync();
      const forward = n.exec(iptablesTool(b.mode, 'ipv4', 'save').replace('-save', ''), ['-S', 'FORWARD']).split('\n').filter((l) => l.startsWith('-A'));
      assert.match(forward[0] ?? '', /-j KUBE-ROUTER-FORWARD/);
      assert.ok(forward.some((l) => l.includes('-i foreign0 -j ACCEPT')), 'the foreign rule stays');
      assert.equal(await controller.housekeeping?.run(), 'ok');
    } finally {
      n.delete();
    }
  });

  test(`[${name}] a full sync repairs drift: a flushed set, a flushed chain and a deleted builtin jump come back`, { skip }, async () => {
    const n = new TestNetns('krt-npc');
    try {
      addForeign(n, b);
      const c = shopCluster();
      const { controller } = newController(n, c, b);
      await controller.fullSync();
      const good = iptablesSnapshot(n, b.mode);
      const ourSet = n.exec('ipset', ['list', '-n']).split('\n').find((s) => s.startsWith('KUBE-DST-'));
      assert.ok(ourSet);
      n.exec('ipset', ['flush', ourSet]);
      n.exec(iptablesTool(b.mode, 'ipv4', 'restore'), ['--noflush'], `*filter\n-F ${CHAIN_COMMON}\n-D INPUT -m comment --comment "${jumpComment(n, b, 'INPUT')}" -j KUBE-ROUTER-INPUT\nCOMMIT\n`);
      assert.notEqual(iptablesSnapshot(n, b.mode), good);
      await controller.fullSync();
      assert.equal(iptablesSnapshot(n, b.mode), good);
      assertForeignIntact(n, b);
    } finally {
      n.delete();
    }
  });

  test(`[${name}] a pod label change is applied as set member changes over netlink, no process started; a policy delete removes its chains then its sets`, { skip }, async () => {
    const n = new TestNetns('krt-npc');
    try {
      addForeign(n, b);
      const c = shopCluster();
      const { controller, exec } = newController(n, c, b);
      await controller.fullSync();
      exec.commands.length = 0;
      // The remote pod becomes an app=ui peer of api-in: one member per family, no chain touched, no tool run.
      const far = c.pods.get('shop/far') as Pod;
      assert.deepEqual(await controller.handleChanges([c.put(relabel(far, { app: 'ui' }), 'Pod')]), {});
      assert.deepEqual(exec.commands, []);
      assert.equal(controller.lastSync?.report.applied?.ipsetVia, 'netlink');
      const applied = controller.lastSync?.report.applied;
      assert.deepEqual([applied?.membersAdded, applied?.membersDeleted, applied?.setsCreated, applied?.chainsWritten], [2, 0, 0, 0]);
      assert.match(n.exec('ipset', ['save']), /^add KUBE-SRC-\S+ 198\.18\.2\.11$/m);
      // The incremental result is exactly what a fresh full plan wants: a new controller finds nothing to do.
      const fresh = newController(n, c, b);
      await fresh.controller.fullSync();
      assert.deepEqual(writes(fresh.exec.commands), []);

      exec.commands.length = 0;
      await controller.handleChanges([c.remove('NetworkPolicy', 'shop/api-in')]);
      // The rules go first (one tool run per family), then the sets they used, over netlink.
      assert.deepEqual(writes(exec.commands), ['iptables-' + b.mode + '-restore -w --noflush', 'ip6tables-' + b.mode + '-restore -w --noflush']);
      assert.doesNotMatch(n.exec('ipset', ['list', '-n']), /KUBE-SRC-|KUBE-DST-/);
      assert.doesNotMatch(n.exec(iptablesTool(b.mode, 'ipv4', 'save'), ['-t', 'filter']), /KUBE-NWPLCY-(?!COMMON|DEFAULT|TAIL)/);
      assertForeignIntact(n, b);
    } finally {
      n.delete();
    }
  });
}

function jumpComment(n: TestNetns, b: Backend, builtin: string): string {
  const line = n.exec(iptablesTool(b.mode, 'ipv4', 'save'), ['-t', 'filter']).split('\n').find((l) => l.startsWith(`-A ${builtin} `) && l.includes('KUBE-ROUTER-'));
  const m = /--comment "([^"]+)"/.exec(line ?? '');
  assert.ok(m?.[1], 'our builtin jump carries a comment');
  return m[1];
}

const tables = (n: TestNetns): string => n.exec('nft', ['list', 'tables']);

test('[iptables-nft] with no netlink socket (or a refusal on it) the same sets are written by ipset restore', { skip }, async () => {
  const viaNetlink = new TestNetns('krt-npc');
  const viaTool = new TestNetns('krt-npc');
  try {
    const c = shopCluster();
    const b: Backend = { kind: 'iptables', mode: 'nft' };
    const first = newController(viaNetlink, c, b);
    await first.controller.fullSync();
    assert.equal(first.controller.lastSync?.report.applied?.ipsetVia, 'netlink');
    assert.ok(!first.exec.commands.some((cmd) => cmd.startsWith('ipset -exist restore')));
    const broken = recordingNetnsExec(viaTool);
    const noSocket: NetpolExec = Object.assign(broken, { netfilter: () => { throw new Error('no netlink here'); } });
    const second = newController(viaTool, c, b, { exec: noSocket });
    await second.controller.fullSync();
    assert.equal(second.controller.lastSync?.report.applied?.ipsetVia, undefined);
    assert.ok(broken.commands.includes('ipset -exist restore'), broken.commands.join('; '));
    assert.equal(iptablesSnapshot(viaTool, b.mode), iptablesSnapshot(viaNetlink, b.mode));
  } finally {
    viaNetlink.delete();
    viaTool.delete();
  }
});

test('[nftables] adopts, repairs a flushed set, applies changes in one nft -f, and switching backends removes the other\'s rules', { skip }, async () => {
  const n = new TestNetns('krt-npc');
  const ipt: Backend = { kind: 'iptables', mode: 'nft' };
  const nftB: Backend = { kind: 'nftables', mode: 'nft' };
  try {
    addForeign(n, ipt);
    const c = shopCluster();
    await newController(n, c, ipt).controller.fullSync();
    assert.match(n.exec('ipset', ['list', '-n']), /KUBE-/);

    // iptables -> nftables: our tables appear, then our chains, jumps and sets go; foreign state stays.
    const first = newController(n, c, nftB);
    await first.controller.fullSync();
    for (const f of ['ipv4', 'ipv6'] as Family[]) assert.match(tables(n), new RegExp(`table ip6? ${nftTableName(f)}`));
    assert.doesNotMatch(n.exec(iptablesTool('nft', 'ipv4', 'save'), ['-t', 'filter']), /KUBE-/);
    assert.doesNotMatch(n.exec(iptablesTool('nft', 'ipv6', 'save'), ['-t', 'filter']), /KUBE-/);
    assert.doesNotMatch(n.exec('ipset', ['list', '-n']), /KUBE-|kube-router/);
    const applied = nftSnapshot(n);

    // A second instance (a restart) compares the listed tables with its plan and adopts them: no write at all.
    const second = newController(n, c, nftB);
    await second.controller.fullSync();
    assert.deepEqual(writes(second.exec.commands), [], 'a restart adopts the tables in place');
    assert.equal(nftSnapshot(n), applied);
    second.exec.commands.length = 0;
    await second.controller.fullSync();
    assert.deepEqual(writes(second.exec.commands), [], 'an unchanged table is not rewritten');

    // Drift: a set emptied behind our back is restored by the next full sync.
    n.exec('nft', ['flush', 'set', 'ip', nftTableName('ipv4'), 'kube-router-local-pods']);
    await second.controller.fullSync();
    assert.equal(nftSnapshot(n), applied);

    // A remote pod's label change is one nf_tables element batch on our netlink socket: no nft run at all.
    second.exec.commands.length = 0;
    await second.controller.handleChanges([c.put(relabel(c.pods.get('shop/far') as Pod, { app: 'ui' }), 'Pod')]);
    assert.deepEqual(second.exec.commands, []);
    assert.equal(second.controller.lastSync?.report.via, 'netlink');
    // A pure membership change is element operations, not a table rewrite.
    const counts = second.controller.lastSync?.report.counts;
    assert.deepEqual([counts?.membersAdded, counts?.membersDeleted, counts?.setsCreated, counts?.chainsWritten, second.controller.lastSync?.report.rewrite],
      [2, 0, 0, 0, false]);
    const afterChange = nftSnapshot(n);
    assert.match(afterChange, /198\.18\.2\.11/);
    // The element-level result equals a full render of the new state.
    const third = newController(n, c, nftB);
    await third.controller.fullSync();
    assert.deepEqual(writes(third.exec.commands), [], 'the tables after the delta are what a full plan wants');
    assert.equal(nftSnapshot(n), afterChange);

    // Chain-level changes (a policy deleted, a local pod added) are delta transactions too, equal to a full render.
    for (const change of [() => c.remove('NetworkPolicy', 'shop/api-in'), () => c.put(pod('shop', 'new', { ip: '198.18.1.12', ip6: '2001:db8:1::12' }), 'Pod')]) {
      assert.deepEqual(await second.controller.handleChanges([change()]), {});
      const deltaReport: SyncReport | undefined = second.controller.lastSync?.report;
      assert.ok((deltaReport?.counts?.chainsWritten ?? 0) + (deltaReport?.counts?.chainsRemoved ?? 0) > 0, 'chains change');
      assert.equal(deltaReport?.rewrite, false, 'not a table rewrite');
      const now = nftSnapshot(n);
      const fresh = newController(n, c, nftB);
      await fresh.controller.fullSync();
      assert.deepEqual(writes(fresh.exec.commands), [], 'the tables after the delta are what a full plan wants');
      assert.equal(nftSnapshot(n), now);
    }

    // nftables -> iptables: our tables go once the iptables rules are in place.
    await newController(n, c, ipt).controller.fullSync();
    assert.doesNotMatch(tables(n), /kube-router/);
    assert.match(n.exec(iptablesTool('nft', 'ipv4', 'save'), ['-t', 'filter']), /KUBE-ROUTER-INPUT/);
    assertForeignIntact(n, ipt);
  } finally {
    n.delete();
  }
});
