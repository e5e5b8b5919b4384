// Deletion semantics of the lab API: graceful pod deletion finalized by a kubelet or by grace expiry, finalizers, namespace cascade.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LabApi } from '../../../lab/apiserver/api.ts';
import type { KubeObject } from '../../../lab/apiserver/resources.ts';
import { call, pod, startTestServer } from './helpers.ts';

const scheduledPod = (name: string, grace?: number): KubeObject => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' },
  spec: { nodeName: 'node-1', containers: [{ name: 'c', image: 'x' }], ...(grace !== undefined ? { terminationGracePeriodSeconds: grace } : {}) },
});

describe('lab apiserver deletion', () => {
  it('deleting a scheduled pod only sets deletionTimestamp; a kubelet DELETE with gracePeriodSeconds=0 removes it', async () => {
    const server = await startTestServer({ controllers: false });
    try {
      await call(server.url, 'POST', '/api/v1/namespaces/default/pods', pod('graceful', {}, { nodeName: 'node-1' }));
      const first = await call(server.url, 'DELETE', '/api/v1/namespaces/default/pods/graceful');
      assert.equal(first.status, 200);
      assert.ok(first.body.metadata.deletionTimestamp);
      assert.equal(first.body.metadata.deletionGracePeriodSeconds, 30);
      assert.ok(Date.parse(first.body.metadata.deletionTimestamp) > Date.now() + 25_000);
      assert.equal((await call(server.url, 'GET', '/api/v1/namespaces/default/pods/graceful')).status, 200);
      const final = await call(server.url, 'DELETE', '/api/v1/namespaces/default/pods/graceful', { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 0,
        preconditions: { uid: first.body.metadata.uid } });
      assert.equal(final.status, 200);
      assert.equal((await call(server.url, 'GET', '/api/v1/namespaces/default/pods/graceful')).status, 404);
    } finally { await server.close(); }
  });

  it('an unscheduled pod is removed at once and a wrong uid precondition is a 409', () => {
    const api = new LabApi();
    const pods = api.type('', 'pods');
    const created = api.create(pods, { ...scheduledPod('unscheduled'), spec: { containers: [{ name: 'c', image: 'x' }] } });
    assert.ok(created.ok);
    const wrong = api.delete(pods, 'default', 'unscheduled', { preconditions: { uid: 'other' } });
    assert.equal(wrong.ok ? 0 : wrong.error.code, 409);
    assert.ok(api.delete(pods, 'default', 'unscheduled').ok);
    assert.equal(api.get(pods, 'default', 'unscheduled').ok, false);
  });

  it('a gracefully deleted pod disappears by itself once its grace period ends', async () => {
    const api = new LabApi();
    const pods = api.type('', 'pods');
    api.create(pods, scheduledPod('short', 1));
    const marked = api.delete(pods, 'default', 'short');
    assert.ok(marked.ok && marked.value.metadata.deletionTimestamp);
    assert.ok(api.get(pods, 'default', 'short').ok);
    await new Promise((r) => setTimeout(r, 1300));
    assert.equal(api.get(pods, 'default', 'short').ok, false);
    api.close();
  });

  it('objects with finalizers stay until the last finalizer is removed', () => {
    const api = new LabApi();
    const services = api.type('', 'services');
    api.create(services, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'fin', namespace: 'default', finalizers: ['lab/hold'] }, spec: { ports: [{ port: 80 }] } });
    const marked = api.delete(services, 'default', 'fin');
    assert.ok(marked.ok && marked.value.metadata.deletionTimestamp);
    const current = api.get(services, 'default', 'fin');
    assert.ok(current.ok);
    const released = api.update(services, { ...current.value, metadata: { ...current.value.metadata, finalizers: [] } });
    assert.ok(released.ok);
    assert.equal(api.get(services, 'default', 'fin').ok, false);
  });

  it('deleting a namespace removes the objects in it', () => {
    const api = new LabApi();
    const namespaces = api.type('', 'namespaces');
    api.create(namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'gone' } });
    api.create(api.type('', 'pods'), { ...scheduledPod('inside'), metadata: { name: 'inside', namespace: 'gone' } });
    api.create(api.type('coordination.k8s.io', 'leases'), { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'l', namespace: 'gone' } });
    assert.ok(api.delete(namespaces, undefined, 'gone').ok);
    assert.deepEqual(api.list(api.type('', 'pods'), 'gone'), []);
    assert.deepEqual(api.list(api.type('coordination.k8s.io', 'leases'), 'gone'), []);
    assert.equal(api.get(namespaces, undefined, 'gone').ok, false);
  });
});
