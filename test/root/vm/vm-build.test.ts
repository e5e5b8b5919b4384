// The VM build steps: module dependency closure, signature stripping, job script quoting, and the initramfs
// that results from them (read back with busybox cpio).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { haveCommand } from '../../helpers/netns.ts';
import { BOOT_MODULES, FEATURE_MODULES, moduleClosure, stripModuleSignature } from '../../../lab/vm/initramfs.ts';
import { modulesDir, prepareKernel } from '../../../lab/vm/kernel.ts';
import { jobScript, prepareVmImages } from '../../../lab/vm/run.ts';

const MODULES_DEP = [
  'kernel/net/a.ko: kernel/net/b.ko kernel/lib/c.ko',
  'kernel/net/b.ko: kernel/lib/c.ko',
  'kernel/lib/c.ko:',
  'kernel/drivers/d-x.ko:',
  '',
].join('\n');

describe('VM build steps', () => {
  test('the module closure lists every dependency once, before the modules needing it', () => {
    assert.deepEqual(moduleClosure(MODULES_DEP, ['a', 'b']), { ok: true, value: ['kernel/lib/c.ko', 'kernel/net/b.ko', 'kernel/net/a.ko'] });
    assert.deepEqual(moduleClosure(MODULES_DEP, ['d_x']), { ok: true, value: ['kernel/drivers/d-x.ko'] });
    assert.equal(moduleClosure(MODULES_DEP, ['a', 'nope']).ok, false);
  });

  test('stripping a module signature leaves exactly the module body; unsigned modules stay as they are', () => {
    const body = Buffer.from('\x7fELF module body');
    const signature = Buffer.alloc(37, 0xab);
    const info = Buffer.alloc(12);
    info.writeUInt32BE(signature.length, 8);
    const signed = Buffer.concat([body, signature, info, Buffer.from('~Module signature appended~\n')]);
    assert.deepEqual(stripModuleSignature(signed), body);
    assert.deepEqual(stripModuleSignature(body), body);
  });

  test('the job script runs the command in the cwd with exactly the given environment, arguments unchanged', () => {
    const dir = mkdtempSync(join(tmpdir(), 'krt-vm-jobscript-'));
    try {
      const args = ['a b', "it's", '$HOME', '"q"', '*'];
      const script = jobScript(['sh', '-c', 'pwd; printf "%s|" "$PROBE" "${HOME-unset}" "$@"', 'sh', ...args], dir, { PROBE: "x'y $z" });
      writeFileSync(join(dir, 'job.sh'), script);
      const r = spawnSync('sh', [join(dir, 'job.sh')], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, `${dir}\nx'y $z|unset|${args.join('|')}|`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the initramfs holds /init, busybox and every boot and feature module with its dependencies', { skip: !haveCommand('busybox') }, async () => {
    const images = await prepareVmImages();
    assert.ok(images.ok, images.ok ? '' : images.error);
    const kernel = await prepareKernel();
    assert.ok(kernel.ok);
    const listing = spawnSync('busybox', ['cpio', '-t'], { input: readFileSync(images.value.initramfs), encoding: 'utf8', maxBuffer: 1 << 24 });
    const files = new Set(listing.stdout.split('\n'));
    for (const f of ['init', 'bin/busybox', 'dev/console', `lib/modules/${kernel.value.release}/modules.dep`]) assert.ok(files.has(f), f);
    const closure = moduleClosure(readFileSync(join(modulesDir(kernel.value), 'modules.dep'), 'utf8'), [...BOOT_MODULES, ...FEATURE_MODULES]);
    assert.ok(closure.ok);
    for (const m of closure.value) assert.ok(files.has(`lib/modules/${kernel.value.release}/${m}`), m);
  });
});
