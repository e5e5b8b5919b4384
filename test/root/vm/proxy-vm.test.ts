// Host side of the service proxy test: the host kernel has no IPVS, so this boots the Debian-kernel test VM once
// and runs test/vm/proxy.test.ts there (real TCP/UDP/SCTP through the proxy's IPVS, addresses and rules).
import { before, describe, test } from 'node:test';
import { haveCommand } from '../../helpers/netns.ts';
import { runTestFileInVm, type VmTestRun } from '../../../lab/vm/test-in-vm.ts';
import { assertInVmRunPassed } from '../../helpers/vm-test.ts';

const skip = !haveCommand('qemu-system-x86_64') || !haveCommand('socat') ? 'needs qemu-system-x86_64 and socat' : false;

describe('service proxy in the test VM', { skip }, () => {
  let run: VmTestRun;

  before(async () => {
    run = await runTestFileInVm('test/vm/proxy.test.ts', { timeoutMs: 420_000 });
  }, { timeout: 480_000 });

  test('in the VM, Services answer from pods, the node and outside as Kubernetes promises', (t) => {
    assertInVmRunPassed(t, run);
  });
});
