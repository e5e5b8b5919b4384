// The demo's Service lines: which pods answered how often and the client addresses they saw, or why nothing did
// (the heavy test test/heavy/demo-services-vm.test.ts drives the same lines with real packets in the VM).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeTally } from '../../../lab/demo/services.ts';

describe('demo Service narration', () => {
  it('names every answering pod with its count, sorted, and the client addresses they reported', () => {
    const line = describeTally({ tries: 7, answers: new Map([
      ['demo/web-2', { count: 3, clients: new Set(['198.51.100.11']) }],
      ['demo/web-1', { count: 3, clients: new Set(['198.51.100.254', '198.51.100.11']) }],
    ]) });
    assert.equal(line, '6/7 connections answered by demo/web-1 ×3 (saw 198.51.100.11 and 198.51.100.254), demo/web-2 ×3 (saw 198.51.100.11)');
  });

  it('says why nothing answered, from the last failed probe', () => {
    const line = describeTally({ tries: 4, answers: new Map(), lastFailure: { connected: false, error: 'timeout', detail: 'no reply in 1000 ms', ms: 1000 } });
    assert.equal(line, 'no answer in 4 connections (timeout: no reply in 1000 ms)');
  });
});
