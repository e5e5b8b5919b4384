// Opening the Ipvs handle where it cannot work answers with an errno instead of throwing: the host kernel has no
// IPVS (the VM tests cover a kernel that has it), and a namespace path that does not exist cannot be entered.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { openIpvs } from '../../../src/kernel/ipvs.ts';
import { TestNetns, isRoot } from '../../helpers/netns.ts';

// Where the kernel has IPVS (ip_vs loaded) the first test does not apply.
const hostHasIpvs = existsSync('/proc/net/ip_vs');
let ns: TestNetns;

before(() => {
  if (isRoot) ns = new TestNetns('krt-ipvs');
});

after(() => ns?.delete());

test('on a kernel without IPVS, openIpvs in a namespace answers EPROTONOSUPPORT', { skip: !isRoot ? 'needs root' : hostHasIpvs ? 'this kernel has IPVS' : false }, async () => {
  const r = await openIpvs({ netns: ns.path });
  assert.deepEqual(r, { ok: false, error: { errno: 93, code: 'EPROTONOSUPPORT' } });
});

test('a namespace path that does not exist is ENOENT from opening the socket', async () => {
  const r = await openIpvs({ netns: '/run/netns/krt-ipvs-no-such-namespace' });
  assert.ok(!r.ok);
  assert.equal(r.error.code, 'ENOENT');
});
