// Finding the running lab from a CLI invocation: its state directory (--state-dir, default .lab) and the
// record the supervisor keeps there.
import { isAlive } from '../netns/exec.ts';
import { clusterPaths, DEFAULT_STATE_DIR, readClusterRecord, type ClusterPaths, type ClusterRecord } from '../cluster/layout.ts';

export class UsageError extends Error {}

export interface FoundLab {
  paths: ClusterPaths;
  record: ClusterRecord;
}

export function stateDirOf(value: string | undefined): string {
  return value ?? process.env['KUBE_ROUTER_LAB_STATE_DIR'] ?? DEFAULT_STATE_DIR;
}

export function supervisorAlive(record: ClusterRecord): boolean {
  return record.supervisorPid > 0 && isAlive(record.supervisorPid);
}

/** The lab recorded in the state directory; throws a UsageError when none is up. */
export function requireLab(stateDir: string | undefined): FoundLab {
  const paths = clusterPaths(stateDirOf(stateDir));
  const record = readClusterRecord(paths);
  if (!record) throw new UsageError(`no lab in ${paths.root} (start one with: kube-router-lab up)`);
  if (!supervisorAlive(record)) throw new UsageError(`the lab in ${paths.root} is not running (phase ${record.phase}${record.error ? `: ${record.error}` : ''}); run kube-router-lab down`);
  return { paths, record };
}
