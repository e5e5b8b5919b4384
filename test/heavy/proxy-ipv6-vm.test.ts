// Heavy (make test-heavy, make test-proxy): the IPv6 / dual-stack service proxy test. The host kernel has no IPVS, so
// this boots the Debian-kernel test VM once and runs test/vm/proxy-ipv6.test.ts there (real TCP/UDP over IPv6 and
// both families through the proxy). Several minutes under emulation, hence not in `make test`.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { haveCommand } from '../helpers/netns.ts';
import { runTestFileInVm, type VmTestRun } from '../../lab/vm/test-in-vm.ts';

const skip = !haveCommand('qemu-system-x86_64') || !haveCommand('socat') ? 'needs qemu-system-x86_64 and socat' : false;

describe('service proxy over IPv6 and dual-stack in the test VM', { skip }, () => {
  let run: VmTestRun;

  before(async () => {
    run = await runTestFileInVm('test/vm/proxy-ipv6.test.ts', { timeoutMs: 540_000 });
  }, { timeout: 600_000 });

  test('in the VM, IPv6 and dual-stack Services answer from pods, the node and outside', (t) => {
    t.diagnostic(`build ${run.buildMs} ms, boot-to-test-start ${run.bootMs} ms, total ${run.totalMs} ms`);
    // The in-VM result of each test with its duration, so slow steps show in the host report.
    for (const line of run.output.split('\n')) if (/^\s*[✔✖] /.test(line)) t.diagnostic(line.trim());
    assert.ok(run.passed, `in-VM test failed (exit ${run.exitCode}):\n${run.output}\n${run.error ?? ''}`);
    assert.match(run.output, /(?:ℹ|#) pass [1-9]/, `no in-VM test passed:\n${run.output}`);
    assert.match(run.output, /(?:ℹ|#) fail 0/, `in-VM tests failed:\n${run.output}`);
    assert.match(run.output, /(?:ℹ|#) skipped 0/, `in-VM tests were skipped:\n${run.output}`);
  });
});
