// Stops and starts one lab node's kube-router (SIGTERM, then the same command line again), for the restart
// test. The lab never restarts kube-router itself, so the replacement is this file's child: stopAll() ends it.
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { healthStatus, kubeRouterLog, startKubeRouter } from '../../../lab/cluster/kube-router.ts';
import { isAlive } from '../../../lab/netns/exec.ts';
import type { LabModel } from './lab-model.ts';

const HEALTH_PORT = 20244;

export class KubeRouterControl {
  private readonly model: LabModel;
  private readonly replacements = new Map<string, ChildProcess>();

  constructor(model: LabModel) {
    this.model = model;
  }

  /** Pid of the kube-router now running on node `index` (the lab's, or our replacement), if any. */
  pidOf(index: number): number | undefined {
    const node = this.model.nodeName(index);
    const ours = this.replacements.get(node);
    if (ours) return ours.exitCode === null && ours.signalCode === null ? ours.pid : undefined;
    const rec = this.model.cluster.record.processes.filter((p) => p.role === 'kube-router' && p.node === node && !p.exitedAt).at(-1);
    return rec?.pid;
  }

  /** SIGTERM, then waits (≤ timeoutMs) for the process to be gone; returns how long it took to exit. */
  async stop(index: number, timeoutMs = 15_000): Promise<number> {
    const pid = this.pidOf(index);
    if (pid === undefined) throw new Error(`no kube-router running on node ${index}`);
    const started = Date.now();
    process.kill(pid, 'SIGTERM');
    while (isAlive(pid)) {
      if (Date.now() - started > timeoutMs) throw new Error(`kube-router ${pid} on node ${index} still running ${timeoutMs} ms after SIGTERM`);
      await new Promise((r) => setTimeout(r, 20));
    }
    this.replacements.delete(this.model.nodeName(index));
    return Date.now() - started;
  }

  /** Starts kube-router on node `index` with the lab's arguments and waits until /healthz says 200. */
  async start(index: number, timeoutMs = 60_000): Promise<number> {
    const node = this.model.nodeName(index);
    const started = Date.now();
    const child = startKubeRouter({
      node: { name: node, netns: this.model.nodeNetns(index), ip: `198.51.100.${10 + index}` },
      kubeconfig: this.model.cluster.api.kubeconfigPath, conflistFile: this.model.conflistFile(node),
      extraArgs: this.model.kubeRouterArgs, logDir: this.model.logDir(),
    });
    this.replacements.set(node, child);
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        const logFile = kubeRouterLog(this.model.logDir(), node);
        const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-5).join('\n') : '';
        throw new Error(`restarted kube-router on ${node} exited (${String(child.exitCode ?? child.signalCode)}); ${logFile} ends with:\n${tail}`);
      }
      if ((await healthStatus(this.model.nodeNetns(index), HEALTH_PORT)) === 200) return Date.now() - started;
      if (Date.now() - started > timeoutMs) throw new Error(`restarted kube-router on ${node} not healthy after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Ends every kube-router this object started (before the lab itself is stopped). */
  async stopAll(): Promise<void> {
    await Promise.all([...this.replacements.values()].map((child) => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) { resolve(); return; }
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    })));
    this.replacements.clear();
  }
}
