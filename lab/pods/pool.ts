// Warm agents: started ahead of time, each in a fresh unnamed network namespace, and handed to a new pod by
// naming that namespace (`ip netns attach`), so a pod's listeners do not wait for a Node start (~0.2 s CPU,
// seconds on a loaded box). Idle ones are recorded as warm-<id>.json next to their sockets; taking one is
// an atomic rename, so concurrent CLI processes never hand the same agent to two pods.
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive } from '../netns/exec.ts';
import { writeJson, type LabPaths } from '../netns/state.ts';
import { AgentConnection, startAgent, stopAgent, type AgentPort, type StartedAgent } from './agents.ts';

export interface WarmAgent {
  pid: number;
  socketPath: string;
}

function idleRecords(paths: LabPaths): string[] {
  if (!existsSync(paths.sockets)) return [];
  return readdirSync(paths.sockets)
    .filter((f) => f.startsWith('warm-') && f.endsWith('.json'))
    .map((f) => join(paths.sockets, f));
}

function readRecord(file: string): WarmAgent | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as WarmAgent;
  } catch {
    return undefined;
  }
}

/** Starts agents until `count` idle warm agents exist; resolves with how many were started. */
export async function warmAgents(paths: LabPaths, count: number): Promise<number> {
  const alive = idleRecords(paths).filter((f) => {
    const rec = readRecord(f);
    if (rec && isAlive(rec.pid)) return true;
    rmSync(f, { force: true });
    return false;
  }).length;
  const missing = Math.max(0, count - alive);
  await Promise.all(
    Array.from({ length: missing }, async () => {
      const id = randomBytes(4).toString('hex');
      const socketPath = join(paths.sockets, `warm-${id}.sock`);
      const agent = await startAgent({ socketPath, identity: 'warm', logFile: join(paths.logs, `warm-${id}.log`) });
      writeJson(join(paths.sockets, `warm-${id}.json`), { pid: agent.pid, socketPath } satisfies WarmAgent);
    }),
  );
  return missing;
}

/** Takes one idle warm agent (it is then the caller's), or undefined when none is left. */
export function takeWarmAgent(paths: LabPaths): WarmAgent | undefined {
  for (const file of idleRecords(paths)) {
    const claimed = `${file}.${process.pid}.taken`;
    try {
      renameSync(file, claimed);
    } catch {
      continue; // another process took it first
    }
    const rec = readRecord(claimed);
    rmSync(claimed, { force: true });
    if (rec && isAlive(rec.pid)) return rec;
  }
  return undefined;
}

/** Gives a taken agent its pod: the answer line and the container ports to open. Resolves with skipped ports. */
export async function assignWarmAgent(agent: WarmAgent, identity: string, ports: AgentPort[]): Promise<StartedAgent['skipped']> {
  const conn = await AgentConnection.open(agent.socketPath);
  try {
    const reply = await conn.request({ op: 'listen', identity, ports }, 10_000);
    if (reply.ok !== true) throw new Error(`agent ${agent.pid} could not open the pod's ports: ${reply.error ?? reply.detail ?? 'no reply'}`);
    return reply.skipped ?? [];
  } finally {
    conn.close();
  }
}

/** Stops every idle warm agent (their namespaces have no name and vanish with them). */
export async function stopWarmAgents(paths: LabPaths): Promise<void> {
  await Promise.all(
    idleRecords(paths).map(async (file) => {
      const rec = readRecord(file);
      rmSync(file, { force: true });
      if (rec) {
        await stopAgent(rec.pid);
        rmSync(rec.socketPath, { force: true });
      }
    }),
  );
}
