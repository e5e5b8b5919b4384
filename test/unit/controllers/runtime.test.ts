import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ControllerRunner, FirstSyncTurns, type ChangeRef, type Controller } from '../../../src/controllers/runtime.ts';
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

/** Resolves once `check` holds (polled), or fails after `ms`. */
async function until(check: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await tick(2);
  }
}

test('first full syncs take turns in start order; later full syncs and changes do not wait', async () => {
  const turns = new FirstSyncTurns();
  const log: string[] = [];
  const gates = new Map<string, () => void>();
  const make = (name: string) => recorder({
    name,
    syncPeriodMs: 60_000,
    fullSync: () => new Promise<void>((resolve) => {
      log.push(`${name} start`);
      gates.set(name, () => { log.push(`${name} end`); resolve(); });
    }),
  });
  const a = new ControllerRunner(make('a').c, { firstSyncTurns: turns, coalesceMs: 1 });
  const b = new ControllerRunner(make('b').c, { firstSyncTurns: turns, coalesceMs: 1 });
  a.start();
  b.start();
  await until(() => gates.has('a'));
  await tick(20);
  assert.deepEqual(log, ['a start'], 'b waits while a syncs');
  gates.get('a')?.();
  await until(() => gates.has('b'));
  assert.deepEqual(log, ['a start', 'a end', 'b start']);
  gates.get('b')?.();
  await until(() => log.length === 4);
  await a.stop();
  await b.stop();
});

test('a first sync that hangs gives up its turn after the hold limit', async () => {
  const turns = new FirstSyncTurns(50);
  let bStarted = false;
  const a = new ControllerRunner(recorder({ name: 'a', fullSync: () => new Promise<void>(() => undefined) }).c, { firstSyncTurns: turns });
  const b = new ControllerRunner(recorder({ name: 'b', fullSync: async () => { bStarted = true; } }).c, { firstSyncTurns: turns });
  a.start();
  b.start();
  await until(() => bStarted);
  await b.stop();
});
