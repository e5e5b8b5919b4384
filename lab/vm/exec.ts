// Runs a host command for the VM build steps and reports its outcome as a value (never throws).
import { spawn } from 'node:child_process';
import type { Result } from '../../src/result.ts';


export interface CommandOutcome {
  code: number | null; // null: killed by a signal, or never started (see spawnError)
  spawnError?: string;
  stdout: Buffer;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  input?: Buffer | string;
  env?: NodeJS.ProcessEnv;
}

/** Runs `cmd args` to completion, collecting stdout (as bytes) and stderr. */
export function runCommand(cmd: string, args: string[], opts: RunOptions = {}): Promise<CommandOutcome> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => { err += b.toString(); });
    child.on('error', (e) => resolve({ code: null, spawnError: e.message, stdout: Buffer.alloc(0), stderr: '' }));
    child.on('close', (code, signal) => resolve({ code, stdout: Buffer.concat(out), stderr: code === null ? `${err}killed by ${signal}` : err }));
    // a child that exits without reading its stdin must not crash us with EPIPE
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
  });
}

/** Like runCommand, but a non-zero exit becomes an error value carrying the command's stderr; a command that
 *  cannot be started at all gives the error `<cmd>: cannot run: ...`. */
export async function runChecked(cmd: string, args: string[], opts: RunOptions = {}): Promise<Result<Buffer>> {
  const r = await runCommand(cmd, args, opts);
  if (r.code === 0) return { ok: true, value: r.stdout };
  if (r.spawnError) return { ok: false, error: `${cmd}: cannot run: ${r.spawnError}` };
  return { ok: false, error: `${cmd} ${args.join(' ')} exited ${r.code}: ${r.stderr.trim().slice(-2000)}` };
}
