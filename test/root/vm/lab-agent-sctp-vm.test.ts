// Host side of the lab agent SCTP test: the host kernel has no SCTP, so this boots the Debian-kernel test VM and runs
// test/vm/lab-agent-sctp.test.ts there.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { haveCommand } from '../../helpers/netns.ts';
import { runTestFileInVm, type VmTestRun } from '../../../lab/vm/test-in-vm.ts';

const skip = !haveCommand('qemu-system-x86_64') || !haveCommand('socat') ? 'needs qemu-system-x86_64 and socat' : false;

describe('lab pod agent and SCTP in the test VM', { skip }, () => {
  let run: VmTestRun;

  before(async () => {
    run = await runTestFileInVm('test/vm/lab-agent-sctp.test.ts', { timeoutMs: 120_000 });
  }, { timeout: 180_000 });

  test('in the VM, a lab pod whose SCTP listeners are refused during the module autoload retries and listens on all of them', (t) => {
    t.diagnostic(`build ${run.buildMs} ms, boot-to-test-start ${run.bootMs} ms, total ${run.totalMs} ms`);
    assert.ok(run.passed, `in-VM test failed (exit ${run.exitCode}):\n${run.output}\n${run.error ?? ''}`);
    assert.match(run.output, /(?:ℹ|#) pass [1-9]/, `no in-VM test passed:\n${run.output}`);
    assert.match(run.output, /(?:ℹ|#) fail 0/, `in-VM tests failed:\n${run.output}`);
    assert.match(run.output, /(?:ℹ|#) skipped 0/, `in-VM tests were skipped:\n${run.output}`);
  });
});
