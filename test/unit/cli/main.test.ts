// The kube-router binary's front door, run as a real process: exit codes and what reaches stdout/stderr.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const bin = new URL('../../../bin/kube-router.js', import.meta.url).pathname;
const built = existsSync(new URL('../../../dist/src/cli/main.js', import.meta.url));

function run(args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, NODE_NAME: '' } });
}

test('invalid flags exit 2 with exactly one line naming the flag, and start nothing', { skip: !built && 'run `npm run build` first' }, () => {
  for (const [args, flag] of [[['--cluster-asn', '1'], '--cluster-asn'], [['--bgp-holdtime', '1s'], '--bgp-holdtime'],
    [['--run-router=false', '--run-firewall=false', '--run-service-proxy=false'], 'run-'], [['--no-such-flag'], '--no-such-flag']] as const) {
    const r = run([...args]);
    assert.equal(r.status, 2, `exit code for ${args.join(' ')}`);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, `one line for ${args.join(' ')}: ${r.stderr}`);
    assert.ok(lines[0]!.includes(flag), `${lines[0]} names ${flag}`);
  }
});

test('--help lists every flag with its default and --version prints the version, both exit 0', { skip: !built && 'run `npm run build` first' }, () => {
  const help = run(['--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /--cluster-asn uint +.*\(default 0\)/);
  assert.match(help.stdout, /--health-port uint16 +.*\(default 20244\)/);
  const version = run(['-V']);
  assert.equal(version.status, 0);
  assert.match(version.stdout, /^kube-router \d+\.\d+\.\d+/);
});
