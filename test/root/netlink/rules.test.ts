// Policy routing rules through our rtnetlink socket inside a test namespace, checked against `ip -j rule show`.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { NetlinkError } from '../../../src/kernel/netlink/codec.ts';
import { addRule, deleteRule, listRules, openRtnetlink, ruleWithDefaults } from '../../../src/kernel/netlink/rtnetlink.ts';
import type { NetlinkSocket } from '../../../src/kernel/netlink/socket.ts';
import { TestNetns, isRoot } from '../../helpers/netns.ts';
import { ipRuleKeys, ruleKey, sorted } from './ip-json.ts';

const skip = isRoot ? false : 'needs root';
let ns: TestNetns;
let sock: NetlinkSocket;

before(() => {
  if (!isRoot) return;
  ns = new TestNetns('krt-nl');
  sock = openRtnetlink({ netns: ns.path });
});

after(async () => {
  await sock?.close();
  ns?.delete();
});

test('the default rules dump the same as `ip -j rule show`, both families', { skip }, async () => {
  for (const family of [4, 6] as const) {
    const rules = await listRules(sock, { family });
    assert.deepEqual(sorted(rules.map(ruleKey)), sorted(ipRuleKeys(ns, family)));
  }
  assert.deepEqual((await listRules(sock, { family: 4 })).map((r) => [r.priority, r.table]), [[0, 255], [32766, 254], [32767, 253]]);
});

test('"from <pod cidr> lookup 77" is added, visible to ip, and deleted, IPv4 and IPv6', { skip }, async () => {
  const v4 = ruleWithDefaults({ src: '198.18.4.0/24', table: 77, priority: 32000 });
  const v6 = ruleWithDefaults({ src: '2001:db8:4::/64', table: 77, priority: 32000 });
  await addRule(sock, v4);
  await addRule(sock, v6);
  assert.match(ns.ip('-4', 'rule', 'show'), /32000:\s+from 198\.18\.4\.0\/24 lookup 77/);
  assert.match(ns.ip('-6', 'rule', 'show'), /32000:\s+from 2001:db8:4::\/64 lookup 77/);
  for (const family of [4, 6] as const) {
    assert.deepEqual(sorted((await listRules(sock, { family })).map(ruleKey)), sorted(ipRuleKeys(ns, family)));
  }
  assert.deepEqual((await listRules(sock, { table: 77 })).map((r) => [r.family, r.src]), [[4, '198.18.4.0/24'], [6, '2001:db8:4::/64']]);
  await assert.rejects(addRule(sock, v4), (e: unknown) => e instanceof NetlinkError && e.code === 'EEXIST');
  await deleteRule(sock, v4);
  await deleteRule(sock, v6);
  assert.deepEqual(await listRules(sock, { table: 77 }), []);
  await assert.rejects(deleteRule(sock, v4), (e: unknown) => e instanceof NetlinkError && e.code === 'ENOENT');
});

test('a rule with a protocol and fwmark selector round-trips through the kernel', { skip }, async () => {
  const rule = ruleWithDefaults({ family: 4, table: 78, priority: 100, fwmark: 0x2000, fwmask: 0x2000, protocol: 17 });
  await addRule(sock, rule);
  const [back] = await listRules(sock, { table: 78 });
  assert.deepEqual(back, rule);
  assert.match(ns.ip('rule', 'show', 'table', '78'), /fwmark 0x2000\/0x2000 lookup 78 proto 17/);
  await deleteRule(sock, rule);
});
