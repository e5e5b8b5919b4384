// Kernel parameters (net.ipv4.ip_forward, net.bridge.*, net.ipv4.vs.*) read and set with `sysctl` through the
// exec layer, so they apply in the exec's network namespace: most net.* parameters are per namespace.
import { ok, type Result } from '../result.ts';
import type { Exec, ExecError } from './exec.ts';

/** A parameter's dotted name and the value it should have. */
export interface SysctlSetting {
  key: string;
  value: string | number;
}

// A dotted name as sysctl takes it; anything else could be read as an option or a second argument. Names
// come from our code, never from the cluster, so a bad one is a bug (thrown), not an error value.
const KEY = /^[a-z0-9_][a-z0-9_.\-/]*$/i;

function checkSetting(key: string, value = ''): void {
  if (!KEY.test(key) || value.includes('\n')) throw new Error(`sysctl: invalid setting ${JSON.stringify(`${key}=${value}`)}`);
}

/** The parameter's current value (trimmed); object-not-found when the kernel has no such parameter. */
export async function readSysctl(exec: Exec, key: string): Promise<Result<string, ExecError>> {
  checkSetting(key);
  const r = await exec.run('sysctl', ['-n', key]);
  return r.ok ? ok(r.value.trim()) : r;
}

/** Sets one parameter; object-not-found when the kernel has no such parameter (e.g. a module not loaded). */
export async function writeSysctl(exec: Exec, setting: SysctlSetting): Promise<Result<void, ExecError>> {
  checkSetting(setting.key, String(setting.value));
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
