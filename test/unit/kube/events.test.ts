// The EventRecorder against a loopback API server: the Event body it creates, repeats folded into a
// count by PATCH, the rate limit, and API failures that never reach the caller.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { KubeClient } from '../../../src/kube/client.ts';
import { EventRecorder } from '../../../src/observe/events.ts';
import { FakeApiServer, sendJson, status, type SeenRequest } from './fake-apiserver.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Server that stores created Events; `failNext` answers the next N writes with that status. */
async function eventServer() {
  const server = await FakeApiServer.start();
  const writes: SeenRequest[] = [];
  const failures: number[] = [];
  server.extra = (req, res) => {
    writes.push(req);
    const fail = failures.shift();
    if (fail) sendJson(res, fail, status(fail));
    else sendJson(res, req.method === 'POST' ? 201 : 200, JSON.parse(req.body || '{}') as object);
    return true;
  };
  const client = new KubeClient({ server: server.url, insecureSkipTlsVerify: false, source: 'test' });
  cleanups.push(async () => {
    await client.close();
    await server.close();
  });
  return { client, writes, failures };
}

const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { namespace: 'web', name: 'web-1', uid: 'uid-1', resourceVersion: '7' } };
const node = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-a', uid: 'uid-n' } };

test('an event is created in the object namespace with involvedObject, reason, type and source', async () => {
  const { client, writes } = await eventServer();
  const recorder = new EventRecorder({ client, host: 'node-a', now: () => Date.parse('2026-01-02T03:04:05.678Z') });
  recorder.record(pod, 'Warning', 'InvalidAnnotation', 'bad scheduler "xx"');
  recorder.record(node, 'Normal', 'BGPUp', 'peer up');
  await recorder.flush();
  assert.deepEqual(writes.map((w) => `${w.method} ${w.path}`), ['POST /api/v1/namespaces/web/events', 'POST /api/v1/namespaces/default/events']);
  const event = JSON.parse(writes[0]!.body) as Record<string, unknown>;
  assert.match(String((event['metadata'] as { name: string }).name), /^web-1\.[0-9a-f]+$/);
  assert.deepEqual(event['involvedObject'], { kind: 'Pod', apiVersion: 'v1', name: 'web-1', namespace: 'web', uid: 'uid-1', resourceVersion: '7' });
  assert.equal(event['reason'], 'InvalidAnnotation');
  assert.equal(event['type'], 'Warning');
  assert.equal(event['count'], 1);
  assert.equal(event['firstTimestamp'], '2026-01-02T03:04:05Z');
  assert.deepEqual(event['source'], { component: 'kube-router', host: 'node-a' });
  assert.equal((JSON.parse(writes[1]!.body) as { involvedObject: { namespace?: string } }).involvedObject.namespace, undefined);
});

test('repeats of the same object, reason and message patch count and lastTimestamp of one Event', async () => {
  const { client, writes } = await eventServer();
  let now = Date.parse('2026-01-02T03:00:00Z');
  const recorder = new EventRecorder({ client, host: 'node-a', now: () => now });
  recorder.record(pod, 'Warning', 'SyncFailed', 'ipset restore failed');
  now += 10_000;
  recorder.record(pod, 'Warning', 'SyncFailed', 'ipset restore failed');
  now += 10_000;
  recorder.record(pod, 'Warning', 'SyncFailed', 'ipset restore failed');
  recorder.record(pod, 'Warning', 'SyncFailed', 'another message');
  await recorder.flush();
  assert.deepEqual(writes.map((w) => w.method), ['POST', 'PATCH', 'PATCH', 'POST']);
  const name = (JSON.parse(writes[0]!.body) as { metadata: { name: string } }).metadata.name;
  assert.equal(writes[1]!.path, `/api/v1/namespaces/web/events/${name}`);
  assert.equal(writes[1]!.headers['content-type'], 'application/merge-patch+json');
  assert.deepEqual(JSON.parse(writes[1]!.body), { count: 2, lastTimestamp: '2026-01-02T03:00:10Z', message: 'ipset restore failed' });
  assert.deepEqual(JSON.parse(writes[2]!.body), { count: 3, lastTimestamp: '2026-01-02T03:00:20Z', message: 'ipset restore failed' });
});

test('when the aggregated Event has expired (404 on PATCH) a new Event is created', async () => {
  const { client, writes, failures } = await eventServer();
  const recorder = new EventRecorder({ client, host: 'node-a' });
  recorder.record(pod, 'Normal', 'Synced', 'ok');
  await recorder.flush();
  failures.push(404);
  recorder.record(pod, 'Normal', 'Synced', 'ok');
  await recorder.flush();
  assert.deepEqual(writes.map((w) => w.method), ['POST', 'PATCH', 'POST']);
  assert.equal((JSON.parse(writes[2]!.body) as { count: number }).count, 1);
});

test('API failures are swallowed and later events still go out', async () => {
  const { client, writes, failures } = await eventServer();
  const recorder = new EventRecorder({ client, host: 'node-a' });
  failures.push(500, 403);
  recorder.record(pod, 'Warning', 'A', 'one');
  recorder.record(pod, 'Warning', 'B', 'two');
  recorder.record(pod, 'Warning', 'C', 'three');
  await recorder.flush();
  assert.deepEqual(writes.map((w) => (JSON.parse(w.body) as { reason: string }).reason), ['A', 'B', 'C']);
  const deadClient = new KubeClient({ server: 'http://127.0.0.1:1', insecureSkipTlsVerify: false, source: 'test' });
  const unreachable = new EventRecorder({ client: deadClient, host: 'n' });
  unreachable.record(pod, 'Warning', 'X', 'y');
  await unreachable.flush();
  await deadClient.close();
});

test('beyond the burst, events are dropped until the bucket refills', async () => {
  const { client, writes } = await eventServer();
  let now = 0;
  const recorder = new EventRecorder({ client, host: 'node-a', burst: 2, refillPerSecond: 1, now: () => now });
  for (const reason of ['A', 'B', 'C', 'D']) recorder.record(pod, 'Normal', reason, 'm');
  now += 1000;
  recorder.record(pod, 'Normal', 'E', 'm');
  await recorder.flush();
  assert.deepEqual(writes.map((w) => (JSON.parse(w.body) as { reason: string }).reason), ['A', 'B', 'E']);
  assert.equal(recorder.dropped, 2);
});
