// The repository root (where package.json and the lab sources live), the same whether this code runs from the
// sources or from the compiled dist/ tree, which has neither the VM's init script nor the VM cache.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'lab', 'vm', 'init'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the repository root above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

export const REPO_ROOT = findRoot();
