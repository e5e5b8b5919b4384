// The cache's shared values: one copy per distinct value, tables that never grow past their bound.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedLabels, sharedString, sharedStructure, sharedValueCounts } from '../../../src/kube/shared-values.ts';

const fresh = (s: string): string => JSON.parse(JSON.stringify(s)) as string;

test('equal values come back as one copy', () => {
  const a = sharedString(fresh('node-a'));
  assert.equal(sharedString(fresh('node-a')), a);
  assert.equal(sharedString(undefined), undefined);
  const labels = sharedLabels({ app: fresh('web') })!;
  assert.equal(sharedLabels({ app: fresh('web') }), labels);
  assert.notEqual(sharedLabels({ app: 'db' }), labels);
  const ports = sharedStructure([{ name: 'http', port: 80 }]);
  assert.equal(sharedStructure([{ name: 'http', port: 80 }]), ports);
  assert.ok(Object.isFrozen(ports) && Object.isFrozen(ports[0]));
});

test('a table full of distinct values starts over instead of growing', () => {
  for (let i = 0; i < 70_000; i++) sharedString(`distinct-${i}`);
  assert.ok(sharedValueCounts().strings <= 65_536, `${sharedValueCounts().strings} strings kept`);
  for (let i = 0; i < 17_000; i++) sharedLabels({ name: `pod-${i}` });
  assert.ok(sharedValueCounts().labelMaps <= 16_384);
  // still correct after starting over
  assert.deepEqual(sharedLabels({ name: 'pod-1' }), { name: 'pod-1' });
});
