// The program version, read at run time from the package.json of this installation, and the --version text.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = 'kube-router-ts';

// Walks up from this file: the source tree, dist/ and a bundle all sit below the package root.
function readPackageVersion(): string {
  let directory = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const manifest = JSON.parse(readFileSync(join(directory, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (manifest.name === PACKAGE_NAME && typeof manifest.version === 'string') return manifest.version;
    } catch {
      // No readable package.json here; keep walking up.
    }
    const parent = dirname(directory);
    if (parent === directory) return '0.0.0-unknown';
    directory = parent;
  }
}

export const VERSION: string = readPackageVersion();

/** What `kube-router --version` prints. */
export function versionText(): string {
  return `kube-router ${VERSION}\nNode.js ${process.version} ${process.platform}/${process.arch}\n`;
}
