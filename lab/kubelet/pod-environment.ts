// What a container of a lab pod sees besides its image: the environment (literal values, the downward API,
// ConfigMap/Secret keys, $(VAR) expansion, KUBERNETES_SERVICE_*), its volumes (hostPath mapped onto the node's
// host paths, configMap, secret, emptyDir) and the ServiceAccount token directory the kubelet mounts.
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { LabApi } from '../apiserver/api.ts';
import type { KubeObject } from '../apiserver/resources.ts';
import { err, ok, type Result } from '../../src/result.ts';
import type { ContainerMount } from './container-process.ts';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

type Json = Record<string, any>;  // pod spec fragments as written by users

export interface PodContext {
  api: LabApi;
  pod: KubeObject;
  nodeName: string;
  hostIP: string;
  /** Where the API server is reachable from the node's namespace. */
  apiEndpoint: { host: string; port: number };
}

function fieldValue(ctx: PodContext, path: string): string {
  const meta = ctx.pod.metadata;
  const spec = (ctx.pod['spec'] ?? {}) as Json;
  const keyed = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (keyed) return (keyed[1] === 'labels' ? meta.labels : meta.annotations)?.[keyed[2] ?? ''] ?? '';
  switch (path) {
    case 'metadata.name': return meta.name ?? '';
    case 'metadata.namespace': return meta.namespace ?? '';
    case 'metadata.uid': return meta.uid ?? '';
    case 'spec.nodeName': return ctx.nodeName;
    case 'spec.serviceAccountName': return String(spec['serviceAccountName'] ?? 'default');
    // a hostNetwork pod's IP is its node's
    case 'status.podIP': case 'status.hostIP': case 'status.podIPs': case 'status.hostIPs': return ctx.hostIP;
    default: return '';
  }
}

function keyOf(ctx: PodContext, plural: 'configmaps' | 'secrets', name: string, key: string): string | undefined {
  const found = ctx.api.get(ctx.api.type('', plural), ctx.pod.metadata.namespace, name);
  if (!found.ok) return undefined;
  const data = (found.value['data'] ?? {}) as Record<string, string>;
  const value = data[key];
  return value === undefined ? undefined : plural === 'secrets' ? Buffer.from(value, 'base64').toString('utf8') : value;
}

/** Expands $(VAR) references to variables already defined; $$ escapes, unknown references stay as written. */
export function expandReferences(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string | undefined) => (name === undefined ? '$' : env[name] ?? match));
}

/** The container's environment, image env first, then the service variables and the container's own. */
export function containerEnv(ctx: PodContext, container: Json, imageEnv: readonly string[]): Result<Record<string, string>, string> {
  const env: Record<string, string> = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' };
  for (const entry of imageEnv) { const i = entry.indexOf('='); if (i > 0) env[entry.slice(0, i)] = entry.slice(i + 1); }
  Object.assign(env, {
    HOSTNAME: ctx.nodeName,
    KUBERNETES_SERVICE_HOST: ctx.apiEndpoint.host, KUBERNETES_SERVICE_PORT: String(ctx.apiEndpoint.port),
    KUBERNETES_SERVICE_PORT_HTTPS: String(ctx.apiEndpoint.port),
  });
  for (const from of (container['envFrom'] ?? []) as Json[]) {
    const [plural, ref] = from['configMapRef'] ? ['configmaps', from['configMapRef']] as const : ['secrets', from['secretRef']] as const;
    const found = ctx.api.get(ctx.api.type('', plural), ctx.pod.metadata.namespace, String(ref?.['name'] ?? ''));
    if (!found.ok) { if (ref?.['optional']) continue; return err(`${plural} "${String(ref?.['name'])}" not found`); }
    for (const [k, v] of Object.entries((found.value['data'] ?? {}) as Record<string, string>)) {
      env[`${String(from['prefix'] ?? '')}${k}`] = plural === 'secrets' ? Buffer.from(v, 'base64').toString('utf8') : v;
    }
  }
  for (const entry of (container['env'] ?? []) as Json[]) {
    const name = String(entry['name']);
    const from = entry['valueFrom'] as Json | undefined;
    if (!from) { env[name] = expandReferences(String(entry['value'] ?? ''), env); continue; }
    if (from['fieldRef']) { env[name] = fieldValue(ctx, String(from['fieldRef']['fieldPath'])); continue; }
    const [plural, ref] = from['configMapKeyRef'] ? ['configmaps', from['configMapKeyRef']] as const : ['secrets', from['secretKeyRef']] as const;
    const value = ref ? keyOf(ctx, plural, String(ref['name']), String(ref['key'])) : undefined;
    if (value !== undefined) env[name] = value;
    else if (!ref?.['optional']) return err(`env ${name}: ${plural} key ${String(ref?.['name'])}/${String(ref?.['key'])} not found`);
  }
  return ok(env);
}

export interface VolumeSettings {
  /** The pod's private directory (volume contents, the token). */
  podDir: string;
  /** Where a hostPath of this node lives on the real host (per-node paths differ, the rest is shared). */
  hostPath(path: string): string;
  serviceAccountToken?: { token: string; caPem: string };
}

function writeKeys(dir: string, data: Record<string, string>, decode: boolean, items?: Json[]): void {
  mkdirSync(dir, { recursive: true });
  const chosen = items ? items.map((i) => [String(i['key']), String(i['path'])] as const) : Object.keys(data).map((k) => [k, k] as const);
  for (const [key, path] of chosen) {
    const value = data[key];
    if (value === undefined) continue;
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), decode ? Buffer.from(value, 'base64') : value);
  }
}

/** Materialises the pod's volumes; returns each volume's host-side source. */
export function prepareVolumes(ctx: PodContext, settings: VolumeSettings): Result<Map<string, string>, string> {
  const sources = new Map<string, string>();
  for (const volume of (((ctx.pod['spec'] ?? {}) as Json)['volumes'] ?? []) as Json[]) {
    const name = String(volume['name']);
    const local = join(settings.podDir, 'volumes', name);
    if (volume['hostPath']) {
      const path = settings.hostPath(String(volume['hostPath']['path']));
      const type = String(volume['hostPath']['type'] ?? '');
      if (!existsSync(path)) {
        // an untyped hostPath is created as a directory, as container runtimes create missing bind sources
        if (type === 'DirectoryOrCreate' || type === '') mkdirSync(path, { recursive: true });
        else if (type === 'FileOrCreate') { mkdirSync(dirname(path), { recursive: true }); writeFileSync(path, ''); }
        else return err(`hostPath ${path} of volume ${name} does not exist`);
      }
      sources.set(name, path);
    } else if (volume['configMap'] || volume['secret']) {
      const isSecret = volume['secret'] !== undefined;
      const ref = (isSecret ? volume['secret'] : volume['configMap']) as Json;
      const found = ctx.api.get(ctx.api.type('', isSecret ? 'secrets' : 'configmaps'), ctx.pod.metadata.namespace, String(ref[isSecret ? 'secretName' : 'name']));
      if (!found.ok && !ref['optional']) return err(`volume ${name}: ${found.ok ? '' : found.error.message}`);
      writeKeys(local, found.ok ? (found.value['data'] ?? {}) as Record<string, string> : {}, isSecret, ref['items'] as Json[] | undefined);
      sources.set(name, local);
    } else if (volume['emptyDir']) {
      mkdirSync(local, { recursive: true });
      sources.set(name, local);
    } else {
      return err(`volume ${name}: only hostPath, configMap, secret and emptyDir volumes are supported by the lab kubelet`);
    }
  }
  if (settings.serviceAccountToken) {
    const dir = join(settings.podDir, 'serviceaccount');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'token'), settings.serviceAccountToken.token, { mode: 0o600 });
    writeFileSync(join(dir, 'ca.crt'), settings.serviceAccountToken.caPem);
    writeFileSync(join(dir, 'namespace'), ctx.pod.metadata.namespace ?? 'default');
  }
  return ok(sources);
}

/** The bind mounts of one container: its volumeMounts (subPath honoured) and the token directory. */
export function containerMounts(container: Json, sources: Map<string, string>, settings: VolumeSettings): Result<ContainerMount[], string> {
  const mounts: ContainerMount[] = [];
  for (const m of (container['volumeMounts'] ?? []) as Json[]) {
    const base = sources.get(String(m['name']));
    if (base === undefined) return err(`volumeMount ${String(m['mountPath'])}: no volume ${String(m['name'])}`);
    const source = m['subPath'] ? join(base, String(m['subPath'])) : base;
    if (!existsSync(source)) mkdirSync(source, { recursive: true });
    mounts.push({ source, target: String(m['mountPath']), readOnly: m['readOnly'] === true, isFile: statSync(source).isFile() });
  }
  const explicit = mounts.some((m) => m.target === SERVICE_ACCOUNT_DIR);
  if (settings.serviceAccountToken && !explicit) {
    mounts.push({ source: join(settings.podDir, 'serviceaccount'), target: SERVICE_ACCOUNT_DIR, readOnly: true, isFile: false });
  }
  return ok(mounts);
}
