// The early set writer of a full sync against a test namespace's kernel: windows go out while the caller keeps
// offering (no await in between, as during planning), sets the kernel already has are left alone, the windows
// in flight are bounded (the rest is left to the apply), and what finish() reports is exactly what the kernel
// holds; an offer tells synchronously when its sets are in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestNetns, haveCommand, isRoot } from '../../helpers/netns.ts';
import { typeRevisions } from '../../../src/kernel/ipset-netlink.ts';
import { NETLINK_NETFILTER, NetlinkSocket } from '../../../src/kernel/netlink/socket.ts';
import type { SetSpec } from '../../../src/controllers/netpol/model.ts';
import { SetPrewriter } from '../../../src/controllers/netpol/prewrite-sets.ts';

const skip = !isRoot || !haveCommand('ipset') ? 'needs root and ipset' : false;

const setOf = (i: number, members: number): SetSpec => ({
  name: `KUBE-SRC-T${String(i).padStart(4, '0')}`, type: 'hash:ip', family: 'ipv4',
  members: Array.from({ length: members }, (_, j) => ({ entry: `198.18.${(i * members + j) >> 8 & 255}.${(i * members + j) & 255}` })).sort((a, b) => (a.entry < b.entry ? -1 : 1)),
});

/** A fresh namespace whose kernel has one set of ours (KUBE-SRC-T0000), and a prewriter that knows it. */
async function withWriter(body: (n: TestNetns, writer: SetPrewriter) => Promise<void>): Promise<void> {
  const n = new TestNetns('krt-prew');
  const open = () => NetlinkSocket.open(NETLINK_NETFILTER, { netns: n.path, timeoutMs: 10_000, sndbufBytes: 2 * 1024 * 1024 });
  const main = open();
  try {
    n.exec('ipset', ['create', 'KUBE-SRC-T0000', 'hash:ip']);
    await body(n, new SetPrewriter(open, new Set(['KUBE-SRC-T0000']), await typeRevisions(main, [{ type: 'hash:ip', family: 4 }])));
  } finally {
    await main.close();
    n.delete();
  }
}

test('new sets are written in bounded windows while offers go on, and finish() names exactly what the kernel took', { skip }, () =>
  withWriter(async (n, writer) => {
    // ~2.5 MB of messages: more than the windows allowed in flight.
    const sets = Array.from({ length: 260 }, (_, i) => setOf(i, 600));
    for (const s of sets) writer.offer([s, s]);
    const written = await writer.finish();
    const names = new Set(written.map((s) => s.name));
    assert.ok(!names.has('KUBE-SRC-T0000'), 'a set the kernel has is not written');
    assert.ok(written.length > 100 && written.length < 259, `some sets written early, not all: ${written.length}`);
    const kernelSets = n.exec('ipset', ['list', '-n']).split('\n').filter((l) => l !== '' && l !== 'KUBE-SRC-T0000');
    assert.deepEqual(kernelSets.sort(), [...names].sort());
    for (const s of written.slice(0, 3).concat(written.slice(-3))) {
      const members = [...n.exec('ipset', ['save', s.name]).matchAll(/^add \S+ (\S+)$/gm)].map((m) => m[1]).sort();
      assert.deepEqual(members, s.members.map((m) => m.entry).sort(), s.name);
    }
    assert.doesNotMatch(n.exec('ipset', ['save', 'KUBE-SRC-T0000']), /^add /m, 'the existing set is untouched');
  }));

test('an offer says synchronously when its sets are in the kernel: at once for present ones, never for one too big', { skip }, () =>
  withWriter(async (n, writer) => {
    assert.equal(writer.offer([setOf(0, 5)])(), true, 'a set the kernel has is ready');
    assert.equal(writer.offer([setOf(1, 9000)])(), false, 'a set bigger than a window is left to the apply');
    const ready = writer.offer([setOf(2, 50), setOf(3, 50)]);
    assert.equal(ready(), undefined, 'queued, not yet sent');
    writer.flush();
    // No event-loop turn from here until it settles: the answer comes from the addon's thread.
    const deadline = Date.now() + 10_000;
    while (ready() === undefined && Date.now() < deadline) { /* the kernel works on the window */ }
    assert.equal(ready(), true);
    assert.equal(writer.settledWindows(), 1);
    assert.deepEqual(n.exec('ipset', ['list', '-n']).split('\n').filter((l) => l !== '').sort(), ['KUBE-SRC-T0000', 'KUBE-SRC-T0002', 'KUBE-SRC-T0003']);
    assert.deepEqual((await writer.finish()).map((s) => s.name), ['KUBE-SRC-T0002', 'KUBE-SRC-T0003']);
  }));
