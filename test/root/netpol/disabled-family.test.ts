// Turning IPv6 off (--enable-ipv6=false after a run with it on): the first full sync of the new run removes
// every IPv6 chain, jump, set or table of ours and leaves IPv4 and other software's state exactly as it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestNetns, haveCommand, isRoot } from '../../helpers/netns.ts';
import { config } from '../../unit/netpol/fixtures.ts';
import { iptablesTool } from '../../../src/controllers/netpol/apply-iptables.ts';
import { nftTableName } from '../../../src/controllers/netpol/render-nft.ts';
import { backendName, newController, shopCluster, type Backend } from './controller-harness.ts';

const skip = !isRoot || !haveCommand('ipset') || !haveCommand('iptables-nft-restore') || !haveCommand('nft') ? 'needs root, ipset, iptables, nft' : false;

const BACKENDS: Backend[] = [{ kind: 'iptables', mode: 'nft' }, { kind: 'iptables', mode: 'legacy' }, { kind: 'nftables', mode: 'nft' }];

for (const b of BACKENDS) {
  test(`[${backendName(b)}] a family no longer enabled loses all of our rules on the next run; the other family is untouched`, { skip }, async () => {
    const n = new TestNetns('krt-npc');
    try {
      n.exec('ipset', ['create', 'foreign6', 'hash:ip', 'family', 'inet6']);
      n.exec(iptablesTool(b.mode, 'ipv6', 'restore'), ['--noflush'], '*filter\n:FOREIGN6 - [0:0]\n-A INPUT -j FOREIGN6\nCOMMIT\n');
      const c = shopCluster();
      await newController(n, c, b).controller.fullSync();
      const v4 = (): string => b.kind === 'iptables'
        ? n.exec(iptablesTool(b.mode, 'ipv4', 'save'), ['-t', 'filter']).split('\n').filter((l) => !l.startsWith('#')).join('\n')
        : n.exec('nft', ['list', 'table', 'ip', nftTableName('ipv4')]);
      const v6 = (): string => b.kind === 'iptables'
        ? n.exec(iptablesTool(b.mode, 'ipv6', 'save'), ['-t', 'filter'])
        : n.exec('nft', ['list', 'tables']);
      assert.match(v6(), b.kind === 'iptables' ? /KUBE-ROUTER-INPUT/ : new RegExp(nftTableName('ipv6')));
      const v4Before = v4();

      c.config = config({ defaultDeny: true, families: ['ipv4'] });
      const next = newController(n, c, b);
      await next.controller.fullSync();
      assert.doesNotMatch(v6(), b.kind === 'iptables' ? /KUBE-/ : new RegExp(nftTableName('ipv6')));
      assert.doesNotMatch(n.exec('ipset', ['list', '-n']), /^inet6:KUBE-|^kube-router-local-pods6|^inet6:/m);
      assert.equal(v4(), v4Before, 'IPv4 rules stay as they were');
      assert.match(n.exec(iptablesTool(b.mode, 'ipv6', 'save'), ['-t', 'filter']), /^-A INPUT -j FOREIGN6$/m);
      assert.match(n.exec('ipset', ['list', '-n']), /^foreign6$/m);
    } finally {
      n.delete();
    }
  });
}
