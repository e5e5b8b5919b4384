// Loads the shipped deploy/*.yaml manifests for the deploy tests: every document parsed, the kube-router
// container found, and its args run through the real command-line parser.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Container, ServiceAccount } from 'kubernetes-types/core/v1.js';
import type { DaemonSet } from 'kubernetes-types/apps/v1.js';
import type { ClusterRole, ClusterRoleBinding } from 'kubernetes-types/rbac/v1.js';
import { parseAllDocuments } from 'yaml';
import { parseCommandLine } from '../../../src/cli/command-line.ts';
import type { Options } from '../../../src/config/options.ts';

export const DEPLOY_DIR = join(import.meta.dirname, '..', '..', '..', 'deploy');

export interface Variant {
  file: string;
  daemonSet: DaemonSet;
  serviceAccount: ServiceAccount;
  clusterRole: ClusterRole;
  binding: ClusterRoleBinding;
  container: Container;
  /** The container's args as the real parser accepted them. */
  options: Options;
}

/** The manifest files a user applies: deploy/*.yaml (deploy/image/ holds the image build, not manifests). */
export function manifestFiles(): string[] {
  return readdirSync(DEPLOY_DIR).filter((f) => f.endsWith('.yaml')).sort();
}

/** Parses every document of a file; throws with the file name on a YAML error or warning. */
export function parseManifest(file: string): Array<{ kind?: string; metadata?: { name?: string; namespace?: string } }> {
  const docs = parseAllDocuments(readFileSync(join(DEPLOY_DIR, file), 'utf8'));
  if (!Array.isArray(docs)) throw new Error(`${file}: not a YAML stream`);
  const out = [];
  for (const doc of docs) {
    const problems = [...doc.errors, ...doc.warnings];
    if (problems.length > 0) throw new Error(`${file}: ${problems.map((p) => p.message).join('; ')}`);
    const value = doc.toJS() as unknown;
    if (value !== null) out.push(value as { kind?: string });
  }
  return out;
}

function only<T>(docs: Array<{ kind?: string }>, kind: string, file: string): T {
  const found = docs.filter((d) => d.kind === kind);
  if (found.length !== 1) throw new Error(`${file}: expected one ${kind}, found ${found.length}`);
  return found[0] as T;
}

export function loadVariant(file: string): Variant {
  const docs = parseManifest(file);
  const daemonSet = only<DaemonSet>(docs, 'DaemonSet', file);
  const container = daemonSet.spec?.template.spec?.containers.find((c) => c.name === 'kube-router');
  if (!container) throw new Error(`${file}: no kube-router container`);
  // The downward API's values as the kubelet would resolve them, plus the container's literal env.
  const env: NodeJS.ProcessEnv = { NODE_NAME: 'node-a', POD_NAME: 'kube-router-x', POD_NAMESPACE: 'kube-system' };
  for (const e of container.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
  const parsed = parseCommandLine(container.args ?? [], env, () => {
    throw new Error('the manifests read no password file');
  });
  if (parsed.kind !== 'run') throw new Error(`${file}: args not accepted: ${parsed.kind === 'error' ? parsed.message : parsed.kind}`);
  return {
    file,
    daemonSet,
    serviceAccount: only<ServiceAccount>(docs, 'ServiceAccount', file),
    clusterRole: only<ClusterRole>(docs, 'ClusterRole', file),
    binding: only<ClusterRoleBinding>(docs, 'ClusterRoleBinding', file),
    container,
    options: parsed.options,
  };
}
