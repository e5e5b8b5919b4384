// Reflector behaviour against a scripted API server: exact event sequences and the requests it made
// across closes, bookmarks, 410s, server errors, connection resets, silent hangs and pagination.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Store, type KubeObject } from '../../../src/kube/cache.ts';
import { KubeClient } from '../../../src/kube/client.ts';
import { Reflector, type ReflectorOptions } from '../../../src/kube/reflector.ts';
import { metrics } from '../../../src/observe/metrics.ts';
import { FakeApiServer, type Script, obj, added, modified, deleted, bookmark, watchError, waitUntil } from './fake-apiserver.ts';

const PATH = '/api/v1/pods';
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Harness {
  server: FakeApiServer;
  reflector: Reflector<KubeObject>;
  store: Store<KubeObject>;
  events: string[];
  watches: () => Array<Record<string, string>>;
  lists: () => Array<Record<string, string>>;
}

type Tuning = Partial<Omit<ReflectorOptions<KubeObject>, 'client' | 'path' | 'store'>>;

async function run(script: Partial<Script>, opts: Tuning = {}): Promise<Harness> {
  const server = await FakeApiServer.start();
  server.script(PATH, script);
  const client = new KubeClient({ server: server.url, insecureSkipTlsVerify: false, source: 'test' });
  const store = new Store<KubeObject>('Pod');
  const events: string[] = [];
  store.onChange((e) => events.push(`${e.type} ${e.key} ${(e.newObj ?? e.oldObj)?.metadata?.resourceVersion}`));
  const reflector = new Reflector<KubeObject>({
    client,
    path: PATH,
    store,
    idleTimeoutMs: 5000,
    backoffInitialMs: 5,
    backoffMaxMs: 20,
    ...opts,
  });
  cleanups.push(async () => {
    await reflector.stop();
    await client.close();
    await server.close();
  });
  reflector.start();
  const ofKind = (watch: boolean) => server.requestsFor(PATH).filter((r) => (r.query['watch'] === 'true') === watch).map((r) => r.query);
  return { server, reflector, store, events, watches: () => ofKind(true), lists: () => ofKind(false) };
}

async function expectEvents(h: Harness, expected: string[]): Promise<void> {
  await waitUntil(() => h.events.length >= expected.length, `${expected.length} events (got ${JSON.stringify(h.events)})`);
  await new Promise((r) => setTimeout(r, 30)); // nothing extra may follow
  assert.deepEqual(h.events, expected);
}

test('lists, watches, and after a normal close rewatches from the last resourceVersion; a bookmark advances it', async () => {
  const h = await run({
    lists: [{ items: [obj('a', '10'), obj('b', '11')], resourceVersion: '12' }],
    watches: [
      { events: [added(obj('c', '13')), modified(obj('a', '14')), deleted(obj('b', '15')), bookmark('20')], end: 'close' },
      { events: [modified(obj('c', '21'))], end: 'hang' },
    ],
  });
  await expectEvents(h, ['add default/a 10', 'add default/b 11', 'add default/c 13', 'update default/a 14', 'delete default/b 11', 'update default/c 21']);
  assert.deepEqual(h.lists(), [{ limit: '500' }]);
  const watches = h.watches();
  assert.deepEqual(watches.map((q) => q['resourceVersion']), ['12', '20']);
  for (const q of watches) {
    assert.equal(q['allowWatchBookmarks'], 'true');
    const timeout = Number(q['timeoutSeconds']);
    assert.ok(timeout >= 300 && timeout < 600, `timeoutSeconds ${timeout} in [300, 600)`);
  }
  assert.equal(h.reflector.resourceVersion, '21');
  assert.equal(h.store.get('default/a')?.metadata?.managedFields, undefined, 'managedFields stripped');
  assert.ok(h.reflector.hasSynced());
});

test('410 Gone as the watch HTTP status relists and emits only the differences', async () => {
  const h = await run({
    lists: [
      { items: [obj('a', '10'), obj('b', '11')], resourceVersion: '12' },
      { items: [obj('b', '30'), obj('c', '31')], resourceVersion: '32' },
    ],
    watches: [{ status: 410, reason: 'Expired' }, { events: [added(obj('d', '33'))], end: 'hang' }],
  });
  await expectEvents(h, ['add default/a 10', 'add default/b 11', 'update default/b 30', 'add default/c 31', 'delete default/a 10', 'add default/d 33']);
  assert.deepEqual(h.watches().map((q) => q['resourceVersion']), ['12', '32']);
  assert.equal(h.lists().length, 2);
});

test('410 as a watch ERROR event relists: unchanged objects emit nothing, gone ones are deleted, new ones added', async () => {
  const h = await run({
    lists: [
      { items: [obj('a', '10'), obj('b', '11'), obj('c', '12')], resourceVersion: '12' },
      { items: [obj('a', '13'), obj('b', '11'), obj('d', '40')], resourceVersion: '40' },
    ],
    watches: [{ events: [modified(obj('a', '13')), watchError(410)], end: 'hang' }, { events: [bookmark('41')], end: 'hang' }],
  });
  await expectEvents(h, ['add default/a 10', 'add default/b 11', 'add default/c 12', 'update default/a 13', 'add default/d 40', 'delete default/c 12']);
  await waitUntil(() => h.reflector.resourceVersion === '41', 'bookmark after relist');
  assert.deepEqual(h.watches().map((q) => q['resourceVersion']), ['12', '40']);
});

test('HTTP 500 on list and on watch is retried with backoff, then the stream resumes', async () => {
  const h = await run({
    lists: [{ status: 500 }, { status: 503 }, { items: [obj('a', '10')], resourceVersion: '10' }],
    watches: [{ status: 500 }, { events: [watchError(500)], end: 'hang' }, { events: [added(obj('b', '11'))], end: 'hang' }],
  });
  await expectEvents(h, ['add default/a 10', 'add default/b 11']);
  assert.equal(h.lists().length, 3);
  assert.deepEqual(h.watches().map((q) => q['resourceVersion']), ['10', '10', '10']);
});

test('a connection reset mid-stream resumes from the last resourceVersion without duplicating replayed events', async () => {
  const h = await run({
    lists: [{ items: [obj('a', '10')], resourceVersion: '10' }],
    watches: [
      { events: [added(obj('b', '11')), modified(obj('a', '12'))], end: 'reset' },
      // The server replays the last event (same RV) and an older one before the new one.
      { events: [modified(obj('a', '12')), added(obj('b', '11')), added(obj('c', '13'))], end: 'hang' },
    ],
  });
  await expectEvents(h, ['add default/a 10', 'add default/b 11', 'update default/a 12', 'add default/c 13']);
  assert.deepEqual(h.watches().map((q) => q['resourceVersion']), ['10', '12']);
});

test('a watch that goes silent is aborted after the idle timeout and resumed from the last resourceVersion', async () => {
  const started = Date.now();
  const h = await run(
    {
      lists: [{ items: [obj('a', '10')], resourceVersion: '10' }],
      watches: [{ events: [added(obj('b', '11'))], end: 'hang' }, { events: [added(obj('c', '12'))], end: 'hang' }],
    },
    { idleTimeoutMs: 300 },
  );
  await expectEvents(h, ['add default/a 10', 'add default/b 11', 'add default/c 12']);
  assert.ok(Date.now() - started >= 300, 'the rewatch waited for the idle timeout');
  assert.deepEqual(h.watches().map((q) => q['resourceVersion']), ['10', '11']);
});

test('a paginated list follows continue tokens with limit=500 before syncing', async () => {
  const h = await run({
    lists: [
      { items: [obj('a', '5'), obj('b', '6')], continue: 'page-2' },
      { items: [obj('c', '7')], resourceVersion: '9' },
    ],
    watches: [{ events: [], end: 'hang' }],
  });
  await h.reflector.waitForSync();
  await expectEvents(h, ['add default/a 5', 'add default/b 6', 'add default/c 7']);
  assert.deepEqual(h.lists(), [{ limit: '500' }, { limit: '500', continue: 'page-2' }]);
  await waitUntil(() => h.watches().length === 1, 'watch');
  assert.equal(h.watches()[0]?.['resourceVersion'], '9');
});

test('a watch line that is not JSON is an error: backoff, then rewatch from the last resourceVersion', async () => {
  const h = await run({
    lists: [{ items: [], resourceVersion: '10' }],
    watches: [{ events: [added(obj('a', '11')), '{"type": "ADDED", "object": {trunc'], end: 'hang' }, { events: [added(obj('b', '12'))], end: 'hang' }],
  });
  await expectEvents(h, ['add default/a 11', 'add default/b 12']);
  assert.deepEqual(h.watches().map((q) => q['resourceVersion']), ['10', '11']);
});

test('the transform hook shapes every stored object, from lists and from watch events', async () => {
  const dropSpec = (o: KubeObject): KubeObject => ({ metadata: o.metadata });
  const h = await run(
    {
      lists: [{ items: [obj('a', '10', { spec: { nodeName: 'n1' } })], resourceVersion: '10' }],
      watches: [{ events: [added(obj('b', '11', { spec: { nodeName: 'n2' } }))], end: 'hang' }],
    },
    { transform: dropSpec },
  );
  await expectEvents(h, ['add default/a 10', 'add default/b 11']);
  for (const stored of h.store.list()) assert.deepEqual(Object.keys(stored), ['metadata']);
});

test('stop() ends the reflector promptly even while it is backing off', async () => {
  const h = await run({ lists: [{ status: 500 }] }, { backoffInitialMs: 60_000, backoffMaxMs: 60_000 });
  await waitUntil(() => h.lists().length === 1, 'first list');
  const started = Date.now();
  await h.reflector.stop();
  assert.ok(Date.now() - started < 1000, 'stopped without waiting for the backoff');
  assert.equal(h.lists().length, 1);
});

test('watches that close at once with nothing received are retried with growing backoff, not in a tight loop', async () => {
  const closes = Array.from({ length: 5 }, () => ({ events: [], end: 'close' as const }));
  const h = await run(
    { lists: [{ items: [], resourceVersion: '10' }], watches: [...closes, { events: [added(obj('a', '11'))], end: 'hang' }] },
    { backoffInitialMs: 40, backoffMaxMs: 1000 },
  );
  const started = Date.now();
  await expectEvents(h, ['add default/a 11']);
  // Five empty closes sleep at least half of 40, 80, 160, 320 and 640 ms.
  assert.ok(Date.now() - started >= 620, `took ${Date.now() - started} ms`);
  assert.equal(h.watches().length, 6);
});

/** kube_router_reflector_restarts_total for PATH's resource, by cause. */
async function restarts(): Promise<Record<string, number>> {
  const counts: Record<string, number> = { gone: 0, error: 0, idle: 0 };
  for (const v of (await metrics.reflectorRestarts.get()).values) {
    if (v.labels['resource'] === 'pods') counts[String(v.labels['cause'])] = v.value;
  }
  return counts;
}

function increase(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.keys(after).map((cause) => [cause, (after[cause] ?? 0) - (before[cause] ?? 0)]));
}

test('restarts are counted by cause: a failed list and a failed watch as error, a 410 as gone; a normal close is not one', async () => {
  const before = await restarts();
  const h = await run({
    lists: [{ status: 500 }, { items: [obj('a', '10')], resourceVersion: '10' }, { items: [obj('a', '10'), obj('b', '20')], resourceVersion: '20' }],
    watches: [
      { events: [added(obj('c', '11'))], end: 'close' },
      { status: 410, reason: 'Expired' },
      { events: [watchError(500)], end: 'hang' },
      { events: [added(obj('d', '21'))], end: 'hang' },
    ],
  });
  await expectEvents(h, ['add default/a 10', 'add default/c 11', 'add default/b 20', 'delete default/c 11', 'add default/d 21']);
  assert.deepEqual(h.watches().map((q) => q['resourceVersion']), ['10', '11', '20', '20']);
  assert.deepEqual(increase(before, await restarts()), { gone: 1, error: 2, idle: 0 });
});

test('a watch aborted for silence is counted as an idle restart', async () => {
  const before = await restarts();
  const h = await run(
    {
      lists: [{ items: [], resourceVersion: '10' }],
      watches: [{ events: [added(obj('a', '11'))], end: 'hang' }, { events: [added(obj('b', '12'))], end: 'hang' }],
    },
    { idleTimeoutMs: 500 },
  );
  await expectEvents(h, ['add default/a 11', 'add default/b 12']);
  assert.deepEqual(increase(before, await restarts()), { gone: 0, error: 0, idle: 1 });
});
