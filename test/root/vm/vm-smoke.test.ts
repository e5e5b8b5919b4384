// Host side of the VM smoke test: boots the Debian-kernel test VM once and runs the in-VM test files
// (IPVS balancing, dummy/IPIP/FoU links, SCTP, netfilter tools) there; passes iff they passed, and checks the boot budget.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { haveCommand } from '../../helpers/netns.ts';
import { runTestFilesInVm, type VmTestRun } from '../../../lab/vm/test-in-vm.ts';

const VM_TEST_FILES = ['test/vm/ipvs-smoke.test.ts', 'test/vm/kernel-features.test.ts', 'test/vm/netfilter-tools.test.ts'];
const BOOT_BUDGET_MS = 10_000;

describe('test VM (Debian 6.1 kernel under qemu)', { skip: haveCommand('qemu-system-x86_64') ? false : 'qemu-system-x86_64 not installed' }, () => {
  let run: VmTestRun;

  before(async () => {
    // all files in one boot and one node process: booting and starting node+tsx are the expensive parts
    run = await runTestFilesInVm(VM_TEST_FILES, { timeoutMs: 180_000 });
  }, { timeout: 240_000 });

  test('the in-VM IPVS, dummy, IPIP, FoU, SCTP and netfilter tool tests pass', (t) => {
    t.diagnostic(`build ${run.buildMs} ms, boot-to-test-start ${run.bootMs} ms, total ${run.totalMs} ms`);
    assert.ok(run.passed, `in-VM tests failed (exit ${run.exitCode}):\n${run.output}\n${run.error ?? ''}`);
  });

  test(`the VM boots to test start in under ${BOOT_BUDGET_MS / 1000} s`, () => {
    assert.ok(run.bootMs !== null, `the test never started in the VM:\n${run.error ?? ''}`);
    assert.ok(run.bootMs < BOOT_BUDGET_MS, `boot to test start took ${run.bootMs} ms`);
  });
});
