// Opening netlink sockets into another network namespace by path from the host process: the socket
// sees only that namespace, the calling thread stays in its own, and generic netlink works there too.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readlinkSync, statSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { openGenl, resolveFamily } from '../../../src/kernel/netlink/genl.ts';
import { createBridge, listLinks, openRtnetlink } from '../../../src/kernel/netlink/rtnetlink.ts';
import { NETLINK_ROUTE, NetlinkSocket } from '../../../src/kernel/netlink/socket.ts';
import { TestNetns, isRoot, sh } from '../../helpers/netns.ts';

const skip = isRoot ? false : 'needs root';
let ns: TestNetns;
const threadNetns = (): string => readlinkSync('/proc/thread-self/ns/net');

before(() => {
  if (isRoot) ns = new TestNetns('krt-nl');
});

after(() => ns?.delete());

test('a socket opened by netns path acts in that namespace and the JS thread stays home', { skip }, async () => {
  const home = threadNetns();
  const sock = openRtnetlink({ netns: ns.path });
  try {
    assert.equal(threadNetns(), home);
    await createBridge(sock, 'krtnl-only-here');
    assert.deepEqual((await listLinks(sock)).map((l) => l.name).sort(), ['krtnl-only-here', 'lo']);
    assert.match(ns.ip('link', 'show', 'krtnl-only-here'), /krtnl-only-here/);
    assert.throws(() => sh('ip', ['link', 'show', 'krtnl-only-here']), /does not exist/, 'absent from the host namespace');
  } finally {
    await sock.close();
  }
});

test('a socket opened through /proc/<pid>/ns/net reaches the namespace that process lives in', { skip }, async () => {
  const sleeper = spawn('ip', ['netns', 'exec', ns.name, 'sleep', '30'], { stdio: 'ignore' });
  try {
    const pidNs = `/proc/${sleeper.pid}/ns/net`;
    // `ip netns exec` enters the namespace, then execs sleep under the same pid: wait for that.
    const deadline = Date.now() + 5000;
    while (statSync(pidNs).ino !== statSync(ns.path).ino) {
      if (Date.now() > deadline) throw new Error('sleeper never entered the namespace');
      await new Promise((r) => setTimeout(r, 10));
    }
    const sock = NetlinkSocket.open(NETLINK_ROUTE, { netns: pidNs });
    try {
      assert.deepEqual((await listLinks(sock)).map((l) => l.name).sort(), ['krtnl-only-here', 'lo']);
    } finally {
      await sock.close();
    }
  } finally {
    sleeper.kill();
  }
});

test('a missing netns path fails with ENOENT and leaves the thread in its namespace', { skip }, () => {
  const home = threadNetns();
  assert.throws(() => openRtnetlink({ netns: '/run/netns/krt-nl-does-not-exist' }), (e: Error & { errno?: number }) => e.errno === 2);
  assert.equal(threadNetns(), home);
});

test('generic netlink resolves nlctrl inside the namespace and reports unknown families as absent', { skip }, async () => {
  const genl = openGenl({ netns: ns.path });
  try {
    const ctrl = await resolveFamily(genl, 'nlctrl');
    assert.equal(ctrl?.id, 16);
    assert.equal(ctrl?.mcastGroups.get('notify'), 16);
    assert.equal(await resolveFamily(genl, 'krtnl-nofamily'), undefined);
  } finally {
    await genl.close();
  }
});
