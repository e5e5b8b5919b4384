import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ControllerRunner, type ChangeRef, type Controller } from '../../../src/controllers/runtime.ts';
import { HealthRegistry } from '../../../src/observe/health.ts';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

function recorder(overrides: Partial<Controller> = {}) {
  const batches: ChangeRef[][] = [];
  let fullSyncs = 0;
  const c: Controller = {
    name: 'test',
    syncPeriodMs: 60_000,
    async handleChanges(changes) { batches.push(changes); },
    async fullSync() { fullSyncs++; },
    ...overrides,
  };
  return { c, batches, fullSyncs: () => fullSyncs };
}

test('the first iteration is a full sync, then bursts of changes are coalesced into one batch', async () => {
  const r = recorder();
  const run = new ControllerRunner(r.c, { coalesceMs: 20 });
  run.start();
  await tick(10);
  assert.equal(r.fullSyncs(), 1);
  run.notify({ kind: 'Pod', key: 'a/1' });
  run.notify({ kind: 'Pod', key: 'a/2' });
  run.notify({ kind: 'Pod', key: 'a/1' });
  await tick(60);
  await run.stop();
  assert.deepEqual(r.batches, [[{ kind: 'Pod', key: 'a/1' }, { kind: 'Pod', key: 'a/2' }]]);
});

test('a failing object is retried with backoff while other objects are handled once', async () => {
  const seen: string[] = [];
  let failuresLeft = 2;
  const r = recorder({
    async handleChanges(changes) {
      const failed = new Map<string, unknown>();
      for (const ch of changes) {
        seen.push(ch.key);
        if (ch.key === 'bad' && failuresLeft-- > 0) failed.set(ch.key, new Error('boom'));
      }
      return { failed };
    },
  });
  const run = new ControllerRunner(r.c, { coalesceMs: 1, retryBaseMs: 10, retryMaxMs: 40 });
  run.start();
  await tick(5);
  run.notify({ kind: 'Service', key: 'good' });
  run.notify({ kind: 'Service', key: 'bad' });
  await tick(200);
  await run.stop();
  assert.equal(seen.filter((k) => k === 'good').length, 1);
  assert.equal(seen.filter((k) => k === 'bad').length, 3);
});

test('a handler that throws fails only its batch and the loop keeps running', async () => {
  let calls = 0;
  const r = recorder({
    async handleChanges() {
      calls++;
      if (calls === 1) throw new Error('transient');
    },
  });
  const run = new ControllerRunner(r.c, { coalesceMs: 1, retryBaseMs: 10 });
  run.start();
  await tick(5);
  run.notify({ kind: 'Node', key: 'n1' });
  await tick(100);
  await run.stop();
  assert.equal(calls, 2);
});

test('the periodic full reconcile runs every sync period', async () => {
  const r = recorder({ syncPeriodMs: 30 });
  const run = new ControllerRunner(r.c, { heartbeatMs: 10 });
  run.start();
  await tick(100);
  await run.stop();
  assert.ok(r.fullSyncs() >= 3 && r.fullSyncs() <= 5, `full syncs: ${r.fullSyncs()}`);
});

test('the loop stays alive (beats) while syncs fail, and dies when a sync hangs', async () => {
  const health = new HealthRegistry();
  const failing = recorder({ name: 'failing', syncPeriodMs: 20, async fullSync() { throw new Error('api down'); } });
  const run = new ControllerRunner(failing.c, { health, heartbeatMs: 10, retryBaseMs: 5 });
  run.start();
  await tick(60);
  const s = health.status();
  assert.equal(s.healthy, true);
  assert.equal(s.components[0]?.lastSyncOk, false);
  await run.stop();

  let t = 0;
  const clock = new HealthRegistry(() => t);
  clock.register('stuck', 100);
  clock.beat('stuck');
  t = 50;
  assert.equal(clock.status().healthy, true);
  t = 151;
  assert.equal(clock.status().healthy, false);
});

test('housekeeping runs while idle, and a "resync" verdict triggers a full sync', async () => {
  let checks = 0;
  const r = recorder({
    housekeeping: { periodMs: 15, run: async () => (++checks === 2 ? 'resync' : 'ok') },
  });
  const run = new ControllerRunner(r.c, { heartbeatMs: 5 });
  run.start();
  await tick(100);
  await run.stop();
  assert.ok(checks >= 3, `checks: ${checks}`);
  assert.equal(r.fullSyncs(), 2);
});
