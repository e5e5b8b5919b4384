// The daemon fixes V8's heap growing factor (see src/cli/heap-growth.ts), unless node was started with its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { HEAP_GROWING_PERCENT, limitHeapGrowth } from '../../../src/cli/heap-growth.ts';

test('the daemon sets the heap growing factor, and leaves one given on the node command line alone', () => {
  const set: string[] = [];
  assert.equal(limitHeapGrowth([], (f) => set.push(f)), true);
  assert.deepEqual(set, [`--heap-growing-percent=${HEAP_GROWING_PERCENT}`]);
  assert.equal(limitHeapGrowth(['--heap-growing-percent=80'], (f) => set.push(f)), false);
  assert.equal(limitHeapGrowth(['--heap_growing_percent', '80'], (f) => set.push(f)), false);
  assert.equal(set.length, 1);
});

test('V8 knows the flag when set at run time (a misspelled one only prints "unrecognized flag" and changes nothing)', () => {
  const r = spawnSync(process.execPath, ['-e', `require('node:v8').setFlagsFromString('--heap-growing-percent=${HEAP_GROWING_PERCENT}')`], { encoding: 'utf8' });
  assert.equal(r.status, 0);
  assert.doesNotMatch(r.stderr, /unknown|unrecognized|Error/i);
});
