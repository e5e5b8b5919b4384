// Test network namespaces: uniquely named, created fresh, always removed, never attached to the host.
import { execFileSync, spawnSync } from 'node:child_process';

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

let seq = 0;

/** Runs a command, throwing with its stderr on failure; returns stdout. */
export function sh(cmd: string, args: string[], input?: string): string {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
  return r.stdout;
}

export class TestNetns {
  readonly name: string;
  readonly path: string;
  constructor(prefix = 'krt') {
    this.name = `${prefix}-${process.pid}-${seq++}`;
    this.path = `/run/netns/${this.name}`;
    sh('ip', ['netns', 'add', this.name]);
    sh('ip', ['-n', this.name, 'link', 'set', 'lo', 'up']);
  }
  /** Runs `cmd args...` inside the namespace. */
  exec(cmd: string, args: string[] = [], input?: string): string {
    return sh('ip', ['netns', 'exec', this.name, cmd, ...args], input);
  }
  ip(...args: string[]): string {
    return sh('ip', ['-n', this.name, ...args]);
  }
  delete(): void {
    spawnSync('ip', ['netns', 'del', this.name]);
  }
}

/** Returns true if `cmd` is on PATH. */
export function haveCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
