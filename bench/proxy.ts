// Benchmark of the IPVS service proxy (`npm run bench:proxy`): boots the lab VM (the host kernel has no IPVS) and
// runs bench/proxy-vm.ts there: full sync of 10,000 ClusterIP Services x 10 endpoints through ProxyController and
// the real IpvsDataplane against ipvsadm -R / ip -batch / the same restores, the periodic re-sync, single endpoint
// changes (latency, netlink messages and processes per change) and the process's RSS. Prints no verdicts.
// Run as root: node --import tsx bench/proxy.ts [--services N] [--changes N] [--warmup N] [--runs N]
//                                               [--memory MiB] [--smp N] [--timeout S]
// Everything runs under TCG emulation: absolute times are several times a real node's; the ratios are the point.
// What each figure means, and the measured figures: docs/bench-proxy.md.
import { availableParallelism, loadavg } from 'node:os';
import { REPO_ROOT } from '../lab/vm/repo-root.ts';
import { runInVm } from '../lab/vm/run.ts';

const VM_ARGS = new Set(['--memory', '--smp', '--timeout']);
const BENCH_ARGS = new Set(['--services', '--changes', '--warmup', '--runs']);

function options(argv: string[]): { vm: Record<string, number>; bench: string[] } {
  const vm: Record<string, number> = { '--memory': 3072, '--smp': 1, '--timeout': 3600 };
  const bench: string[] = [];
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i] ?? '';
    const value = Number(argv[i + 1]);
    if (!(VM_ARGS.has(flag) || BENCH_ARGS.has(flag)) || !Number.isInteger(value) || value < 0) {
      process.stderr.write(`usage: bench/proxy.ts [--services N] [--changes N] [--warmup N] [--runs N] [--memory MiB] [--smp N] [--timeout S]\n(bad argument ${flag} ${argv[i + 1] ?? ''})\n`);
      process.exit(2);
    }
    if (VM_ARGS.has(flag)) vm[flag] = value;
    else bench.push(flag, String(value));
  }
  return { vm, bench };
}

async function main(): Promise<void> {
  const { vm, bench } = options(process.argv.slice(2));
  console.log(`host load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} on ${availableParallelism()} CPUs; ` +
    `VM: ${vm['--memory']} MiB, ${vm['--smp']} vCPU(s), TCG`);
  process.on('SIGINT', () => process.exit(130)); // runInVm's exit hook stops the VM
  const r = await runInVm({
    command: ['node', '--expose-gc', '--import', 'tsx', 'bench/proxy-vm.ts', ...bench],
    cwd: REPO_ROOT,
    // the 9p tree is read-only: tsx keeps its transform cache under TMPDIR, the VM's own tmpfs
    env: { TMPDIR: '/tmp', NO_COLOR: '1', KUBE_ROUTER_LOG_LEVEL: process.env['KUBE_ROUTER_LOG_LEVEL'] ?? 'warn' },
    timeoutMs: (vm['--timeout'] ?? 3600) * 1000,
    memoryMb: vm['--memory'] ?? 3072,
    smp: vm['--smp'] ?? 1,
    onOutput: (text) => process.stdout.write(text),
  });
  console.log(`VM: boot to command ${r.bootMs ?? 'n/a'} ms, total ${r.totalMs} ms, exit ${r.exitCode ?? 'none'}`);
  if (r.error) process.stderr.write(`${r.error}\n--- VM console (last 4 KiB) ---\n${r.console.slice(-4096)}\n`);
  process.exitCode = r.exitCode ?? 1;
}

await main();
