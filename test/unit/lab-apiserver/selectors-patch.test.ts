// Pure pieces of the lab API server: label/field selector parsing and matching, the three patch formats, CIDR math.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { labelsMatch, parseFieldSelector, parseLabelSelector, fieldsMatch } from '../../../lab/apiserver/selectors.ts';
import { jsonPatch, mergePatch, strategicMerge } from '../../../lab/apiserver/patch.ts';
import { formatCidr, parseCidr, type Cidr } from '../../../src/net/cidr.ts';
import { nextFreeBlock } from '../../../lab/controllers/pod-cidr.ts';

describe('label selectors', () => {
  const cases: [string, Record<string, string>, boolean][] = [
    ['app=web', { app: 'web' }, true],
    ['app==web', { app: 'db' }, false],
    ['app!=web', {}, true],
    ['app!=web', { app: 'web' }, false],
    ['env in (prod, staging)', { env: 'staging' }, true],
    ['env in (prod)', {}, false],
    ['env notin (prod)', {}, true],
    ['env notin (prod)', { env: 'prod' }, false],
    ['canary', { canary: '' }, true],
    ['!canary', { canary: '' }, false],
    ['app=web,env in (a,b),!canary', { app: 'web', env: 'b' }, true],
    ['example.com/tier=x', { 'example.com/tier': 'x' }, true],
    ['', { anything: 'x' }, true],
  ];
  for (const [selector, labels, expected] of cases) {
    it(`"${selector}" ${expected ? 'selects' : 'rejects'} ${JSON.stringify(labels)}`, () => {
      const parsed = parseLabelSelector(selector);
      assert.ok(parsed.ok);
      assert.equal(labelsMatch(parsed.value, labels), expected);
    });
  }
  it('rejects malformed selectors with 400', () => {
    const parsed = parseLabelSelector('app in prod');
    assert.ok(!parsed.ok && parsed.error.code === 400);
  });
  it('field selectors compare dotted paths, with != too', () => {
    const object = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { nodeName: 'n1' }, status: { phase: 'Running' } };
    const parsed = parseFieldSelector('spec.nodeName=n1,status.phase!=Succeeded,metadata.name==p');
    assert.ok(parsed.ok);
    assert.equal(fieldsMatch(parsed.value, object), true);
    const other = parseFieldSelector('spec.nodeName=n2');
    assert.ok(other.ok);
    assert.equal(fieldsMatch(other.value, object), false);
  });
});

describe('patches', () => {
  it('JSON merge patch replaces lists and deletes null fields', () => {
    assert.deepEqual(mergePatch({ a: 1, b: { c: 2, d: 3 }, l: [1, 2] }, { b: { c: null, e: 4 }, l: [3] }), { a: 1, b: { d: 3, e: 4 }, l: [3] });
  });

  it('strategic merge merges containers by name and their ports by containerPort, and replaces unkeyed lists', () => {
    const pod = { spec: { containers: [{ name: 'a', image: 'x', ports: [{ containerPort: 80 }] }, { name: 'b', image: 'y' }], tolerations: [{ key: 't' }] } };
    const patched = strategicMerge('Pod', '', pod, { spec: { containers: [{ name: 'a', ports: [{ containerPort: 81 }] }, { name: 'c', image: 'z' }], tolerations: [{ key: 'u' }] } });
    assert.deepEqual(patched, { spec: {
      containers: [{ name: 'a', image: 'x', ports: [{ containerPort: 80 }, { containerPort: 81 }] }, { name: 'b', image: 'y' }, { name: 'c', image: 'z' }],
      tolerations: [{ key: 'u' }] } });
  });

  it('strategic merge honours $patch delete/replace, $setElementOrder, $deleteFromPrimitiveList and $retainKeys', () => {
    const svc = { metadata: { finalizers: ['a', 'b'] }, spec: { ports: [{ port: 80, name: 'http' }, { port: 443, name: 'tls' }], selector: { app: 'x', old: 'y' } } };
    const patched = strategicMerge('Service', '', svc, {
      metadata: { '$deleteFromPrimitiveList/finalizers': ['a'], finalizers: ['c'] },
      spec: { '$setElementOrder/ports': [{ port: 443 }, { port: 8080 }], ports: [{ port: 80, $patch: 'delete' }, { port: 8080, name: 'alt' }],
        selector: { $patch: 'replace', app: 'z' } },
    });
    assert.deepEqual(patched, { metadata: { finalizers: ['b', 'c'] },
      spec: { ports: [{ port: 443, name: 'tls' }, { port: 8080, name: 'alt' }], selector: { app: 'z' } } });
    assert.deepEqual(strategicMerge('Pod', '', { spec: { a: 1, b: 2 } }, { spec: { $retainKeys: ['b', 'c'], c: 3 } }), { spec: { b: 2, c: 3 } });
  });

  it('JSON patch applies add/replace/remove/move/copy/test and fails atomically', () => {
    const result = jsonPatch({ a: { b: [1, 2] }, c: 'x' }, [
      { op: 'add', path: '/a/b/-', value: 3 }, { op: 'replace', path: '/c', value: 'y' }, { op: 'copy', from: '/c', path: '/d' },
      { op: 'move', from: '/d', path: '/e~1f' }, { op: 'remove', path: '/a/b/0' }, { op: 'test', path: '/c', value: 'y' },
    ]);
    assert.ok(result.ok);
    assert.deepEqual(result.value, { a: { b: [2, 3] }, c: 'y', 'e/f': 'y' });
    const failed = jsonPatch({ a: 1 }, [{ op: 'replace', path: '/a', value: 2 }, { op: 'remove', path: '/missing' }]);
    assert.ok(!failed.ok && failed.error.code === 422);
  });
});

describe('CIDR arithmetic', () => {
  it('finds the first block not overlapping used ones, including wider used blocks', () => {
    const cidr = (text: string): Cidr => { const p = parseCidr(text); assert.ok(p.ok, text); return p.value; };
    const block = nextFreeBlock(cidr('198.18.0.0/16'), 24, ['198.18.0.0/23', '198.18.3.0/24'].map(cidr));
    assert.equal(block && formatCidr(block), '198.18.2.0/24');
  });
});
