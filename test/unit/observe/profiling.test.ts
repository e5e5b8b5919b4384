// --enable-pprof's server: a CPU profile taken while the event loop keeps serving, a sampling heap profile that
// holds allocation sites but no memory contents, the full heap snapshot only on loopback, one exclusive profile
// at a time, and a clear 400 for a bad duration.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { isLoopbackAddress, startProfilingServer } from '../../../src/observe/profiling.ts';

// A secret held live in this process, as a decoded BGP password or the API token is in the daemon.
const planted: string[] = [];
function plantSecret(): string {
  const secret = `krt-planted-secret-${randomBytes(12).toString('hex')}`;
  planted.push(secret);
  return secret;
}

test('loopback means 127.0.0.0/8 and ::1 only; wildcards and node addresses are not', () => {
  for (const a of ['127.0.0.1', '127.3.2.1', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) assert.equal(isLoopbackAddress(a), true, a);
  for (const a of ['0.0.0.0', '::', '', '198.51.100.1', '::ffff:198.51.100.1', 'fe80::1', '::2', 'localhost']) assert.equal(isLoopbackAddress(a), false, a);
});

test('/heap serves a sampling heap profile by call site that does not contain a secret held in memory', async () => {
  const secret = plantSecret();
  const server = await startProfilingServer({ address: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${server.port}/debug/pprof`;
  try {
    // Allocations made after sampling started are what the profile shows.
    const retained = Array.from({ length: 2000 }, (_, i) => ({ i, pad: 'x'.repeat(256) + String(i) }));
    const res = await fetch(`${base}/heap`);
    assert.equal(res.status, 200);
    const body = await res.text();
    assert.equal(body.includes(secret), false, 'the heap profile must not carry memory contents');
    const profile = JSON.parse(body) as { head: { callFrame: { functionName: string }; children: unknown[] }; samples: unknown[] };
    assert.ok(profile.samples.length > 0, 'live sampled allocations');
    assert.ok(JSON.stringify(profile.head).includes('"functionName"'), 'a call tree of allocation sites');
    assert.ok(retained.length > 0);
    // On loopback the full snapshot is still available, and it does hold the secret: the check above can fail.
    const snapshot = await fetch(`${base}/heapsnapshot`);
    assert.equal(snapshot.status, 200);
    assert.equal((await snapshot.text()).includes(secret), true);
  } finally {
    await server.close();
  }
});

test('a CPU profile is taken while the event loop keeps serving requests and timers', async () => {
  const server = await startProfilingServer({ address: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${server.port}/debug/pprof`;
  let last = Date.now();
  let maxGap = 0;
  const timer = setInterval(() => {
    const now = Date.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
  }, 20);
  try {
    assert.match(await (await fetch(`${base}/`)).text(), /profile\?seconds=30/);
    assert.equal((await fetch(`${base}/profile?seconds=0`)).status, 400);
    assert.equal((await fetch(`${base}/profile?seconds=abc`)).status, 400);
    const t0 = Date.now();
    const pending = fetch(`${base}/profile?seconds=2`);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await fetch(`${base}/heapsnapshot`)).status, 409, 'one exclusive profile at a time');
    const answered: number[] = [];
    while (Date.now() - t0 < 1700) {
      const s = Date.now();
      assert.equal((await fetch(`${base}/`)).status, 200);
      answered.push(Date.now() - s);
      await new Promise((r) => setTimeout(r, 100));
    }
    const cpu = await pending;
    assert.equal(cpu.status, 200);
    const profile = await cpu.json() as { nodes: unknown[]; startTime: number; endTime: number };
    assert.ok(profile.nodes.length > 0);
    assert.ok(profile.endTime - profile.startTime >= 1_900_000, 'about two seconds of samples (µs)');
    // Generous for a loaded 2-core machine; a profile that blocked the loop would stall it for the whole 2 s.
    assert.ok(answered.length >= 5 && Math.max(...answered) < 500, `requests answered during the profile: ${answered.join(', ')} ms`);
    assert.ok(maxGap < 500, `timers kept firing (largest gap ${maxGap} ms)`);
    assert.equal((await fetch(`http://127.0.0.1:${server.port}/other`)).status, 404);
  } finally {
    clearInterval(timer);
    await server.close();
  }
});
