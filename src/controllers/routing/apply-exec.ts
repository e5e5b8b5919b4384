// Runs the userspace tools the routes controller's apply layers drive (iptables, ipset, sysctl), optionally inside
// a network namespace (`ip netns exec`), returning results as values.
import { spawn } from 'node:child_process';
import { err, ok, type Result } from '../../result.ts';

export interface CommandRunner {
  /** Runs a command; ok(stdout) on exit status 0, else an error with the status and stderr. */
  run(cmd: string, args: string[], input?: string): Promise<Result<string>>;
  /** The same, reporting only the exit status (for `iptables -C` style checks). */
  status(cmd: string, args: string[]): Promise<number>;
}

function exec(cmd: string, args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (e) => resolve({ code: 127, stdout, stderr: e.message }));
    child.on('close', (code) => resolve({ code: code ?? 128, stdout, stderr }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
  });
}

/** A runner for the current namespace, or for the named one (tests). */
export function commandRunner(netns?: string): CommandRunner {
  const wrap = (cmd: string, args: string[]): [string, string[]] => (netns ? ['ip', ['netns', 'exec', netns, cmd, ...args]] : [cmd, args]);
  return {
    async run(cmd, args, input) {
      const [file, argv] = wrap(cmd, args);
      const r = await exec(file, argv, input);
      return r.code === 0 ? ok(r.stdout) : err(`${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
    },
    async status(cmd, args) {
      const [file, argv] = wrap(cmd, args);
      return (await exec(file, argv)).code;
    },
  };
}
