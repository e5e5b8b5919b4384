// The kube-router entry point: parse and validate flags (exit 2 on any bad input, before anything starts),
// check privileges, then hand over to the daemon.
import { parseCommandLine } from './command-line.ts';
import { configureLogging, logger } from '../observe/log.ts';

export async function main(argv: string[]): Promise<void> {
  const outcome = parseCommandLine(argv, process.env);
  switch (outcome.kind) {
    case 'help':
      process.stdout.write(outcome.text.endsWith('\n') ? outcome.text : outcome.text + '\n');
      return;
    case 'version':
      process.stdout.write(outcome.text.endsWith('\n') ? outcome.text : outcome.text + '\n');
      return;
    case 'error':
      process.stderr.write(`kube-router: ${outcome.message}\n`);
      process.exitCode = 2;
      return;
    case 'run':
      break;
  }
  const options = outcome.options;
  if (typeof process.geteuid === 'function' && process.geteuid() !== 0) {
    process.stderr.write('kube-router: must run as root: it programs routes, iptables, ipsets and IPVS\n');
    process.exitCode = 1;
    return;
  }
  configureLogging({ verbosity: options.verbosity, format: options.logFormat });
  // Loaded only now so that --help, --version and flag errors never pay for the daemon's imports.
  const { runDaemon } = await import('./daemon.ts');
  try {
    process.exitCode = await runDaemon(options);
  } catch (err) {
    logger().fatal({ err }, 'kube-router failed');
    process.exitCode = 1;
  }
}
