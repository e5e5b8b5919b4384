// The VM runner itself: a command runs in the Debian 6.1 kernel with the given cwd and environment, its output
// and exit status come back, and a VM that outlives its timeout is killed.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { haveCommand } from '../../helpers/netns.ts';
import { runInVm } from '../../../lab/vm/run.ts';

describe('runInVm', { skip: haveCommand('qemu-system-x86_64') ? false : 'qemu-system-x86_64 not installed' }, () => {
  test('runs the command in the VM kernel with the given cwd and environment and returns its output and exit status', async (t) => {
    const r = await runInVm({
      command: ['sh', '-c', 'uname -r; pwd; echo "$KRT_VM_PROBE"; echo to-stderr >&2; echo written > "$KRT_VM_OUT/result.txt"; exit 7'],
      cwd: '/usr/share',
      env: { KRT_VM_PROBE: "it's there" },
      timeoutMs: 120_000,
    });
    t.diagnostic(`build ${r.buildMs} ms, boot-to-start ${r.bootMs} ms, total ${r.totalMs} ms`);
    assert.equal(r.exitCode, 7, r.error ?? r.output);
    const [release, cwd, probe, stderr] = r.output.trim().split('\n');
    assert.match(release ?? '', /^6\.1\.0-\d+-amd64$/, 'the Debian generic 6.1 kernel, not the host kernel');
    assert.equal(cwd, '/usr/share');
    assert.equal(probe, "it's there");
    assert.equal(stderr, 'to-stderr');
    assert.deepEqual(r.artifacts, { 'result.txt': 'written\n' });
  });

  test('a VM still running at its timeout is killed and reported as timed out', async () => {
    const r = await runInVm({ command: ['sleep', '600'], timeoutMs: 2_000 });
    assert.equal(r.timedOut, true);
    assert.equal(r.exitCode, null);
    assert.ok(r.totalMs < 10_000, `qemu went away ${r.totalMs} ms after start`);
  });
});
