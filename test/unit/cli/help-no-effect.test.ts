// --help marks the upstream flags this build accepts but does not act on, so nobody relies on them unknowingly.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCommandLine } from '../../../src/cli/command-line.ts';
import { FLAG_SPECS } from '../../../src/cli/flag-specs.ts';
import { NO_EFFECT_MARK } from '../../../src/cli/help.ts';

// What the controllers do not implement (routing README: BFD, the AWS check; proxy README: DSR, graceful
// termination; no load-balancer allocator), by flag.
const ACCEPTED_WITHOUT_EFFECT: ReadonlyArray<readonly [string, RegExp]> = [
  ['enable-bfd', /gobgpd 3\.10 has no BFD/],
  ['bfd-port', /no BFD/],
  ['bfd-detection-multiplier', /no BFD/],
  ['bfd-desired-min-tx-interval', /no BFD/],
  ['bfd-required-min-rx-interval', /no BFD/],
  ['disable-source-dest-check', /AWS/],
  ['ipvs-graceful-termination', /graceful termination is not implemented/],
  ['ipvs-graceful-period', /graceful termination is not implemented/],
  ['runtime-endpoint', /DSR is not implemented/],
  ['run-loadbalancer', /allocator is not implemented/],
  ['loadbalancer-default-class', /allocator is not implemented/],
  ['loadbalancer-sync-period', /allocator is not implemented/],
];

function helpLine(text: string, flag: string): string {
  const line = text.split('\n').find((l) => new RegExp(`^ {2}(-., | {4})--${flag}( [a-zA-Z0-9]+)? {3,}\\S`).test(l));
  assert.ok(line, `--${flag} is in --help`);
  return line;
}

describe('--help on flags accepted without effect', () => {
  const outcome = parseCommandLine(['--help'], {});
  const text = outcome.kind === 'help' ? outcome.text : '';

  for (const [flag, why] of ACCEPTED_WITHOUT_EFFECT) {
    it(`--${flag} says it has no effect, and why, before its default`, () => {
      const line = helpLine(text, flag);
      const note = line.slice(line.indexOf(NO_EFFECT_MARK));
      assert.ok(line.includes(NO_EFFECT_MARK), line);
      assert.match(note, why);
      assert.match(note, /^\[accepted, no effect: [^\]]+\] \(default [^)]*\)$/);
    });
  }

  it('no other flag carries the mark', () => {
    const expected = new Set(ACCEPTED_WITHOUT_EFFECT.map(([flag]) => flag));
    const marked = FLAG_SPECS.filter((spec) => helpLine(text, spec.name).includes(NO_EFFECT_MARK)).map((spec) => spec.name);
    assert.deepEqual(marked.sort(), [...expected].sort());
  });

  it('the flags still parse, so upstream manifests that set them keep working', () => {
    const args = ['--enable-bfd', '--bfd-port=3785', '--disable-source-dest-check=false', '--ipvs-graceful-termination', '--ipvs-graceful-period=10s', '--runtime-endpoint=/run/containerd/containerd.sock', '--run-loadbalancer', '--loadbalancer-sync-period=2m'];
    assert.equal(parseCommandLine(args, {}).kind, 'run');
  });
});
