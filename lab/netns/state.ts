// Where a lab keeps its on-disk state (one directory per prefix): the network it created, pod records,
// agent sockets and logs, CNI caches and IPAM data. Separate CLI invocations find each other through it.
import { mkdirSync, readFileSync, renameSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export const DEFAULT_STATE_ROOT = '/run/krt-lab';

export interface LabPaths {
  root: string;
  /** network.json: the topology that was created (see network.ts). */
  network: string;
  /** One JSON record per pod, named after its network namespace. */
  pods: string;
  /** Unix sockets of the per-namespace agents (listeners + probe client). */
  sockets: string;
  logs: string;
  /** Cached CNI ADD results (DEL and CHECK feed them back as prevResult). */
  cniCache: string;
  /** host-local IPAM dataDir per node (pitfall: the default dir would be shared by all simulated nodes). */
  ipam: string;
  /** Conflists written for nodes that got the default bridge + host-local one. */
  cniConf: string;
}

export function labPaths(prefix: string, stateRoot: string = DEFAULT_STATE_ROOT): LabPaths {
  const root = join(stateRoot, prefix);
  return {
    root,
    network: join(root, 'network.json'),
    pods: join(root, 'pods'),
    sockets: join(root, 'sock'),
    logs: join(root, 'logs'),
    cniCache: join(root, 'cni-cache'),
    ipam: join(root, 'ipam'),
    cniConf: join(root, 'cni-conf'),
  };
}

export function ensureLabDirs(paths: LabPaths): void {
  for (const dir of [paths.root, paths.pods, paths.sockets, paths.logs, paths.cniCache, paths.ipam, paths.cniConf]) {
    mkdirSync(dir, { recursive: true });
  }
}

/** Reads a JSON file, or undefined when it does not exist. */
export function readJson<T>(file: string): T | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  return JSON.parse(text) as T;
}

/** Writes JSON atomically (rename), so a concurrent reader never sees half a file. */
export function writeJson(file: string, value: unknown): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(value, null, 2) + '\n');
  renameSync(tmp, file);
}

export function removeFile(file: string): void {
  rmSync(file, { force: true });
}

export function removeLabDir(paths: LabPaths): void {
  rmSync(paths.root, { recursive: true, force: true });
}
