// Host side of the IPVS handle test: boots the Debian-kernel test VM (the host kernel has no IPVS) and runs
// test/vm/ipvs-codec.test.ts there (services, destinations, timeouts over generic netlink checked with ipvsadm,
// the FakeIpvs cases against the kernel, a 1,000 x 10 batch against ipvsadm -R); passes iff it passed.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { haveCommand } from '../../helpers/netns.ts';
import { runTestFilesInVm, type VmTestRun } from '../../../lab/vm/test-in-vm.ts';

// The batch comparison runs ipvsadm -R of 11,000 lines under TCG; the budget catches hangs, not load.
const VM_BUDGET_MS = 240_000;

describe('the Ipvs handle in the test VM', { skip: haveCommand('qemu-system-x86_64') ? false : 'qemu-system-x86_64 not installed' }, () => {
  let run: VmTestRun;

  before(async () => {
    run = await runTestFilesInVm(['test/vm/ipvs-codec.test.ts'], { timeoutMs: VM_BUDGET_MS });
  }, { timeout: VM_BUDGET_MS + 60_000 });

  test('the in-VM IPVS handle tests pass (ipvsadm agrees at each step, the fake answers as the kernel does)', (t) => {
    t.diagnostic(`build ${run.buildMs} ms, boot-to-test-start ${run.bootMs} ms, total ${run.totalMs} ms`);
    for (const line of run.output.split('\n')) if (/^\s*[✔✖]|ipvs (batch|dump):/.test(line)) t.diagnostic(line.trim());
    assert.ok(run.passed, `in-VM tests failed (exit ${run.exitCode}):\n${run.output}\n${run.error ?? ''}`);
  });
});
