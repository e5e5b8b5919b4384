// --enable-pprof bound to an address other pods can reach: no endpoint returns memory contents and the full heap
// snapshot is never served, whichever address the client uses (a wildcard listener is reachable on 127.0.0.1 too).
// The server runs in a child process inside a fresh namespace whose only addresses are ours.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isRoot, TestNetns } from '../../helpers/netns.ts';

const PROBE = fileURLToPath(new URL('./pprof-in-netns.ts', import.meta.url));

describe('profiling server on a non-loopback address', { skip: isRoot ? false : 'needs root' }, () => {
  let ns: TestNetns;
  before(() => {
    ns = new TestNetns('krt-pprof');
    // A node address (not 127/8): on lo, since the host kernel may lack the dummy link type.
    ns.ip('addr', 'add', '198.51.100.1/32', 'dev', 'lo');
  });
  after(() => ns?.delete());

  type Probe = { index: string; status: Record<string, number>; leaks: string[] };
  const probe = (bind: string, client: string): Probe => {
    const r = spawnSync('ip', ['netns', 'exec', ns.name, process.execPath, '--import', 'tsx', PROBE, bind, client], {
      encoding: 'utf8', timeout: 60_000, env: { ...process.env, KUBE_ROUTER_LOG_LEVEL: 'silent' },
    });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as Probe;
  };

  for (const [bind, client] of [['198.51.100.1', '198.51.100.1'], ['0.0.0.0', '198.51.100.1'], ['0.0.0.0', '127.0.0.1'], ['::', '::1']] as const) {
    it(`bound to ${bind} and asked over ${client}, no endpoint returns a secret held in memory; no heap snapshot`, () => {
      const result = probe(bind, client);
      assert.deepEqual(result.leaks, []);
      assert.deepEqual(result.status, { index: 200, heap: 200, heapsnapshot: 404, 'profile?seconds=1': 200 });
      assert.doesNotMatch(result.index, /\/debug\/pprof\/heapsnapshot/);
    });
  }

  it('bound to loopback, it serves the heap snapshot too, which does hold the secret', () => {
    const result = probe('127.0.0.1', '127.0.0.1');
    assert.deepEqual(result.status, { index: 200, heap: 200, heapsnapshot: 200, 'profile?seconds=1': 200 });
    assert.deepEqual(result.leaks, ['heapsnapshot']);
    assert.match(result.index, /\/debug\/pprof\/heapsnapshot/);
  });
});
