// CLI: run any command inside the test VM and exit with its status.
// Usage: node --import tsx lab/vm/main.ts [--mem MB] [--smp N] [--timeout S] [--cwd DIR] [-e K=V]... -- <command...>
//        node --import tsx lab/vm/main.ts --prepare     (only fetch/build the kernel and initramfs)
import { prepareVmImages, runInVm, type VmRunOptions } from './run.ts';

function usage(msg: string): never {
  process.stderr.write(`${msg}\nusage: main.ts [--mem MB] [--smp N] [--timeout S] [--cwd DIR] [-e K=V]... -- <command...>\n       main.ts --prepare\n`);
  process.exit(2);
}

function parseArgs(argv: string[]): VmRunOptions {
  const opts: VmRunOptions = { command: [], env: {} };
  let i = 0;
  const value = (flag: string): string => argv[++i] ?? usage(`${flag} needs a value`);
  const count = (flag: string): number => {
    const n = Number(value(flag));
    return Number.isInteger(n) && n > 0 ? n : usage(`${flag} needs a positive integer`);
  };
  for (; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--') { opts.command = argv.slice(i + 1); break; }
    if (a === '--mem') opts.memoryMb = count(a);
    else if (a === '--smp') opts.smp = count(a);
    else if (a === '--timeout') opts.timeoutMs = count(a) * 1000;
    else if (a === '--cwd') opts.cwd = value(a);
    else if (a === '-e') {
      const kv = value(a);
      const eq = kv.indexOf('=');
      if (eq < 1) usage(`-e wants K=V, got ${kv}`);
      (opts.env ??= {})[kv.slice(0, eq)] = kv.slice(eq + 1);
    } else if (a.startsWith('-')) usage(`unknown option ${a}`);
    else { opts.command = argv.slice(i); break; }
  }
  if (opts.command.length === 0) usage('no command given');
  return opts;
}

if (process.argv[2] === '--prepare') {
  const t0 = Date.now();
  const images = await prepareVmImages();
  if (!images.ok) {
    process.stderr.write(`vm: ${images.error}\n`);
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify(images.value, null, 2)}\nvm: prepared in ${Date.now() - t0} ms\n`);
  process.exit(0);
}

const opts = parseArgs(process.argv.slice(2));
// exit normally on Ctrl-C so runInVm's exit hook stops the VM
process.on('SIGINT', () => process.exit(130));
const r = await runInVm({ ...opts, onOutput: (t) => process.stdout.write(t) });
process.stderr.write(
  `vm: exit=${r.exitCode ?? 'none'} build=${r.buildMs}ms boot-to-start=${r.bootMs ?? 'n/a'}ms total=${r.totalMs}ms\n`,
);
if (r.error) process.stderr.write(`vm: ${r.error}\n--- console ---\n${r.console}\n`);
process.exit(r.exitCode ?? 1);
