// The restart scenario: with policies in force on node 1, probe allowed and denied pairs through node 1 every
// ≤ 100 ms while its kube-router is stopped (SIGTERM) and started again with the same arguments. Every verdict
// must stay right the whole time: rules survive the exit and the new instance adopts them without a window.
import assert from 'node:assert/strict';
import { Prober } from '../../../lab/probe/probe.ts';
import type { KubeRouterControl } from './kube-router-control.ts';
import type { LabModel } from './lab-model.ts';
import { podKey, type PodRef } from './model.ts';
import { egressFrom, ingressTo, nsSel, podSel } from './policies.ts';

const pod = (key: string): PodRef => ({ namespace: key.split('/')[0]!, name: key.split('/')[1]! });

/** Pairs through node 1 (pods x/a, y/a, z/a live there): ingress to x/a and egress from y/a, allowed and denied. */
export const RESTART_PAIRS: readonly { from: PodRef; to: PodRef; allowed: boolean; why: string }[] = [
  { from: pod('x/b'), to: pod('x/a'), allowed: true, why: 'x/a ingress from pod=b (node 2 → node 1)' },
  { from: pod('y/b'), to: pod('x/a'), allowed: false, why: 'x/a ingress, y/b not a peer (node 2 → node 1)' },
  { from: pod('z/a'), to: pod('x/a'), allowed: false, why: 'x/a ingress, z/a not a peer (same node)' },
  { from: pod('y/a'), to: pod('z/c'), allowed: true, why: 'y/a egress to ns=z (node 1 → node 3)' },
  { from: pod('y/a'), to: pod('x/c'), allowed: false, why: 'y/a egress, x/c not a peer (node 1 → node 3)' },
];

export interface RestartReport {
  rounds: number;
  verdicts: number;
  wrong: { at: number; pair: string; connected: boolean; error?: string }[];
  maxGapMs: number;
  exitMs: number;
  startMs: number;
}

/** Runs the scenario on node 1; resolves with what was seen (the caller asserts). */
export async function runRestartScenario(model: LabModel, control: KubeRouterControl): Promise<RestartReport> {
  model.applyPolicy(ingressTo('x', 'a', [{ podSelector: podSel({ pod: 'b' }) }]));
  model.applyPolicy(egressFrom('y', 'a', [{ namespaceSelector: nsSel({ ns: 'z' }) }]));
  const prober = new Prober(model.lab);
  const round = async (): Promise<{ pair: string; ok: boolean; connected: boolean; error?: string }[]> =>
    Promise.all(RESTART_PAIRS.map(async (p) => {
      const r = await prober.probe({ from: model.netnsOf(p.from), host: model.ipOf(p.to), port: 80, protocol: 'tcp', timeoutMs: 1000 });
      const connected = r.connected && r.answer === podKey(p.to);
      return { pair: `${podKey(p.from)} → ${podKey(p.to)}`, ok: connected === p.allowed, connected, ...(r.error ? { error: r.error } : {}) };
    }));
  try {
    // the policies are in force before the clock starts
    const deadline = Date.now() + 20_000;
    while (!(await round()).every((v) => v.ok)) {
      assert.ok(Date.now() < deadline, 'the restart scenario\'s policies never took effect');
      await new Promise((r) => setTimeout(r, 200));
    }
    const report: RestartReport = { rounds: 0, verdicts: 0, wrong: [], maxGapMs: 0, exitMs: 0, startMs: 0 };
    const t0 = Date.now();
    let probing = true;
    // a round starts every 100 ms whether or not earlier ones finished: a denied probe may wait for its timeout
    // (the kernel rate-limits the ICMP errors REJECT sends), which must not stretch the sampling interval
    const inflight: Promise<void>[] = [];
    const loop = (async () => {
      let last = Date.now();
      while (probing) {
        const began = Date.now();
        report.maxGapMs = Math.max(report.maxGapMs, began - last);
        last = began;
        inflight.push(round().then((verdicts) => {
          for (const v of verdicts) {
            report.verdicts++;
            if (!v.ok) report.wrong.push({ at: began - t0, pair: v.pair, connected: v.connected, ...(v.error ? { error: v.error } : {}) });
          }
        }));
        report.rounds++;
        await new Promise((r) => setTimeout(r, Math.max(0, 100 - (Date.now() - began))));
      }
      await Promise.all(inflight);
    })();
    try {
      await new Promise((r) => setTimeout(r, 1000));
      report.exitMs = await control.stop(1);
      await new Promise((r) => setTimeout(r, 1500));
      report.startMs = await control.start(1);
      // the new instance's first full sync may come after /healthz turns 200: keep probing a while
      await new Promise((r) => setTimeout(r, 4000));
    } finally {
      probing = false;
      await loop;
    }
    return report;
  } finally {
    prober.close();
  }
}

/** After the restart the new instance must still act on changes: deleting both policies opens the pairs. */
export async function pairsOpenAfterDelete(model: LabModel): Promise<number> {
  model.deletePolicy('x', 'ingress-a');
  model.deletePolicy('y', 'egress-a');
  const prober = new Prober(model.lab);
  const started = Date.now();
  try {
    for (;;) {
      const results = await Promise.all(RESTART_PAIRS.map((p) => prober.probe({ from: model.netnsOf(p.from), host: model.ipOf(p.to), port: 80, timeoutMs: 800 })));
      if (results.every((r, i) => r.connected && r.answer === podKey(RESTART_PAIRS[i]!.to))) return Date.now() - started;
      assert.ok(Date.now() - started < 20_000, 'deleting the policies after the restart did not open the denied pairs');
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    prober.close();
  }
}
