// Heavy proxy + netpol VM test (make test-heavy, make test-proxy): the real service proxy and the real netpol
// controller on both backends, with real TCP through ClusterIPs and NodePorts (test/vm/proxy-netpol.test.ts). The host
// kernel has no IPVS, so this boots the Debian-kernel VM; it takes minutes under emulation, too long for `make test`.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { haveCommand } from '../helpers/netns.ts';
import { runTestFileInVm, type VmTestRun } from '../../lab/vm/test-in-vm.ts';

// Measured on the shared 2-core host (load average 9-12): 174-282 s in the VM (boot ~6-14 s, topology and proxy
// ~60 s, 49 connections at 2-4 s each under TCG). The timeout catches hangs, not load.
const skip = !haveCommand('qemu-system-x86_64') || !haveCommand('socat') ? 'needs qemu-system-x86_64 and socat' : false;

describe('NetworkPolicy on Service traffic in the test VM', { skip }, () => {
  let run: VmTestRun;

  before(async () => {
    run = await runTestFileInVm('test/vm/proxy-netpol.test.ts', { timeoutMs: 480_000 });
  }, { timeout: 540_000 });

  test('in the VM, policies decide Service traffic after IPVS DNAT on the iptables and nftables backends', (t) => {
    t.diagnostic(`build ${run.buildMs} ms, boot-to-test-start ${run.bootMs} ms, total ${run.totalMs} ms`);
    for (const line of run.output.split('\n')) if (/^\s*[✔✖]/.test(line)) t.diagnostic(line.trim());
    assert.ok(run.passed, `in-VM test failed (exit ${run.exitCode}):\n${run.output}\n${run.error ?? ''}`);
    // a skipped or empty in-VM run also exits 0: require that the tests really ran (spec reporter summary)
    assert.match(run.output, /(?:ℹ|#) pass [1-9]/, `no in-VM test passed:\n${run.output}`);
    assert.match(run.output, /(?:ℹ|#) fail 0/, `in-VM tests failed:\n${run.output}`);
    assert.match(run.output, /(?:ℹ|#) skipped 0/, `in-VM tests were skipped:\n${run.output}`);
  });
});
