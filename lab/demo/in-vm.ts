// The demo's Service part where this host's kernel has no IPVS: boots the Debian-kernel VM (lab/vm) and runs
// `kube-router-lab demo --services-only` there, which brings a 2-node lab up inside the VM (its proxy on, as the
// VM kernel has IPVS), creates the workload and the Services and narrates the probes; its output is streamed.
import { prepareVmImages, runInVm } from '../vm/run.ts';
import { vmLabRunOptions } from '../cli/vm-run.ts';
import { commandOnPath } from './preflight.ts';

const say = (text = ''): void => { process.stdout.write(text + '\n'); };

/** Nodes of the lab inside the VM: two are enough for "from another node", and each costs a minute under TCG. */
const VM_NODES = 2;
const VM_TIMEOUT_MS = 1_200_000;

/** The shell command the VM runs: the Service part against a lab it starts, then down (exit: the demo's). */
export function servicesInVmScript(prefix: string, step: number): string {
  const cli = new URL('../../bin/kube-router-lab.js', import.meta.url).pathname.replace('/dist/bin/', '/bin/');
  const lab = `node '${cli}'`;
  // the VM is thrown away afterwards, but down still shows the lab leaves nothing behind
  return `${lab} demo --services-only --nodes ${VM_NODES} --prefix '${prefix}' --step ${step}; rc=$?; ${lab} down >/dev/null; exit $rc`;
}

/**
 * Runs the Service part in the VM from step `step` on. Returns the VM command's exit code, or undefined when the
 * VM cannot run here (said in one line).
 */
export async function showServicesInVm(prefix: string, step: number): Promise<number | undefined> {
  say(`Services in the Debian-kernel VM: this host's kernel has no IPVS, so the demo boots a VM with a Debian kernel`);
  say(`and brings a ${VM_NODES}-node lab up inside it with kube-router's service proxy on. Without /dev/kvm (TCG emulation)`);
  say('that takes a few minutes (about 2-4 on a loaded 2-core machine); progress follows.');
  if (!commandOnPath('qemu-system-x86_64')) {
    say('The VM cannot run here: qemu-system-x86_64 is not on PATH (make installs it), so the Service part is skipped.');
    return undefined;
  }
  const images = await prepareVmImages();
  if (!images.ok) {
    say(`The VM cannot run here (its kernel and initramfs could not be prepared: ${images.error.split('\n')[0]}), so the Service part is skipped.`);
    return undefined;
  }
  const started = Date.now();
  const result = await runInVm(vmLabRunOptions(['sh', '-c', servicesInVmScript(prefix, step)], VM_TIMEOUT_MS, (text) => process.stdout.write(text)));
  const took = `${Math.round((Date.now() - started) / 1000)} s`;
  if (result.exitCode === null) {
    say(`The VM did not finish the Service part (${result.timedOut ? 'timed out' : result.error ?? 'no exit status'}; after ${took}).`);
    return 1;
  }
  say(`(the VM part took ${took}, exit ${result.exitCode})`);
  return result.exitCode;
}
