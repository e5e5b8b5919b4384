// Fills the observed truth table with real probes (lab/probe probeBatch, through each namespace's agent) and
// compares it with the expected one; a mismatching step is re-probed until it converges or a deadline passes
// (policy programming is asynchronous), and the time to converge is reported.
import { Prober, type ProbeRequest } from '../../../lab/probe/probe.ts';
import { mapLimit } from '../../../lab/netns/concurrency.ts';
import { HOST_POD, HOST_POD_PORT, type LabModel } from './lab-model.ts';
import { MODEL_PODS, TruthTable, isSelf, podKey, type Expectation, type PodRef, type PortProbe } from './model.ts';

/** A row that is a node's own namespace (probes from the node itself). */
export const nodeRow = (index: number): PodRef => ({ namespace: 'node', name: String(index) });

export interface StepProbes {
  /** Ports/protocols to probe; each gets its own 9×9 table. */
  probes: readonly PortProbe[];
  expect: Expectation;
  /** Rows (sources); default the 9 model pods. */
  from?: readonly PodRef[];
  /** Columns (destinations); default the 9 model pods. */
  to?: readonly PodRef[];
}

export interface StepOutcome {
  ok: boolean;
  attempts: number;
  /** From the call (right after the step's changes) to the first fully matching observation. */
  convergedMs: number;
  /** The expected and last observed tables, rendered, when not ok. */
  report: string;
  probesSent: number;
}

export const PROBE_TIMEOUT_MS = 800;
export const CONVERGE_TIMEOUT_MS = 20_000;

/** Probes every (from, to) of every port/protocol once and returns one observed table per probe spec. */
export async function observe(model: LabModel, step: StepProbes, prober: Prober): Promise<TruthTable[]> {
  const from = step.from ?? MODEL_PODS;
  const to = step.to ?? MODEL_PODS;
  const jobs: { table: number; from: PodRef; to: PodRef; req: ProbeRequest }[] = [];
  step.probes.forEach((probe, table) => {
    for (const f of from) {
      for (const t of to) {
        if (isSelf(f, t)) continue;
        const port = podKey(t) === podKey(HOST_POD) ? HOST_POD_PORT : probe.port;
        jobs.push({ table, from: f, to: t, req: { from: sourceNetns(model, f), host: model.ipOf(t), port, protocol: probe.protocol, timeoutMs: PROBE_TIMEOUT_MS } });
      }
    }
  });
  const results = await mapLimit(jobs, 96, (job) => prober.probe(job.req));
  const tables = step.probes.map(() => new TruthTable(from, to));
  jobs.forEach((job, i) => {
    const r = results[i]!;
    // an answer from another pod than the one probed is as wrong as no answer
    tables[job.table]!.set(job.from, job.to, r.connected && r.answer === podKey(job.to));
  });
  return tables;
}

function sourceNetns(model: LabModel, from: PodRef): string {
  return from.namespace === 'node' ? model.nodeNetns(Number(from.name)) : model.netnsOf(from);
}

/** Probes until the observation equals the expectation (or the deadline passes). */
export async function expectReachability(model: LabModel, step: StepProbes, timeoutMs = CONVERGE_TIMEOUT_MS): Promise<StepOutcome> {
  const started = Date.now();
  const from = step.from ?? MODEL_PODS;
  const to = step.to ?? MODEL_PODS;
  const expected = step.probes.map((p) => TruthTable.expected(from, to, p, step.expect));
  const prober = new Prober(model.lab);
  let attempts = 0;
  let probesSent = 0;
  try {
    for (;;) {
      attempts++;
      const observed = await observe(model, step, prober);
      probesSent += observed.reduce((n, t) => n + countCells(t), 0);
      const wrong = observed.map((t, i) => expected[i]!.mismatches(t).length);
      if (wrong.every((n) => n === 0)) return { ok: true, attempts, convergedMs: Date.now() - started, report: '', probesSent };
      if (Date.now() - started > timeoutMs && attempts >= 3) {
        const report = step.probes.map((p, i) => [
          `${p.protocol.toUpperCase()}/${p.port}: ${wrong[i]} wrong of ${countCells(expected[i]!)}`,
          'expected:', expected[i]!.render(), 'observed ([ ] = wrong):', observed[i]!.render(expected[i]),
        ].join('\n')).join('\n\n');
        return { ok: false, attempts, convergedMs: Date.now() - started, report, probesSent };
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    prober.close();
  }
}

function countCells(t: TruthTable): number {
  let n = 0;
  for (const f of t.rows) for (const c of t.cols) if (t.get(f, c) !== undefined) n++;
  return n;
}
