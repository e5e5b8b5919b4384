// Heavy (make test-heavy, make test-proxy): the IPv6 / dual-stack service proxy test. The host kernel has no IPVS, so
// this boots the Debian-kernel test VM once and runs test/vm/proxy-ipv6.test.ts there (real TCP/UDP over IPv6 and
// both families through the proxy). Several minutes under emulation, hence not in `make test`.
import { before, describe, test } from 'node:test';
import { haveCommand } from '../helpers/netns.ts';
import { runTestFileInVm, type VmTestRun } from '../../lab/vm/test-in-vm.ts';
import { assertInVmRunPassed } from '../helpers/vm-test.ts';

const skip = !haveCommand('qemu-system-x86_64') || !haveCommand('socat') ? 'needs qemu-system-x86_64 and socat' : false;

describe('service proxy over IPv6 and dual-stack in the test VM', { skip }, () => {
  let run: VmTestRun;

  before(async () => {
    run = await runTestFileInVm('test/vm/proxy-ipv6.test.ts', { timeoutMs: 540_000 });
  }, { timeout: 600_000 });

  test('in the VM, IPv6 and dual-stack Services answer from pods, the node and outside', (t) => {
    assertInVmRunPassed(t, run);
  });
});
