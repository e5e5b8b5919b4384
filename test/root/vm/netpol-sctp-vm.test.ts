// Host side of the netpol SCTP test: the host kernel has no SCTP, so this boots the Debian-kernel test VM once
// and runs test/vm/netpol-sctp.test.ts there (both controller backends); passes iff it passed in the VM.
import { before, describe, test } from 'node:test';
import { haveCommand } from '../../helpers/netns.ts';
import { runTestFileInVm, type VmTestRun } from '../../../lab/vm/test-in-vm.ts';
import { assertInVmRunPassed } from '../../helpers/vm-test.ts';

const skip = !haveCommand('qemu-system-x86_64') || !haveCommand('socat') ? 'needs qemu-system-x86_64 and socat' : false;

describe('netpol controller and SCTP in the test VM', { skip }, () => {
  let run: VmTestRun;

  before(async () => {
    run = await runTestFileInVm('test/vm/netpol-sctp.test.ts', { timeoutMs: 240_000 });
  }, { timeout: 300_000 });

  test('in the VM, SCTP port rules admit only SCTP and TCP port rules only TCP, on iptables and nftables', (t) => {
    assertInVmRunPassed(t, run);
  });
});
