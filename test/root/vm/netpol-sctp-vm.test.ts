// Host side of the netpol SCTP test: the host kernel has no SCTP, so this boots the Debian-kernel test VM once
// and runs test/vm/netpol-sctp.test.ts there (both controller backends); passes iff it passed in the VM.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { haveCommand } from '../../helpers/netns.ts';
import { runTestFileInVm, type VmTestRun } from '../../../lab/vm/test-in-vm.ts';

const skip = !haveCommand('qemu-system-x86_64') || !haveCommand('socat') ? 'needs qemu-system-x86_64 and socat' : false;

describe('netpol controller and SCTP in the test VM', { skip }, () => {
  let run: VmTestRun;

  before(async () => {
    run = await runTestFileInVm('test/vm/netpol-sctp.test.ts', { timeoutMs: 240_000 });
  }, { timeout: 300_000 });

  test('in the VM, SCTP port rules admit only SCTP and TCP port rules only TCP, on iptables and nftables', (t) => {
    t.diagnostic(`build ${run.buildMs} ms, boot-to-test-start ${run.bootMs} ms, total ${run.totalMs} ms`);
    assert.ok(run.passed, `in-VM test failed (exit ${run.exitCode}):\n${run.output}\n${run.error ?? ''}`);
    // a skipped or empty in-VM run also exits 0: require that the tests really ran (spec reporter summary)
    assert.match(run.output, /(?:ℹ|#) pass [1-9]/, `no in-VM test passed:\n${run.output}`);
    assert.match(run.output, /(?:ℹ|#) skipped 0/, `in-VM tests were skipped:\n${run.output}`);
  });
});
