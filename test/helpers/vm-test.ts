// The host side's verdict on a test file run in the Debian-kernel VM (lab/vm/test-in-vm.ts): it exited 0, some
// in-VM test passed and none failed or was skipped (a skipped or empty in-VM run also exits 0). Each in-VM
// test's result line, with its duration, goes to the host report so slow steps show there.
import assert from 'node:assert/strict';
import { before, describe, test, type TestContext } from 'node:test';
import { runTestFileInVm, type VmTestRun } from '../../lab/vm/test-in-vm.ts';
import { haveCommand } from './netns.ts';

export function assertInVmRunPassed(t: TestContext, run: VmTestRun): void {
  t.diagnostic(`build ${run.buildMs} ms, boot-to-test-start ${run.bootMs} ms, total ${run.totalMs} ms`);
  for (const line of run.output.split('\n')) if (/^\s*[✔✖]/.test(line)) t.diagnostic(line.trim());
  assert.ok(run.passed, `in-VM test failed (exit ${run.exitCode}):\n${run.output}\n${run.error ?? ''}`);
  assert.match(run.output, /(?:ℹ|#) pass [1-9]/, `no in-VM test passed:\n${run.output}`);
  assert.match(run.output, /(?:ℹ|#) fail 0/, `in-VM tests failed:\n${run.output}`);
  assert.match(run.output, /(?:ℹ|#) skipped 0/, `in-VM tests were skipped:\n${run.output}`);
}

/**
 * A host-side suite for what the host kernel lacks (IPVS, SCTP): boots the VM once, runs `file` there (at most
 * `timeoutMs`, plus a minute for the boot) and passes iff the in-VM run passed (assertInVmRunPassed).
 */
export function vmTestSuite(suite: string, file: string, timeoutMs: number, testName: string): void {
  const skip = !haveCommand('qemu-system-x86_64') || !haveCommand('socat') ? 'needs qemu-system-x86_64 and socat' : false;
  describe(suite, { skip }, () => {
    let run: VmTestRun;
    before(async () => {
      run = await runTestFileInVm(file, { timeoutMs });
    }, { timeout: timeoutMs + 60_000 });
    test(testName, (t) => {
      assertInVmRunPassed(t, run);
    });
  });
}
