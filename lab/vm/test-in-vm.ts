// Runs node:test files inside the test VM and reports whether they passed, so a host-side test can wrap
// each VM test file (test/vm/*.test.ts) as one host test.
import { isAbsolute, relative } from 'node:path';
import { runInVm } from './run.ts';

/** Repository root on the host; the VM sees the same path through the read-only 9p mount. */
import { REPO_ROOT } from './repo-root.ts';

export { REPO_ROOT };

/** Set in the environment of VM test runs; test/vm files use it to skip themselves when run on the host. */
export const IN_VM_ENV = 'KUBE_ROUTER_IN_VM';

export interface VmTestOptions {
  timeoutMs?: number;
  memoryMb?: number;
  smp?: number;
  /** Extra environment for the test process. */
  env?: Record<string, string>;
  /** 'none' (default): all files in one node process, the way --test-isolation=none of newer Node does it;
   *  'process': `node --import tsx --test` with a child process per file. Every node+tsx start costs
   *  5-10 s under TCG, so 'none' saves that per file plus the runner's own start. */
  isolation?: 'none' | 'process';
  /** Receives the in-VM test output as it arrives. */
  onOutput?: (text: string) => void;
}

export interface VmTestRun {
  /** True iff the in-VM test runner exited 0. */
  passed: boolean;
  exitCode: number | null;
  /** The in-VM test runner's output (spec reporter). */
  output: string;
  /** qemu start to the start of the test command (node) in the VM; null if it never started. */
  bootMs: number | null;
  totalMs: number;
  buildMs: number;
  /** Why the run did not produce a test result (timeout, boot failure), with the VM console. */
  error?: string;
}

/** The node command line that runs `files` (relative to the repository root) with node:test. */
export function testCommand(files: string[], isolation: 'none' | 'process'): string[] {
  if (isolation === 'process') {
    return ['node', '--import', 'tsx', '--test', '--test-force-exit', '--test-concurrency=1', '--test-reporter=spec', ...files];
  }
  // without --test, node:test runs the imported files' tests in this process, in order, and sets exit code 1 on failure
  const imports = files.map((f) => JSON.stringify(`${REPO_ROOT}/${f}`)).join(', ');
  return ['node', '--import', 'tsx', '--test-reporter=spec', '--input-type=module', '-e', `for (const f of [${imports}]) await import(f);`];
}

/** Runs node:test files in one VM boot (cwd = repository root); files relative to it or absolute. */
export async function runTestFilesInVm(files: string[], opts: VmTestOptions = {}): Promise<VmTestRun> {
  const rel = files.map((f) => (isAbsolute(f) ? relative(REPO_ROOT, f) : f));
  const r = await runInVm({
    command: testCommand(rel, opts.isolation ?? 'none'),
    cwd: REPO_ROOT,
    // the 9p tree is read-only: tsx keeps its transform cache under TMPDIR, the VM's own tmpfs
    env: { TMPDIR: '/tmp', NO_COLOR: '1', [IN_VM_ENV]: '1', ...opts.env },
    timeoutMs: opts.timeoutMs ?? 240_000,
    memoryMb: opts.memoryMb ?? 1024,
    smp: opts.smp ?? 1,
    ...(opts.onOutput ? { onOutput: opts.onOutput } : {}),
  });
  const run: VmTestRun = {
    passed: r.exitCode === 0,
    exitCode: r.exitCode,
    output: r.output,
    bootMs: r.bootMs,
    totalMs: r.totalMs,
    buildMs: r.buildMs,
  };
  if (r.error) run.error = `${r.error}\n--- VM console ---\n${r.console}`;
  return run;
}

/** Runs one VM test file; see runTestFilesInVm. */
export function runTestFileInVm(file: string, opts: VmTestOptions = {}): Promise<VmTestRun> {
  return runTestFilesInVm([file], opts);
}
