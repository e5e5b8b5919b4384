// The lab API server under churn: watches that time out, stall or disconnect while objects are created and
// deleted, clients that abort mid-list or mid-body, malformed request targets, subscribers that throw. The
// server must keep serving, and no ended watch may stay subscribed to the store.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { call, pod, startTestServer, WatchReader, type TestServer } from './helpers.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A raw HTTP/1.1 request whose response the client never reads (its socket buffers fill, the server's stall). */
function stalledRequest(base: string, path: string, extra = ''): Promise<Socket> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: lab\r\n${extra}\r\n`);
      resolve(socket);
    });
    socket.on('error', reject);
  });
}

/** One raw request; resolves with the status line (or '' when the server closed without answering). */
function rawRequest(base: string, head: string): Promise<string> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve) => {
    let answer = '';
    const socket = connect(Number(port), hostname, () => socket.write(head));
    socket.on('data', (chunk) => { answer += chunk.toString(); });
    socket.on('error', () => resolve(''));
    socket.on('close', () => resolve(answer.split('\r\n')[0] ?? ''));
  });
}

async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('lab apiserver under churn', { timeout: 60_000 }, () => {
  let server: TestServer;
  let base: string;
  const sockets: Socket[] = [];
  const subscribers = (): number => server.store.objects.subscriberCount;
  const pods = () => server.store.type('', 'pods');
  /** ~8 MB of pods, more than loopback socket buffers hold: a watch listing them stalls on a client that does not read. */
  const fillWithBigPods = (prefix: string): void => {
    const big = 'x'.repeat(40_000);
    for (let i = 0; i < 200; i++) {
      const created = server.store.create(pods(), { ...pod(`${prefix}-${i}`), metadata: { name: `${prefix}-${i}`, namespace: 'default', annotations: { big } } } as never);
      assert.ok(created.ok);
    }
  };
  const removeAll = (prefix: string): void => {
    for (const p of server.store.list(pods(), 'default')) {
      if (p.metadata.name?.startsWith(prefix)) server.store.delete(pods(), 'default', p.metadata.name);
    }
  };

  before(async () => {
    server = await startTestServer({ controllers: false, token: 'churn-token', maxWatchBufferBytes: 256 * 1024 });
    base = server.url;
  });
  after(async () => { for (const s of sockets) s.destroy(); await server.close(); });

  const auth = { Authorization: 'Bearer churn-token' };
  const authLine = 'Authorization: Bearer churn-token\r\n';

  it('a watch that timed out is unsubscribed at once, and a delete right after neither fails nor writes to it', async () => {
    fillWithBigPods('stall');
    const baseline = subscribers();
    const socket = await stalledRequest(base, '/api/v1/pods?watch=true&timeoutSeconds=1', authLine);
    sockets.push(socket);
    await until('the watch to subscribe', () => subscribers() === baseline + 1);
    // the timeout ends the response, but the client reads nothing: the end cannot be flushed, no 'close' comes
    await sleep(1300);
    const deleted = await call(base, 'DELETE', '/api/v1/namespaces/default/pods/stall-1', undefined, 'application/json', auth);
    assert.equal(deleted.status, 200);
    await sleep(50);  // a write after end would surface here as an 'error' on the response
    assert.equal((await call(base, 'GET', '/api/v1/namespaces/default/pods?limit=1', undefined, 'application/json', auth)).status, 200);
    assert.equal(subscribers(), baseline, 'the timed-out watch is still subscribed');
    socket.destroy();
    removeAll('stall');
  });

  it('many short watches, stalled and disconnecting clients racing creates and deletes leave a serving server and no subscribers', async () => {
    fillWithBigPods('bulk');
    const baseline = subscribers();
    const readers: WatchReader[] = [];
    const headers = { ...auth };
    for (let i = 0; i < 30; i++) {
      const timeout = 1 + (i % 2);
      if (i % 3 === 0) sockets.push(await stalledRequest(base, `/api/v1/pods?watch=true&timeoutSeconds=${timeout}`, authLine));
      else readers.push(await WatchReader.open(base, `/api/v1/namespaces/default/pods?watch=true&timeoutSeconds=${timeout}`, headers));
    }
    let churned = 0;
    const failures: string[] = [];
    const churnUntil = Date.now() + 2500;
    let n = 0;
    while (Date.now() < churnUntil) {
      const name = `churn-${n++}`;
      const created = await call(base, 'POST', '/api/v1/namespaces/default/pods', pod(name), 'application/json', auth);
      const deleted = await call(base, 'DELETE', `/api/v1/namespaces/default/pods/${name}`, undefined, 'application/json', auth);
      if (created.status !== 201 || deleted.status !== 200) failures.push(`${name}: ${created.status}/${deleted.status}`);
      // clients that go away mid-stream, some right after an event was written to them
      if (n % 7 === 0) readers[n % readers.length]?.close();
      if (n % 11 === 0) { const bulk = `bulk-${n % 200}`; server.store.delete(pods(), 'default', bulk); }
      churned++;
    }
    assert.deepEqual(failures, []);
    assert.ok(churned > 20, `only ${churned} create/delete rounds`);
    for (const r of readers) r.close();
    for (const s of sockets) s.destroy();
    await until('every ended watch to unsubscribe', () => subscribers() === baseline, 4000);
    // and the server still serves watches: a fresh one sees the next change
    const rv = (await call(base, 'GET', '/api/v1/pods', undefined, 'application/json', auth)).body.metadata.resourceVersion;
    const fresh = await WatchReader.open(base, `/api/v1/namespaces/default/pods?watch=true&resourceVersion=${rv}`, headers);
    await call(base, 'POST', '/api/v1/namespaces/default/pods', pod('after-churn'), 'application/json', auth);
    const event = await fresh.next();
    assert.deepEqual([event.type, event.object.metadata.name], ['ADDED', 'after-churn']);
    fresh.close();
    removeAll('bulk');
  });

  it('a watch whose client stops reading is dropped once it holds more than the buffer limit', async () => {
    const baseline = subscribers();
    const socket = await stalledRequest(base, '/api/v1/pods?watch=true&timeoutSeconds=600', authLine);
    sockets.push(socket);
    await until('the watch to subscribe', () => subscribers() === baseline + 1);
    const big = 'y'.repeat(40_000);
    for (let i = 0; i < 400 && subscribers() > baseline; i++) {
      server.store.create(pods(), { ...pod(`slow-${i}`), metadata: { name: `slow-${i}`, namespace: 'default', annotations: { big } } } as never);
      await sleep(1);
    }
    assert.equal(subscribers(), baseline, 'the stalled watch is still subscribed after ~16 MB of events');
    socket.destroy();
    removeAll('slow');
  });

  it('clients aborting mid-list and mid-body do not disturb the server', async () => {
    fillWithBigPods('list');
    for (let i = 0; i < 5; i++) {
      const socket = await stalledRequest(base, '/api/v1/pods', authLine);
      await sleep(20);
      socket.destroy();
    }
    const { hostname, port } = new URL(base);
    for (let i = 0; i < 5; i++) {
      const socket = connect(Number(port), hostname);
      await new Promise((r) => socket.once('connect', r));
      socket.write(`POST /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: lab\r\n${authLine}Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n{"metadata":`);
      await sleep(20);
      socket.destroy();
    }
    const listed = await call(base, 'GET', '/api/v1/namespaces/default/pods', undefined, 'application/json', auth);
    assert.equal(listed.status, 200);
    assert.equal(listed.body.items.filter((p: { metadata: { name: string } }) => p.metadata.name.startsWith('list-')).length, 200);
    removeAll('list');
  });

  it('a malformed request target is a 400 for that request, and the server goes on serving', async () => {
    assert.equal(await rawRequest(base, `GET //[ HTTP/1.1\r\nHost: lab\r\n${authLine}Connection: close\r\n\r\n`), 'HTTP/1.1 400 Bad Request');
    assert.equal(await rawRequest(base, `GET //[ HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n`), 'HTTP/1.1 401 Unauthorized');
    assert.equal(await rawRequest(base, `GET /api/v1/namespaces/%E0%A4%A/pods HTTP/1.1\r\nHost: lab\r\n${authLine}Connection: close\r\n\r\n`), 'HTTP/1.1 404 Not Found');
    assert.equal((await call(base, 'GET', '/api/v1/namespaces', undefined, 'application/json', auth)).status, 200);
  });

  it('a store subscriber that throws fails neither the write nor the subscribers and watches after it', async () => {
    const rv = (await call(base, 'GET', '/api/v1/pods', undefined, 'application/json', auth)).body.metadata.resourceVersion;
    const watch = await WatchReader.open(base, `/api/v1/namespaces/default/pods?watch=true&resourceVersion=${rv}`, auth);
    await until('the watch to subscribe', () => subscribers() >= 1);
    const unsubscribeBroken = server.store.subscribe(() => { throw new Error('a broken subscriber'); });
    const seen: string[] = [];
    const unsubscribeAfter = server.store.subscribe((event) => { seen.push(`${event.type} ${event.object.metadata.name ?? ''}`); });
    try {
      const created = await call(base, 'POST', '/api/v1/namespaces/default/pods', pod('despite'), 'application/json', auth);
      assert.equal(created.status, 201);
      const deleted = await call(base, 'DELETE', '/api/v1/namespaces/default/pods/despite', undefined, 'application/json', auth);
      assert.equal(deleted.status, 200);
      assert.deepEqual(seen, ['ADDED despite', 'DELETED despite']);
      assert.deepEqual([(await watch.next()).type, (await watch.next()).type], ['ADDED', 'DELETED']);
    } finally {
      unsubscribeBroken();
      unsubscribeAfter();
      watch.close();
    }
  });
});
