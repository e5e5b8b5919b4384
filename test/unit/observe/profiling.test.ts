// --enable-pprof's server: a CPU profile of the running process for the requested seconds, a heap snapshot,
// an index, one profile at a time, and a clear 400 for a bad duration.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startProfilingServer } from '../../../src/observe/profiling.ts';

test('the profiling server returns a V8 CPU profile and a heap snapshot of this process', async () => {
  const server = await startProfilingServer('127.0.0.1', 0);
  const base = `http://127.0.0.1:${server.port}/debug/pprof`;
  try {
    assert.match(await (await fetch(`${base}/`)).text(), /profile\?seconds=30/);
    assert.equal((await fetch(`${base}/profile?seconds=0`)).status, 400);
    assert.equal((await fetch(`${base}/profile?seconds=abc`)).status, 400);
    const pending = fetch(`${base}/profile?seconds=1`);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await fetch(`${base}/heap`)).status, 409, 'one profile at a time');
    const cpu = await pending;
    assert.equal(cpu.status, 200);
    const profile = await cpu.json() as { nodes: unknown[]; startTime: number; endTime: number };
    assert.ok(profile.nodes.length > 0);
    assert.ok(profile.endTime - profile.startTime >= 900_000, 'about one second of samples (µs)');
    const heap = await fetch(`${base}/heap`);
    assert.equal(heap.status, 200);
    const snapshot = JSON.parse(await heap.text()) as { snapshot: { node_count: number } };
    assert.ok(snapshot.snapshot.node_count > 1000);
    assert.equal((await fetch(`http://127.0.0.1:${server.port}/other`)).status, 404);
  } finally {
    await server.close();
  }
});
