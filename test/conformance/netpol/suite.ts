// Runs conformance cases against one lab (one backend) as node:test tests: the lab comes up once, every case
// starts from the reset model (no policies, original labels, everything reachable), applies its steps and
// checks each step's truth tables; the convergence time of every step is printed as a `#` line.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isRoot } from '../../helpers/netns.ts';
import { LabModel, type Backend } from './lab-model.ts';
import { TCP80 } from './model.ts';
import { applyChange, type ConformanceCase } from './policies.ts';
import { expectReachability } from './probe-runner.ts';
import { KubeRouterControl } from './kube-router-control.ts';
import { pairsOpenAfterDelete, runRestartScenario } from './restart-scenario.ts';

export const skipUnlessRoot = !isRoot ? 'needs root (lab network namespaces)' : false;

export interface Timings {
  steps: { case: string; step: string; ms: number; attempts: number }[];
}

/** Resets the model and waits until everything is reachable again (the previous case's policies are gone). */
export async function resetModel(model: LabModel): Promise<void> {
  model.reset();
  const baseline = await expectReachability(model, { probes: [TCP80], expect: () => true });
  assert.ok(baseline.ok, `after reset, not everything is reachable:\n${baseline.report}`);
}

/** Runs one case's steps in order; fails on the first step whose reachability never matches. */
export async function runCase(model: LabModel, c: ConformanceCase, timings: Timings): Promise<void> {
  await resetModel(model);
  for (const [i, step] of c.steps.entries()) {
    applyChange(model, step);
    const outcome = await expectReachability(model, step);
    timings.steps.push({ case: c.name, step: step.what, ms: outcome.convergedMs, attempts: outcome.attempts });
    process.stderr.write(`netpol[${model.backend}] step ${i + 1} "${step.what}": ${outcome.ok ? 'converged' : 'NOT converged'} in ${outcome.convergedMs} ms, ${outcome.attempts} probe round(s)\n`);
    assert.ok(outcome.ok, `${model.backend}: case "${c.name}", step ${i + 1} "${step.what}": reachability never matched\n${outcome.report}`);
  }
}

export interface BackendSuiteOptions {
  extraArgs?: string[];
  /** kube-router without its routing controller, static pod routes (see LabModelOptions.firewallOnly). */
  firewallOnly?: boolean;
  /** Also run the restart test (restart-scenario.ts) in this lab, after the cases; needs firewallOnly. */
  restart?: boolean;
}

/** One describe() per backend: the lab is started before the first case and stopped after the last. */
export function describeBackend(backend: Backend, prefix: string, cases: readonly ConformanceCase[], options: BackendSuiteOptions = {}): void {
  describe(`NetworkPolicy conformance on the ${backend} backend (lab ${prefix})`, { skip: skipUnlessRoot }, () => {
    if (options.restart && !options.firewallOnly) throw new Error('the restart test needs firewallOnly: stopping kube-router would also withdraw its BGP routes');
    const model = new LabModel({ prefix, backend, firewallOnly: options.firewallOnly ?? false, ...(options.extraArgs ? { extraArgs: options.extraArgs } : {}) });
    const control = new KubeRouterControl(model);
    const timings: Timings = { steps: [] };
    let started = 0;

    before(async () => {
      started = Date.now();
      await model.start();
      process.stderr.write(`netpol[${backend}] lab with the model up in ${Date.now() - started} ms\n`);
    });

    after(async () => {
      await control.stopAll();
      await model.stop();
      const ms = timings.steps.map((s) => s.ms).sort((a, b) => a - b);
      const pct = (q: number): number => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))] ?? 0;
      process.stderr.write(`netpol[${backend}] ${timings.steps.length} steps; convergence p50 ${pct(0.5)} ms, p90 ${pct(0.9)} ms, max ${ms.at(-1) ?? 0} ms; total ${Date.now() - started} ms\n`);
    });

    // NETPOL_CASES=<text> runs only the cases whose name contains it (for working on one case)
    const only = process.env['NETPOL_CASES'];
    for (const c of cases) test(c.name, { skip: only && !c.name.includes(only) ? 'not selected by NETPOL_CASES' : false }, async () => runCase(model, c, timings));
    if (options.restart) test(`${backend}: no wrong verdict while node 1's kube-router is stopped and restarted`, async () => restartTest(model, control));
  });
}

/** The restart scenario with its assertions (zero wrong verdicts; the new instance still applies changes). */
export async function restartTest(model: LabModel, control: KubeRouterControl): Promise<void> {
  await resetModel(model);
  const report = await runRestartScenario(model, control);
  process.stderr.write(`netpol[${model.backend}] restart: ${report.rounds} rounds, ${report.verdicts} verdicts, ${report.wrong.length} wrong, max gap ${report.maxGapMs} ms, exit ${report.exitMs} ms, healthy ${report.startMs} ms after start\n`);
  for (const w of report.wrong.slice(0, 20)) process.stderr.write(`netpol[${model.backend}] restart: wrong at +${w.at} ms: ${w.pair} ${w.connected ? 'connected' : `failed (${w.error ?? 'wrong answer'})`}\n`);
  assert.deepEqual(report.wrong.slice(0, 10), [], `${report.wrong.length} wrong verdicts (SIGTERM at +1000 ms, exited after ${report.exitMs} ms, restarted 1500 ms later)`);
  assert.ok(report.rounds >= 50, `only ${report.rounds} probe rounds`);
  // rounds are scheduled every 100 ms; a starting kube-router (a Node process) competes for the 2 cores and can
  // delay a timer: allow that, but not a pause long enough to hide a window
  assert.ok(report.maxGapMs <= 400, `probe rounds were ${report.maxGapMs} ms apart`);
  const openMs = await pairsOpenAfterDelete(model);
  process.stderr.write(`netpol[${model.backend}] restart: policies deleted after the restart open the pairs in ${openMs} ms\n`);
}
