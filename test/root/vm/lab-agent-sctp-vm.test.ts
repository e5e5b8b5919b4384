// Host side of the lab agent SCTP test: the host kernel has no SCTP, so this boots the Debian-kernel test VM and runs
// test/vm/lab-agent-sctp.test.ts there.
import { before, describe, test } from 'node:test';
import { haveCommand } from '../../helpers/netns.ts';
import { runTestFileInVm, type VmTestRun } from '../../../lab/vm/test-in-vm.ts';
import { assertInVmRunPassed } from '../../helpers/vm-test.ts';

const skip = !haveCommand('qemu-system-x86_64') || !haveCommand('socat') ? 'needs qemu-system-x86_64 and socat' : false;

describe('lab pod agent and SCTP in the test VM', { skip }, () => {
  let run: VmTestRun;

  before(async () => {
    run = await runTestFileInVm('test/vm/lab-agent-sctp.test.ts', { timeoutMs: 120_000 });
  }, { timeout: 180_000 });

  test('in the VM, a lab pod whose SCTP listeners are refused during the module autoload retries and listens on all of them', (t) => {
    assertInVmRunPassed(t, run);
  });
});
