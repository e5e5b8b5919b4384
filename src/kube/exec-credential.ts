// Kubeconfig `exec` credential plugins (client.authentication.k8s.io v1 / v1beta1): the command prints an
// ExecCredential whose status holds a token (and/or a client certificate); the token is fetched again when
// it expires or the API server answers 401. kube-router is never interactive: a plugin that insists on a
// terminal is refused with a clear error.
import { execFileSync } from 'node:child_process';
import { isAbsolute, resolve } from 'node:path';
import { logger } from '../observe/log.ts';
import { err, ok, type Result } from '../result.ts';
import type { BearerToken } from './token.ts';

const log = logger('kubeconfig');
const API_VERSIONS = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'];
/** Fetch a new token this long before the plugin says the old one expires. */
const EXPIRY_MARGIN_MS = 30_000;
const PLUGIN_TIMEOUT_MS = 30_000;

export interface ExecConfig {
  command: string;
  args: string[];
  env: Record<string, string>;
  apiVersion: string;
  /** The kubeconfig's directory: a relative command with a slash is resolved against it, as kubectl does. */
  baseDir: string;
}

export interface ExecCredential {
  token?: string;
  /** Epoch ms; undefined = the token does not expire. */
  expiresAt?: number;
  cert?: Buffer;
  key?: Buffer;
}

type YamlMap = Record<string, unknown>;

/** Reads a user's `exec` block; an error names the field that is wrong. */
export function parseExecConfig(exec: unknown, where: string, baseDir: string): Result<ExecConfig> {
  if (typeof exec !== 'object' || exec === null) return err(`${where}: "exec" must be a mapping`);
  const e = exec as YamlMap;
  if (typeof e['command'] !== 'string' || e['command'] === '') return err(`${where}: exec.command is missing`);
  const apiVersion = e['apiVersion'];
  if (typeof apiVersion !== 'string' || !API_VERSIONS.includes(apiVersion)) {
    return err(`${where}: exec.apiVersion must be one of ${API_VERSIONS.join(', ')}`);
  }
  if (e['interactiveMode'] === 'Always') return err(`${where}: exec plugin requires an interactive terminal (interactiveMode: Always); kube-router cannot provide one`);
  const args = e['args'] ?? [];
  if (!Array.isArray(args) || !args.every((a) => typeof a === 'string')) return err(`${where}: exec.args must be a list of strings`);
  const env: Record<string, string> = {};
  for (const item of (e['env'] ?? []) as unknown[]) {
    const v = item as YamlMap;
    if (typeof v?.['name'] !== 'string' || typeof v['value'] !== 'string') return err(`${where}: exec.env entries need a name and a value`);
    env[v['name']] = v['value'];
  }
  return ok({ command: e['command'], args: args as string[], env, apiVersion, baseDir });
}

/** Runs the plugin once and reads its ExecCredential. */
export function runExecPlugin(config: ExecConfig): Result<ExecCredential> {
  const command = config.command.includes('/') && !isAbsolute(config.command) ? resolve(config.baseDir, config.command) : config.command;
  const info = { apiVersion: config.apiVersion, kind: 'ExecCredential', spec: { interactive: false } };
  let stdout: string;
  try {
    stdout = execFileSync(command, config.args, {
      env: { ...process.env, ...config.env, KUBERNETES_EXEC_INFO: JSON.stringify(info) },
      encoding: 'utf8', timeout: PLUGIN_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (e) {
    const stderr = String((e as { stderr?: unknown }).stderr ?? '').trim().split('\n')[0] ?? '';
    return err(`exec credential plugin ${config.command} failed: ${stderr || (e instanceof Error ? e.message : String(e))}`);
  }
  let doc: YamlMap;
  try {
    doc = JSON.parse(stdout) as YamlMap;
  } catch {
    return err(`exec credential plugin ${config.command} printed no ExecCredential JSON`);
  }
  const status = doc['status'] as YamlMap | undefined;
  if (doc['kind'] !== 'ExecCredential' || typeof status !== 'object' || status === null) return err(`exec credential plugin ${config.command}: no ExecCredential status`);
  const out: ExecCredential = {};
  if (typeof status['token'] === 'string' && status['token'] !== '') out.token = status['token'];
  if (typeof status['expirationTimestamp'] === 'string') {
    const t = Date.parse(status['expirationTimestamp']);
    if (Number.isNaN(t)) return err(`exec credential plugin ${config.command}: bad expirationTimestamp`);
    out.expiresAt = t;
  }
  const cert = status['clientCertificateData'];
  const key = status['clientKeyData'];
  if ((typeof cert === 'string') !== (typeof key === 'string')) return err(`exec credential plugin ${config.command}: clientCertificateData and clientKeyData come together`);
  if (typeof cert === 'string' && typeof key === 'string') {
    out.cert = Buffer.from(cert);
    out.key = Buffer.from(key);
  }
  if (!out.token && !out.cert) return err(`exec credential plugin ${config.command}: the ExecCredential holds neither a token nor a client certificate`);
  return ok(out);
}

/** A token from an exec plugin, fetched again shortly before it expires and after a 401. */
export class ExecBearerToken implements BearerToken {
  constructor(
    private readonly config: ExecConfig,
    private token: string,
    private expiresAt: number | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  current(): string {
    if (this.expiresAt !== undefined && this.now() >= this.expiresAt - EXPIRY_MARGIN_MS) this.fetch();
    return this.token;
  }

  refreshNow(): boolean {
    return this.fetch();
  }

  /** Keeps the old token when the plugin fails: the API server's answer will tell. */
  private fetch(): boolean {
    const r = runExecPlugin(this.config);
    if (!r.ok || !r.value.token) {
      log.warn({ err: r.ok ? 'no token' : r.error }, 'exec credential plugin failed; keeping the current token');
      // Do not run the plugin on every request while it is failing.
      if (this.expiresAt !== undefined) this.expiresAt = this.now() + EXPIRY_MARGIN_MS + 10_000;
      return false;
    }
    const changed = r.value.token !== this.token;
    this.token = r.value.token;
    this.expiresAt = r.value.expiresAt;
    return changed;
  }
}
