// `make demo` refuses to start, in one line and before creating anything, without root or kubectl; while the
// lab starts it shows which stage it is in.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { describe, it } from 'node:test';
import type { ClusterRecord } from '../../../lab/cluster/layout.ts';
import { commandOnPath, demoPreflightProblem, labStartStage, progressLine } from '../../../lab/demo/preflight.ts';

const withKubectl = (name: string): boolean => name === 'kubectl';

describe('demo pre-checks', () => {
  it('passes as root with kubectl on PATH', () => {
    assert.equal(demoPreflightProblem({ euid: 0, commandOnPath: withKubectl }), undefined);
  });

  it('refuses a non-root user first, in one line that says why and what to do', () => {
    const problem = demoPreflightProblem({ euid: 1000, commandOnPath: withKubectl });
    assert.ok(problem);
    assert.match(problem, /must run as root/);
    assert.match(problem, /sudo make demo/);
    assert.ok(!problem.includes('\n'));
    assert.match(demoPreflightProblem({ euid: undefined, commandOnPath: withKubectl }) ?? '', /root/);
  });

  it('refuses when kubectl is missing, naming it', () => {
    const problem = demoPreflightProblem({ euid: 0, commandOnPath: () => false });
    assert.ok(problem);
    assert.match(problem, /kubectl/);
    assert.ok(!problem.includes('\n'));
  });

  it('finds only executable files on PATH', () => {
    const dirA = mkdtempSync(join(tmpdir(), 'krl-preflight-a-'));
    const dirB = mkdtempSync(join(tmpdir(), 'krl-preflight-b-'));
    try {
      writeFileSync(join(dirA, 'kubectl'), '#!/bin/sh\n');
      chmodSync(join(dirA, 'kubectl'), 0o644);
      const path = [dirA, dirB].join(delimiter);
      assert.equal(commandOnPath('kubectl', path), false, 'not executable');
      writeFileSync(join(dirB, 'kubectl'), '#!/bin/sh\n');
      chmodSync(join(dirB, 'kubectl'), 0o755);
      assert.equal(commandOnPath('kubectl', path), true, 'executable in the second directory');
      assert.equal(commandOnPath('kubectl', dirA), false);
      assert.equal(commandOnPath('kubectl', ''), false);
    } finally {
      rmSync(dirA, { recursive: true, force: true });
      rmSync(dirB, { recursive: true, force: true });
    }
  });
});

describe('demo start-up progress', () => {
  const base: ClusterRecord = {
    options: { stateDir: '/tmp/x', prefix: 'krl', nodes: 3, clusterCidr: '198.18.0.0/16', serviceCidr: '198.19.0.0/16', underlayCidr: '198.51.100.0/24', kubeRouter: true, kubeRouterArgs: [], staticRoutes: false },
    supervisorPid: 1, phase: 'starting', startedAt: new Date(0).toISOString(),
    nodes: [{ name: 'node-1', ip: '198.51.100.1' }, { name: 'node-2', ip: '198.51.100.2' }, { name: 'node-3', ip: '198.51.100.3' }],
    processes: [],
  };

  it('names each stage from the record the supervisor writes', () => {
    assert.match(labStartStage(undefined), /supervisor/);
    assert.match(labStartStage(base), /starting the API server for 3 nodes/);
    const apiUp = { ...base, apiUrl: 'https://127.0.0.1:6443' };
    assert.match(labStartStage(apiUp), /API server up at https:\/\/127\.0\.0\.1:6443/);
    const cidrs = { ...apiUp, nodes: base.nodes.map((n, i) => (i < 2 ? { ...n, podCidr: `198.18.${i}.0/24` } : n)) };
    assert.match(labStartStage(cidrs), /2\/3 nodes have a pod CIDR/);
    const routers = { ...cidrs, processes: [0, 1, 2].map((i) => ({ role: 'kube-router' as const, node: `node-${i + 1}`, pid: 10 + i, startedAt: '', log: '' })) };
    assert.match(labStartStage(routers), /kube-router started on 3\/3 nodes; waiting for \/healthz on each and the BGP pod routes/);
    assert.equal(labStartStage({ ...routers, phase: 'ready' }), 'ready');
  });

  it('prefixes the seconds since start', () => {
    assert.equal(progressLine('x', 12_400), '   [ 12 s] x');
  });
});
