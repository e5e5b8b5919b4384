// A tiny OCI image for lab tests of pods run from images: busybox-static and its applet links, built with umoci.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

function sh(argv: string[]): void {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  assert.equal(r.status, 0, `${argv.join(' ')}: ${r.stderr}`);
}

/** An OCI archive holding busybox-static and its applet links, entrypoint /bin/sh. */
export function buildBusyboxImage(dir: string): string {
  const layout = join(dir, 'oci'), bundle = join(dir, 'bundle');
  sh(['umoci', 'init', '--layout', layout]);
  sh(['umoci', 'new', '--image', `${layout}:1`]);
  sh(['umoci', 'unpack', '--image', `${layout}:1`, bundle]);
  mkdirSync(join(bundle, 'rootfs', 'bin'), { recursive: true });
  copyFileSync('/bin/busybox', join(bundle, 'rootfs', 'bin', 'busybox'));
  sh(['chroot', join(bundle, 'rootfs'), '/bin/busybox', '--install', '-s', '/bin']);
  sh(['umoci', 'repack', '--image', `${layout}:1`, bundle]);
  sh(['umoci', 'config', '--image', `${layout}:1`, '--config.entrypoint', '/bin/sh', '--config.env', 'PATH=/bin']);
  sh(['tar', '-C', layout, '-cf', join(dir, 'busybox.tar'), '.']);
  return join(dir, 'busybox.tar');
}

