// Runs INSIDE the test VM (test/root/vm/lab-agent-sctp-vm.test.ts): a lab pod agent whose SCTP listener is refused
// with EPROTONOSUPPORT while the sctp module is present (what a socket() made during the module's autoload gets,
// see test/vm/sctp.ts) retries and listens, instead of reporting the port as skipped for a kernel without SCTP.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { startAgent, stopAgent, type StartedAgent } from '../../lab/pods/agents.ts';
import { TestNetns } from '../helpers/netns.ts';
import { loadSctp, sctpAnswer } from './sctp.ts';

const IN_VM = process.env['KUBE_ROUTER_IN_VM'] === '1';
const PORTS = [7001, 7002, 7003];

/** A socat in front of the real one that refuses the first listener start per address, as the autoload race does. */
function refusingSocat(dir: string): string {
  const real = execFileSync('sh', ['-c', 'command -v socat'], { encoding: 'utf8' }).trim();
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'socat'), [
    '#!/bin/sh',
    `m="${dir}/refused-$(printf %s "$1" | tr -c 'A-Za-z0-9' _)"`,
    'if mkdir "$m" 2>/dev/null; then echo "socat[$$] E socket(2, 1, 132): Protocol not supported" >&2; exit 1; fi',
    `exec ${real} "$@"`,
  ].join('\n') + '\n', { mode: 0o755 });
  return bin;
}

describe('lab pod agent SCTP listeners in the VM kernel', { skip: IN_VM ? false : 'runs inside the test VM: see test/root/vm/lab-agent-sctp-vm.test.ts' }, () => {
  let ns: TestNetns | undefined;
  let started: StartedAgent | undefined;
  const dir = mkdtempSync('/tmp/krt-agent-');
  const path = process.env['PATH'];

  after(async () => {
    process.env['PATH'] = path;
    if (started) await stopAgent(started.pid);
    ns?.delete();
    rmSync(dir, { recursive: true, force: true });
  });

  test('SCTP ports whose first socket() is refused while the sctp module is there are retried, and all answer', async () => {
    ns = new TestNetns('krt-ag');
    loadSctp(ns);
    process.env['PATH'] = `${refusingSocat(dir)}:${path}`;
    started = await startAgent({
      netns: ns.name, socketPath: join(dir, 'agent.sock'), identity: 'lab/sctp', logFile: join(dir, 'agent.log'),
      ports: PORTS.map((port) => ({ port, protocol: 'SCTP' as const })),
    });
    process.env['PATH'] = path;
    assert.deepEqual(started.skipped, []);
    assert.deepEqual(PORTS.map((port) => existsSync(join(dir, `refused-SCTP_LISTEN_${port}_fork_reuseaddr`))), PORTS.map(() => true), 'each port was refused once');
    assert.deepEqual(PORTS.map((port) => sctpAnswer(ns!, '127.0.0.1', port)), PORTS.map(() => 'lab/sctp'));
  });
});
