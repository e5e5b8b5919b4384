// A lab pod whose containers run from images (hostNetwork only): init containers to completion in order, then
// every container supervised (restarted after exits as restartPolicy says, with a doubling back-off from 1 s to
// 30 s, reset after 60 s of running), httpGet startup/readiness/liveness probes run in the node's namespace, output
// appended to a log file per container, and the pod status computed from all of it.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { logger } from '../../src/observe/log.ts';
import { err, ok, type Result } from '../../src/result.ts';
import { startContainerProcess } from './container-process.ts';
import type { StoredImage } from './image-store.ts';
import { containerEnv, containerMounts, expandReferences, prepareVolumes, type PodContext, type VolumeSettings } from './pod-environment.ts';

const log = logger('lab-kubelet');
const MAX_BACKOFF_MS = 30_000;

type Json = Record<string, any>;  // container specs as written by users

interface ContainerState {
  spec: Json;
  init: boolean;
  process?: ChildProcess;
  ready: boolean;
  /** The startupProbe has succeeded (or there is none) since the last start. */
  started: boolean;
  restartCount: number;
  state: Record<string, unknown>;
  lastState: Record<string, unknown>;
  probeTimers: NodeJS.Timeout[];
  imageDigest: string;
}

export interface ContainerPodOptions {
  ctx: PodContext;
  netns: string;
  podDir: string;
  volumes: VolumeSettings;
  findImage(reference: string): StoredImage | undefined;
  /** Something the status shows changed. */
  onChange(): void;
}

const timestamp = (): string => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Whether every container image of the pod is in the store (then the lab runs the pod from its images). */
export function podImagesLoaded(pod: Json, find: (reference: string) => StoredImage | undefined): boolean {
  const containers = [...((pod['spec']?.['initContainers'] ?? []) as Json[]), ...((pod['spec']?.['containers'] ?? []) as Json[])];
  return containers.length > 0 && containers.every((c) => find(String(c['image'] ?? '')) !== undefined);
}

export class ContainerPod {
  private readonly states: ContainerState[];
  private stopping = false;
  private initialized = false;
  private running: Promise<void> = Promise.resolve();
  private readonly startedAt = timestamp();
  private failure: string | undefined;

  constructor(private readonly o: ContainerPodOptions) {
    const spec = (o.ctx.pod['spec'] ?? {}) as Json;
    const state = (c: Json, init: boolean): ContainerState => ({ spec: c, init, ready: false, started: false, restartCount: 0, probeTimers: [], imageDigest: '',
      state: { waiting: { reason: init ? 'PodInitializing' : 'ContainerCreating' } }, lastState: {} });
    this.states = [...((spec['initContainers'] ?? []) as Json[]).map((c) => state(c, true)), ...((spec['containers'] ?? []) as Json[]).map((c) => state(c, false))];
  }

  start(): void { this.running = this.run(); }

  private async run(): Promise<void> {
    mkdirSync(join(this.o.podDir, 'logs'), { recursive: true });
    const volumes = prepareVolumes(this.o.ctx, this.o.volumes);
    if (!volumes.ok) { this.failure = volumes.error; this.o.onChange(); return; }
    for (const init of this.states.filter((s) => s.init)) {
      if (!(await this.supervise(init, volumes.value))) return;
    }
    this.initialized = true;
    this.o.onChange();
    await Promise.all(this.states.filter((s) => !s.init).map((s) => this.supervise(s, volumes.value)));
  }

  /** Runs a container until the pod stops (init containers: until one run exits 0; then true). */
  private async supervise(s: ContainerState, volumes: Map<string, string>): Promise<boolean> {
    const policy = String((this.o.ctx.pod['spec'] as Json | undefined)?.['restartPolicy'] ?? 'Always');
    let backoff = 1000;
    while (!this.stopping) {
      const launched = this.launch(s, volumes);
      if (!launched.ok) {
        s.state = { waiting: { reason: 'CreateContainerError', message: launched.error } };
        this.o.onChange();
      } else {
        const started = Date.now();
        const code = await new Promise<number>((resolve) => launched.value.on('exit', (c, signal) => resolve(c ?? (signal ? 128 + 9 : 1))));
        // What the main process left behind dies with it, as in a runtime's PID namespace.
        this.signal(launched.value, 'SIGKILL');
        this.stopProbes(s);
        s.process = undefined;
        s.ready = false;
        s.lastState = { terminated: { exitCode: code, reason: code === 0 ? 'Completed' : 'Error', startedAt: (s.state['running'] as Json | undefined)?.['startedAt'], finishedAt: timestamp() } };
        s.state = s.lastState;
        if (Date.now() - started > 60_000) backoff = 1000;
        if (this.stopping) break;
        if (s.init && code === 0) { this.o.onChange(); return true; }
        if (!s.init && (policy === 'Never' || (policy === 'OnFailure' && code === 0))) { this.o.onChange(); return false; }
        s.restartCount++;
        s.state = { waiting: { reason: 'CrashLoopBackOff', message: `back-off ${backoff / 1000}s restarting failed container` } };
        this.o.onChange();
      }
      await sleep(backoff);
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
    return false;
  }

  private launch(s: ContainerState, volumes: Map<string, string>): Result<ChildProcess, string> {
    const name = String(s.spec['name']);
    const image = this.o.findImage(String(s.spec['image'] ?? ''));
    if (!image) return err(`image ${String(s.spec['image'])} is not loaded (kube-router-lab image load)`);
    s.imageDigest = image.digest;
    const env = containerEnv(this.o.ctx, s.spec, image.env);
    if (!env.ok) return env;
    const mounts = containerMounts(s.spec, volumes, this.o.volumes);
    if (!mounts.ok) return mounts;
    // command replaces the entrypoint and args the cmd, as with any container runtime
    const command = (s.spec['command'] as string[] | undefined) ?? image.entrypoint;
    const args = (s.spec['args'] as string[] | undefined) ?? (s.spec['command'] ? [] : image.cmd);
    const argv = [...command, ...args].map((a) => expandReferences(a, env.value));
    if (argv.length === 0) return err('no command: neither the container nor the image names one');
    const security = (s.spec['securityContext'] ?? {}) as Json;
    const child = startContainerProcess({
      netns: this.o.netns, rootfs: image.rootfs, scratchDir: join(this.o.podDir, 'containers', name), argv, env: env.value,
      workingDir: String(s.spec['workingDir'] ?? image.workingDir), mounts: mounts.value, privileged: security['privileged'] === true,
      capabilities: { add: security['capabilities']?.['add'] ?? [], drop: security['capabilities']?.['drop'] ?? [] },
      logFile: this.logFile(name),
    });
    s.process = child;
    s.state = { running: { startedAt: timestamp() } };
    s.started = false;
    s.ready = !s.init && !s.spec['readinessProbe'] && !(s.spec['startupProbe'] as Json | undefined)?.['httpGet'];
    if (!s.init) this.startProbes(s, child);
    this.o.onChange();
    return ok(child);
  }

  /**
   * httpGet probes, as the kubelet runs them: a startupProbe first (the container is neither started nor ready,
   * and the other probes wait, until it succeeds; failureThreshold failures kill it), then readiness and liveness.
   */
  private startProbes(s: ContainerState, child: ChildProcess): void {
    const startup = s.spec['startupProbe'] as Json | undefined;
    if (!startup?.['httpGet']) { s.started = true; this.runningProbes(s, child); return; }
    this.probeLoop(s, child, startup, (healthy, failures) => {
      if (healthy) {
        s.started = true;
        s.ready = !s.spec['readinessProbe'];
        this.o.onChange();
        this.runningProbes(s, child);
        return false;
      }
      if (failures < Number(startup['failureThreshold'] ?? 3)) return true;
      this.kill(s, child, 'startup');
      return false;
    });
  }

  private runningProbes(s: ContainerState, child: ChildProcess): void {
    const readiness = s.spec['readinessProbe'] as Json | undefined, liveness = s.spec['livenessProbe'] as Json | undefined;
    if (readiness?.['httpGet']) {
      this.probeLoop(s, child, readiness, (healthy, failures, successes) => {
        const ready = healthy ? successes >= Number(readiness['successThreshold'] ?? 1) ? true : s.ready : failures >= Number(readiness['failureThreshold'] ?? 3) ? false : s.ready;
        if (ready !== s.ready) { s.ready = ready; this.o.onChange(); }
        return true;
      });
    }
    if (liveness?.['httpGet']) {
      this.probeLoop(s, child, liveness, (_healthy, failures) => {
        if (failures < Number(liveness['failureThreshold'] ?? 3)) return true;
        this.kill(s, child, 'liveness');
        return false;
      });
    }
  }

  /** Runs one probe every periodSeconds (after initialDelaySeconds) while `child` runs and `onResult` says go on. */
  private probeLoop(s: ContainerState, child: ChildProcess, probe: Json, onResult: (healthy: boolean, failures: number, successes: number) => boolean): void {
    let failures = 0, successes = 0;
    const tick = async (): Promise<void> => {
      const healthy = await this.httpProbe(probe, s.spec);
      if (s.process !== child || this.stopping) return;
      failures = healthy ? 0 : failures + 1;
      successes = healthy ? successes + 1 : 0;
      if (onResult(healthy, failures, successes)) s.probeTimers.push(setTimeout(() => void tick(), Number(probe['periodSeconds'] ?? 10) * 1000));
    };
    s.probeTimers.push(setTimeout(() => void tick(), Number(probe['initialDelaySeconds'] ?? 0) * 1000));
  }

  private kill(s: ContainerState, child: ChildProcess, probe: string): void {
    log.info({ container: s.spec['name'], pod: this.o.ctx.pod.metadata.name }, `${probe} probe failed: restarting the container`);
    this.signal(child, 'SIGKILL');
  }

  private stopProbes(s: ContainerState): void {
    for (const timer of s.probeTimers) clearTimeout(timer);
    s.probeTimers = [];
  }

  /** One httpGet probe from inside the node's namespace (curl); 200-399 within timeoutSeconds is healthy. */
  private httpProbe(probe: Json, container: Json): Promise<boolean> {
    const get = probe['httpGet'] as Json;
    const named = ((container['ports'] ?? []) as Json[]).find((p) => p['name'] === get['port']);
    const port = named ? Number(named['containerPort']) : Number(get['port']);
    const host = String(get['host'] ?? this.o.ctx.hostIP);
    const url = `${String(get['scheme'] ?? 'HTTP').toLowerCase()}://${host.includes(':') ? `[${host}]` : host}:${port}${String(get['path'] ?? '/')}`;
    const timeout = String(probe['timeoutSeconds'] ?? 1);
    return new Promise((resolve) => {
      const curl = spawn('nsenter', [`--net=/run/netns/${this.o.netns}`, 'curl', '-sk', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', timeout, url], { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      curl.stdout.on('data', (d: Buffer) => (out += d.toString()));
      curl.on('error', () => resolve(false));
      curl.on('close', () => { const code = Number(out); resolve(code >= 200 && code < 400); });
    });
  }

  private signal(child: ChildProcess, signal: NodeJS.Signals): void {
    try { if (child.pid) process.kill(-child.pid, signal); } catch { /* already gone */ }
  }

  /** Stops every container: SIGTERM to its main process, then SIGKILL to all of it after the grace period. */
  async stop(graceSeconds: number): Promise<void> {
    this.stopping = true;
    const live = this.states.filter((s) => s.process);
    // SIGTERM to the main process only, as runtimes do (its children, e.g. kube-router's gobgpd, are its business;
    // signalling them too would make gobgpd send a CEASE where kube-router's graceful restart wants none).
    for (const s of live) { this.stopProbes(s); try { process.kill(s.process!.pid!, 'SIGTERM'); } catch { /* already gone */ } }
    const exited = Promise.all(live.map((s) => new Promise<void>((r) => { if (!s.process || s.process.exitCode !== null || s.process.signalCode !== null) r(); else s.process.once('exit', () => r()); })));
    const timer = setTimeout(() => { for (const s of live) if (s.process) this.signal(s.process, 'SIGKILL'); }, Math.max(0, graceSeconds) * 1000);
    await exited;
    clearTimeout(timer);
    await this.running;
  }

  logFile(container: string): string {
    return join(this.o.podDir, 'logs', `${container}.log`);
  }

  /** A container's captured output (the first main container when none is named). */
  logs(container: string | undefined): Result<string, string> {
    const name = container ?? String(this.states.find((s) => !s.init)?.spec['name'] ?? '');
    if (!this.states.some((s) => s.spec['name'] === name)) return err(`container ${name} is not valid for pod ${this.o.ctx.pod.metadata.name ?? ''}`);
    return ok(existsSync(this.logFile(name)) ? readFileSync(this.logFile(name), 'utf8') : '');
  }

  status(): Record<string, unknown> {
    const at = this.startedAt;
    const mains = this.states.filter((s) => !s.init);
    const ready = this.initialized && mains.every((s) => s.ready);
    const cond = (type: string, ok: boolean, reason?: string): Record<string, unknown> =>
      ({ type, status: ok ? 'True' : 'False', lastProbeTime: null, lastTransitionTime: at, ...(ok || !reason ? {} : { reason }) });
    const view = (s: ContainerState): Record<string, unknown> => ({
      name: s.spec['name'], image: s.spec['image'], imageID: s.imageDigest, containerID: `lab://${this.o.ctx.pod.metadata.uid ?? ''}/${String(s.spec['name'])}`,
      ready: s.ready, started: s.process !== undefined && s.started, restartCount: s.restartCount, state: s.state,
      ...(Object.keys(s.lastState).length > 0 && s.lastState !== s.state ? { lastState: s.lastState } : {}),
    });
    const initStates = this.states.filter((s) => s.init);
    return {
      phase: this.initialized ? 'Running' : 'Pending',
      conditions: [cond('PodReadyToStartContainers', this.failure === undefined), cond('Initialized', this.initialized, 'ContainersNotInitialized'),
        cond('Ready', ready, 'ContainersNotReady'), cond('ContainersReady', ready, 'ContainersNotReady'), cond('PodScheduled', true)],
      ...(this.failure ? { message: this.failure, reason: 'CreateContainerConfigError' } : {}),
      hostIP: this.o.ctx.hostIP, hostIPs: [{ ip: this.o.ctx.hostIP }], podIP: this.o.ctx.hostIP, podIPs: [{ ip: this.o.ctx.hostIP }],
      startTime: at, qosClass: 'BestEffort',
      ...(initStates.length > 0 ? { initContainerStatuses: initStates.map(view) } : {}),
      containerStatuses: mains.map(view),
    };
  }
}
