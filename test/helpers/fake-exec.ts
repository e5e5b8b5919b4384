// A fake of the kernel exec layer (src/kernel/exec.ts) for tests without root: records every tool run and
// answers from a function; failures are classified exactly as a real run's would be.
import { classifyFailure, inputText, type Exec, type ExecError } from '../../src/kernel/exec.ts';
import { err, ok, type Result } from '../../src/result.ts';

export interface RecordedCall {
  cmd: string;
  args: string[];
  input: string;
}

/** The error a real run of `tool args` exiting with this status and stderr gives. */
export function exitFailure(tool: string, args: readonly string[], status: number, stderr = ''): ExecError {
  return classifyFailure(tool, args, { status, stdout: '', stderr });
}

/** A failed run for an answer function: err(exitFailure(...)). */
export const fails = (tool: string, args: readonly string[], status: number, stderr = ''): Result<string, ExecError> =>
  err(exitFailure(tool, args, status, stderr));

/** Records calls; by default every run succeeds with no output (a kernel that starts empty and accepts every write). */
export function recordingExec(answer: (call: RecordedCall) => Result<string, ExecError> = () => ok('')): Exec & { calls: RecordedCall[] } {
  const calls: RecordedCall[] = [];
  return {
    calls,
    get count() {
      return calls.length;
    },
    async run(cmd, args, options = {}) {
      const call = { cmd, args: [...args], input: inputText(options.input) };
      calls.push(call);
      return answer(call);
    },
  };
}
