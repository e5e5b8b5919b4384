// Watch semantics of the lab API server: resume from a resourceVersion, selectors, bookmarks, 410 Expired, timeouts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { call, pod, startTestServer, WatchReader, type TestServer } from './helpers.ts';

describe('lab apiserver watch', () => {
  let server: TestServer;
  let base: string;
  const readers: WatchReader[] = [];
  const open = async (path: string): Promise<WatchReader> => {
    const reader = await WatchReader.open(base, path);
    readers.push(reader);
    return reader;
  };
  before(async () => { server = await startTestServer({ controllers: false, eventWindow: 8, bookmarkIntervalMs: 100 }); base = server.url; });
  after(async () => { for (const r of readers) r.close(); await server.close(); });

  it('streams ADDED, MODIFIED and DELETED after the listed resourceVersion', async () => {
    await call(base, 'POST', '/api/v1/namespaces/default/pods', pod('before'));
    const rv = (await call(base, 'GET', '/api/v1/namespaces/default/pods')).body.metadata.resourceVersion;
    const watch = await open(`/api/v1/namespaces/default/pods?watch=true&resourceVersion=${rv}`);
    await call(base, 'POST', '/api/v1/namespaces/default/pods', pod('w1'));
    await call(base, 'PATCH', '/api/v1/namespaces/default/pods/w1', { metadata: { labels: { x: 'y' } } }, 'application/merge-patch+json');
    const deleted = await call(base, 'DELETE', '/api/v1/namespaces/default/pods/w1');
    const seen = [await watch.next(), await watch.next(), await watch.next()];
    assert.deepEqual(seen.map((e) => `${e.type} ${e.object.metadata.name}`), ['ADDED w1', 'MODIFIED w1', 'DELETED w1']);
    assert.equal(seen[1]?.object.metadata.labels.x, 'y');
    assert.equal(seen[2]?.object.metadata.resourceVersion, deleted.body.metadata.resourceVersion);
    assert.ok(Number(seen[0]?.object.metadata.resourceVersion) > Number(rv));
  });

  it('a watch without resourceVersion starts with ADDED for every existing object', async () => {
    const watch = await open('/api/v1/namespaces?watch=true');
    const names = new Set<string>();
    for (let i = 0; i < 4; i++) names.add((await watch.next()).object.metadata.name);
    assert.deepEqual([...names].sort(), ['default', 'kube-node-lease', 'kube-public', 'kube-system']);
  });

  it('label selectors turn objects leaving the selection into DELETED and entering into ADDED', async () => {
    await call(base, 'POST', '/api/v1/namespaces/default/pods', pod('sel', { role: 'a' }));
    const rv = (await call(base, 'GET', '/api/v1/pods')).body.metadata.resourceVersion;
    const watch = await open(`/api/v1/namespaces/default/pods?watch=true&resourceVersion=${rv}&labelSelector=role%3Da`);
    const relabel = (role: string) => call(base, 'PATCH', '/api/v1/namespaces/default/pods/sel', { metadata: { labels: { role } } }, 'application/merge-patch+json');
    await relabel('b');
    await relabel('c');   // still outside: nothing
    await relabel('a');
    const first = await watch.next();
    const second = await watch.next();
    assert.deepEqual([first.type, first.object.metadata.labels.role], ['DELETED', 'b']);
    assert.deepEqual([second.type, second.object.metadata.labels.role], ['ADDED', 'a']);
    await assert.rejects(watch.next(300), /no watch event/);
  });

  it('field selectors filter the watch (pods of one node)', async () => {
    const rv = (await call(base, 'GET', '/api/v1/pods')).body.metadata.resourceVersion;
    const watch = await open(`/api/v1/pods?watch=true&resourceVersion=${rv}&fieldSelector=spec.nodeName%3Dnode-a`);
    await call(base, 'POST', '/api/v1/namespaces/default/pods', pod('on-b', {}, { nodeName: 'node-b' }));
    await call(base, 'POST', '/api/v1/namespaces/default/pods', pod('on-a', {}, { nodeName: 'node-a' }));
    const event = await watch.next();
    assert.deepEqual([event.type, event.object.metadata.name], ['ADDED', 'on-a']);
  });

  it('sends BOOKMARK events carrying the current resourceVersion when allowed', async () => {
    const rv = (await call(base, 'GET', '/api/v1/nodes')).body.metadata.resourceVersion;
    const watch = await open(`/api/v1/nodes?watch=true&resourceVersion=${rv}&allowWatchBookmarks=true`);
    await call(base, 'POST', '/api/v1/namespaces/default/pods', pod('bump'));
    const current = (await call(base, 'GET', '/api/v1/nodes')).body.metadata.resourceVersion;
    const bookmark = await watch.next(2000);
    assert.equal(bookmark.type, 'BOOKMARK');
    assert.equal(bookmark.object.kind, 'Node');
    assert.equal(bookmark.object.metadata.resourceVersion, current);
  });

  it('a resourceVersion older than the event window gets an ERROR event with a 410 Expired Status', async () => {
    const old = (await call(base, 'GET', '/api/v1/pods')).body.metadata.resourceVersion;
    for (let i = 0; i < 10; i++) await call(base, 'POST', '/apis/coordination.k8s.io/v1/namespaces/default/leases', { metadata: { name: `churn-${i}` } });
    const watch = await open(`/api/v1/pods?watch=true&resourceVersion=${old}`);
    const event = await watch.next();
    assert.equal(event.type, 'ERROR');
    assert.deepEqual([event.object.kind, event.object.code, event.object.reason], ['Status', 410, 'Expired']);
    await watch.waitEnd();
    const recent = (await call(base, 'GET', '/api/v1/pods')).body.metadata.resourceVersion;
    const fresh = await open(`/api/v1/pods?watch=true&resourceVersion=${recent}&timeoutSeconds=1`);
    await assert.rejects(fresh.next(300), /no watch event/);
  });

  it('a continue token older than the event window is 410 Expired', async () => {
    const page = (await call(base, 'GET', '/apis/coordination.k8s.io/v1/leases?limit=2')).body;
    assert.ok(page.metadata.continue);
    for (let i = 0; i < 10; i++) await call(base, 'DELETE', `/apis/coordination.k8s.io/v1/namespaces/default/leases/churn-${i}`);
    const next = await call(base, 'GET', `/apis/coordination.k8s.io/v1/leases?limit=2&continue=${page.metadata.continue}`);
    assert.deepEqual([next.status, next.body.reason], [410, 'Expired']);
  });

  it('timeoutSeconds ends the stream', async () => {
    const started = Date.now();
    const watch = await open('/api/v1/nodes?watch=true&timeoutSeconds=1');
    await watch.waitEnd(3000);
    assert.ok(Date.now() - started >= 900);
  });
});
