// Host side of the overlay VM test: boots the Debian-kernel test VM (the host kernel has no ipip/fou) and runs
// test/vm/overlay.test.ts (injector + overlay fed best paths: ipip and fou across a router between two subnets,
// orphan removal, overlay off) there; passes iff it passed, within the VM time budget. The full-controller variant
// (real gobgpd over iBGP, CNI pods) is the heavier test/heavy/overlay-bgp-vm.test.ts (make test-heavy).
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { haveCommand } from '../../helpers/netns.ts';
import { runTestFilesInVm, type VmTestRun } from '../../../lab/vm/test-in-vm.ts';

// Measured on the shared 2-core host: boot 4-7 s, node+tsx and the imports 20-40 s under TCG, the injector file
// 26-66 s (load averages 4-9). The budget catches hangs and retry loops, not load.
const VM_BUDGET_MS = 180_000;

describe('overlay tunnels in the test VM', { skip: haveCommand('qemu-system-x86_64') ? false : 'qemu-system-x86_64 not installed' }, () => {
  let run: VmTestRun;

  before(async () => {
    run = await runTestFilesInVm(['test/vm/overlay.test.ts'], { timeoutMs: 240_000 });
  }, { timeout: 300_000 });

  test('the in-VM overlay tests pass (ipip and fou pod traffic across subnets, stale tunnels removed, overlay off cleans up, real controller over iBGP)', (t) => {
    t.diagnostic(`build ${run.buildMs} ms, boot-to-test-start ${run.bootMs} ms, total ${run.totalMs} ms`);
    for (const line of run.output.split('\n')) if (/^\s*[✔✖]/.test(line)) t.diagnostic(line.trim());
    assert.ok(run.passed, `in-VM tests failed (exit ${run.exitCode}):\n${run.output}\n${run.error ?? ''}`);
  });

  test(`the VM run stays under ${VM_BUDGET_MS / 1000} s`, () => {
    assert.ok(run.totalMs < VM_BUDGET_MS, `VM run took ${run.totalMs} ms`);
  });
});
