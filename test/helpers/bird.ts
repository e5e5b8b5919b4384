// A bird2 router for root tests: runs in a test namespace with its own config and control socket; the test
// writes the whole config. Shared by the BGP engine tests and the routes controller tests.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sh, type TestNetns } from './netns.ts';

export class BirdRouter {
  private child: ChildProcess | undefined;
  readonly configPath: string;
  readonly socketPath: string;

  constructor(private readonly ns: TestNetns, dir: string, name = 'bird') {
    this.configPath = join(dir, `${name}.conf`);
    this.socketPath = join(dir, `${name}.ctl`);
  }

  start(config: string): void {
    writeFileSync(this.configPath, config);
    sh('ip', ['netns', 'exec', this.ns.name, 'bird', '-p', '-c', this.configPath]); // parse check: fails loudly on a bad config
    // -f keeps bird in the foreground, so the child we hold is bird itself (ip netns exec execs it).
    this.child = spawn('ip', ['netns', 'exec', this.ns.name, 'bird', '-f', '-c', this.configPath, '-s', this.socketPath], { stdio: 'ignore' });
  }

  /** Writes a changed config and has bird re-read it (it restarts the protocols whose options changed). */
  reconfigure(config: string): void {
    writeFileSync(this.configPath, config);
    sh('birdc', ['-s', this.socketPath, 'configure']);
  }

  birdc(...args: string[]): string {
    return spawnSync('birdc', ['-s', this.socketPath, ...args], { encoding: 'utf8' }).stdout;
  }

  /** `show route all <prefix>` (every path with its attributes), or '' when bird has no route to it. */
  route(prefix: string): string {
    const out = this.birdc('show', 'route', 'all', prefix);
    return out.includes(prefix) ? out : '';
  }

  /** Whether protocol `name`'s BGP session is up, from `show protocols` (its Info column says Established). */
  established(name: string): boolean {
    const line = this.birdc('show', 'protocols').split('\n').find((l) => l.startsWith(`${name} `));
    return line?.includes('Established') ?? false;
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }
}
