// Which kube-router arguments make `kube-router-lab up` wait for BGP pod routes, and how status names a process exit.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { routesPodCidrs } from '../../../lab/cluster/pod-routes.ts';
import { exitDescription } from '../../../lab/cluster/layout.ts';

describe('lab cluster: waiting for pod routes', () => {
  it('waits when kube-router routes with the full iBGP mesh, as it does by default', () => {
    const cases: [string[], boolean][] = [
      [[], true],
      [['--run-firewall=false'], true],
      [['--run-router'], true],
      [['--run-router=false'], false],
      [['--run-router=0'], false],
      [['--run-router=False', '--run-router=true'], true],
      [['--run-router=true', '--run-router=F'], false],
      [['--nodes-full-mesh=false'], false],
      [['--nodes-full-mesh=FALSE', '--nodes-full-mesh'], true],
      [['--run-router-extra=false'], true],
    ];
    for (const [args, expected] of cases) assert.equal(routesPodCidrs(args), expected, args.join(' '));
  });

  it('names the signal of a killed process and the code of one that exited', () => {
    assert.equal(exitDescription({ exitCode: null, signal: 'SIGKILL' }), 'killed by SIGKILL');
    assert.equal(exitDescription({ exitCode: 1, signal: null }), 'exited with code 1');
    assert.equal(exitDescription({ exitCode: 0 }), 'exited with code 0');
  });
});
