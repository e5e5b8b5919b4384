// Host side of the service proxy test: the host kernel has no IPVS, so this boots the Debian-kernel test VM once
// and runs test/vm/proxy.test.ts there (real TCP/UDP/SCTP through the proxy's IPVS, addresses and rules).
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { haveCommand } from '../../helpers/netns.ts';
import { runTestFileInVm, type VmTestRun } from '../../../lab/vm/test-in-vm.ts';

const skip = !haveCommand('qemu-system-x86_64') || !haveCommand('socat') ? 'needs qemu-system-x86_64 and socat' : false;

describe('service proxy in the test VM', { skip }, () => {
  let run: VmTestRun;

  before(async () => {
    run = await runTestFileInVm('test/vm/proxy.test.ts', { timeoutMs: 420_000 });
  }, { timeout: 480_000 });

  test('in the VM, Services answer from pods, the node and outside as Kubernetes promises', (t) => {
    t.diagnostic(`build ${run.buildMs} ms, boot-to-test-start ${run.bootMs} ms, total ${run.totalMs} ms`);
    // The in-VM result of each test with its duration, so slow steps show in the host report.
    for (const line of run.output.split('\n')) if (/^\s*[✔✖] /.test(line)) t.diagnostic(line.trim());
    assert.ok(run.passed, `in-VM test failed (exit ${run.exitCode}):\n${run.output}\n${run.error ?? ''}`);
    assert.match(run.output, /(?:ℹ|#) pass [1-9]/, `no in-VM test passed:\n${run.output}`);
    assert.match(run.output, /(?:ℹ|#) fail 0/, `in-VM tests failed:\n${run.output}`);
    assert.match(run.output, /(?:ℹ|#) skipped 0/, `in-VM tests were skipped:\n${run.output}`);
  });
});
