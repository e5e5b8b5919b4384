// Kernel parameters (net.ipv4.ip_forward, net.bridge.*, net.ipv4.vs.*) read and set with `sysctl` through the
// exec layer, so they apply in the exec's network namespace: most net.* parameters are per namespace.
import { err, ok, type Result } from '../result.ts';
import type { Exec, ExecError } from './exec.ts';

/** A parameter's dotted name and the value it should have. */
export interface SysctlSetting {
  key: string;
  value: string | number;
}

// A dotted name as sysctl takes it; anything else could be read as an option or a second argument.
const KEY = /^[a-z0-9_][a-z0-9_.\-/]*$/i;

function badKey(key: string): ExecError {
  return { kind: 'exit', tool: 'sysctl', args: [key], stderr: '', message: `sysctl: invalid parameter name ${JSON.stringify(key)}` };
}

/** The parameter's current value (trimmed); object-not-found when the kernel has no such parameter. */
export async function readSysctl(exec: Exec, key: string): Promise<Result<string, ExecError>> {
  if (!KEY.test(key)) return err(badKey(key));
  const r = await exec.run('sysctl', ['-n', key]);
  return r.ok ? ok(r.value.trim()) : r;
}

/** Sets one parameter; object-not-found when the kernel has no such parameter (e.g. a module not loaded). */
export async function writeSysctl(exec: Exec, setting: SysctlSetting): Promise<Result<void, ExecError>> {
  if (!KEY.test(setting.key) || /\n/.test(String(setting.value))) return err(badKey(`${setting.key}=${setting.value}`));
  const r = await exec.run('sysctl', ['-q', '-w', `${setting.key}=${setting.value}`]);
  return r.ok ? ok(undefined) : r;
}

/** Sets each parameter (one failing does not stop the others); the errors, in order. */
export async function writeSysctls(exec: Exec, settings: readonly SysctlSetting[]): Promise<ExecError[]> {
  const errors: ExecError[] = [];
  for (const s of settings) {
    const r = await writeSysctl(exec, s);
    if (!r.ok) errors.push(r.error);
  }
  return errors;
}
