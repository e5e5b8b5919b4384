// How the lab starts its own Node programs (the supervisor, kube-router): from TypeScript sources through tsx
// when the lab itself runs from sources, from the compiled dist/ files otherwise, so both agree on one build.
import { fileURLToPath } from 'node:url';

const fromSources = import.meta.url.endsWith('.ts');

/** Absolute path of a file of this directory (given without extension) in the running flavour (.ts or .js). */
export function clusterEntry(baseName: string): string {
  return fileURLToPath(new URL(`./${baseName}${fromSources ? '.ts' : '.js'}`, import.meta.url));
}

/** Node arguments that precede an entry file: the tsx loader when running from sources. */
export function nodeLoaderArgs(): string[] {
  return fromSources ? ['--import', import.meta.resolve('tsx')] : [];
}

/** argv that runs `baseName` of this directory with the current Node. */
export function nodeCommand(baseName: string, args: readonly string[] = []): string[] {
  return [process.execPath, ...nodeLoaderArgs(), clusterEntry(baseName), ...args];
}
