// `kube-router-lab vm-run -- CMD...`: boots the Debian-kernel VM (lab/vm), runs one command in it from the
// current directory with its output streamed, and passes its exit code through. The VM lasts one command, so
// a lab inside it is brought up and down by that command (use a --state-dir under /tmp: the host root is
// mounted read-only in the VM).
import { runInVm, type VmRunOptions } from '../vm/run.ts';
import { parseTimeout } from '../probe/stream.ts';
import { UsageError } from './lab-ref.ts';

/** Where a lab inside the VM keeps its state (the host root is read-only there). */
export const VM_LAB_STATE_DIR = '/tmp/kube-router-lab';

/** runInVm options for a command that drives a lab inside the VM (also used by the demo's Service part). */
export function vmLabRunOptions(command: string[], timeoutMs: number, onOutput: (text: string) => void): VmRunOptions {
  return {
    // the VM's init leaves loopback down, and the lab's API server and kubectl meet on 127.0.0.1
    command: ['sh', '-c', 'ip link set lo up && exec "$@"', 'sh', ...command],
    cwd: process.cwd(),
    // TCG emulation is several times slower than the host: the lab's start-up deadlines stretch with it
    env: { KUBE_ROUTER_LAB_STATE_DIR: VM_LAB_STATE_DIR, KUBE_ROUTER_LAB_TIMEOUT_SCALE: process.env['KUBE_ROUTER_LAB_TIMEOUT_SCALE'] ?? '4' },
    timeoutMs,
    onOutput,
  };
}

export async function vmRun(command: string[], timeout: string | undefined): Promise<number> {
  if (command.length === 0) throw new UsageError('usage: kube-router-lab vm-run [--timeout 600s] -- COMMAND [ARGS...]');
  const result = await runInVm(vmLabRunOptions(command, parseTimeout(timeout, 600_000), (text) => process.stdout.write(text)));
  if (result.exitCode === null) {
    process.stderr.write(`kube-router-lab vm-run: ${result.timedOut ? 'timed out' : result.error ?? 'the VM did not run the command'}\n`);
    return 1;
  }
  return result.exitCode;
}
