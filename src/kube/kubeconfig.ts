// Builds the API-server connection settings the way upstream does: `--kubeconfig` (with `--master`
// overriding the server), else in-cluster service-account config (with `--master` overriding the host).
import { readFileSync, existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { type Result, ok, err } from '../result.ts';
import { ExecBearerToken, parseExecConfig, runExecPlugin } from './exec-credential.ts';
import { type BearerToken, FileBearerToken, StaticBearerToken } from './token.ts';

export const IN_CLUSTER_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface ClientConfig {
  /** Base URL, e.g. https://10.96.0.1:443 (no trailing slash). */
  server: string;
  /** PEM bundle the server certificate must chain to; undefined = the system CAs. */
  ca?: Buffer;
  /** PEM client certificate and key for mutual TLS. */
  cert?: Buffer;
  key?: Buffer;
  insecureSkipTlsVerify: boolean;
  tlsServerName?: string;
  token?: BearerToken;
  basicAuth?: { username: string; password: string };
  /** The namespace of the context or of the service account, when known. */
  namespace?: string;
  /** Where the settings came from, for log lines ("kubeconfig /x context y", "in-cluster"). */
  source: string;
}

export interface LoadOptions {
  kubeconfigPath?: string;
  master?: string;
  /** Context name; empty = the kubeconfig's current-context. */
  context?: string;
  /** Service-account directory (tests point it at a temp dir). */
  inClusterDir?: string;
  env?: NodeJS.ProcessEnv;
  /** How often a token file's mtime may be checked for rotation. */
  tokenRecheckMs?: number;
}

/** Upstream's client selection: flags first, then in-cluster. */
export function loadClientConfig(opts: LoadOptions = {}): Result<ClientConfig> {
  const loaded = opts.kubeconfigPath ? loadKubeconfigFile(opts.kubeconfigPath, opts) : loadInCluster(opts, Boolean(opts.master));
  if (!loaded.ok || !opts.master) return loaded;
  return ok({ ...loaded.value, server: normaliseServer(opts.master), source: `${loaded.value.source} (server from --master)` });
}

function normaliseServer(server: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(server) ? server : `https://${server}`;
  return withScheme.replace(/\/+$/, '');
}

export function loadInCluster(opts: LoadOptions, masterGiven = false): Result<ClientConfig> {
  const env = opts.env ?? process.env;
  const dir = opts.inClusterDir ?? IN_CLUSTER_DIR;
  const host = env['KUBERNETES_SERVICE_HOST'];
  const port = env['KUBERNETES_SERVICE_PORT'];
  const tokenPath = join(dir, 'token');
  if (!host || !port || !existsSync(tokenPath)) {
    // Like client-go: with only --master and nothing in-cluster, talk to that server without credentials.
    if (masterGiven) return ok({ server: '', insecureSkipTlsVerify: false, source: '--master without credentials' });
    if (!host || !port) {
      return err('no --kubeconfig given and not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set');
    }
  }
  const token = FileBearerToken.open(tokenPath, opts.tokenRecheckMs);
  if (!token.ok) return token;
  const config: ClientConfig = {
    server: `https://${host?.includes(':') ? `[${host}]` : host}:${port}`,
    insecureSkipTlsVerify: false,
    token: token.value,
    source: `in-cluster (${dir})`,
  };
  const caPath = join(dir, 'ca.crt');
  if (existsSync(caPath)) {
    const ca = readFileField(caPath, 'in-cluster ca.crt');
    if (!ca.ok) return ca;
    config.ca = ca.value;
  }
  const nsPath = join(dir, 'namespace');
  if (existsSync(nsPath)) config.namespace = readFileSync(nsPath, 'utf8').trim();
  return ok(config);
}

type YamlMap = Record<string, unknown>;

function isMap(value: unknown): value is YamlMap {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function namedEntry(doc: YamlMap, listName: string, entryField: string, name: string, file: string): Result<YamlMap> {
  const list = doc[listName];
  if (list !== undefined && list !== null && !Array.isArray(list)) return err(`kubeconfig ${file}: "${listName}" must be a list`);
  const found = (list ?? []).find((e: unknown) => isMap(e) && e['name'] === name) as YamlMap | undefined;
  if (!found) return err(`kubeconfig ${file}: no entry named "${name}" in ${listName}`);
  const body = found[entryField];
  if (!isMap(body)) return err(`kubeconfig ${file}: ${listName} entry "${name}" has no "${entryField}" map`);
  return ok(body);
}

function stringField(map: YamlMap, field: string, where: string): Result<string | undefined> {
  const value = map[field];
  if (value === undefined || value === null || value === '') return ok(undefined);
  if (typeof value !== 'string') return err(`${where}: field "${field}" must be a string`);
  return ok(value);
}

function readFileField(path: string, what: string): Result<Buffer> {
  try {
    return ok(readFileSync(path));
  } catch (e) {
    return err(`cannot read ${what} file ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
}

/** A PEM given inline (`<field>-data`, base64) or as a file path (relative to the kubeconfig). */
function pemField(map: YamlMap, field: string, where: string, baseDir: string): Result<Buffer | undefined> {
  const data = stringField(map, `${field}-data`, where);
  if (!data.ok) return data;
  if (data.value) return ok(Buffer.from(data.value, 'base64'));
  const path = stringField(map, field, where);
  if (!path.ok) return path;
  if (!path.value) return ok(undefined);
  return readFileField(isAbsolute(path.value) ? path.value : resolve(baseDir, path.value), `${where} ${field}`);
}

export function loadKubeconfigFile(path: string, opts: LoadOptions = {}): Result<ClientConfig> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    return err(`cannot read kubeconfig ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    return err(`kubeconfig ${path} is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (!isMap(doc)) return err(`kubeconfig ${path}: not a YAML map`);
  const baseDir = dirname(resolve(path));

  const contextName = opts.context || (typeof doc['current-context'] === 'string' ? doc['current-context'] : '');
  if (!contextName) return err(`kubeconfig ${path}: no context given and "current-context" is not set`);
  const context = namedEntry(doc, 'contexts', 'context', contextName, path);
  if (!context.ok) return context;
  const clusterName = stringField(context.value, 'cluster', `kubeconfig ${path} context "${contextName}"`);
  if (!clusterName.ok) return clusterName;
  if (!clusterName.value) return err(`kubeconfig ${path}: context "${contextName}" names no cluster`);
  const cluster = namedEntry(doc, 'clusters', 'cluster', clusterName.value, path);
  if (!cluster.ok) return cluster;

  const clusterWhere = `kubeconfig ${path} cluster "${clusterName.value}"`;
  const server = stringField(cluster.value, 'server', clusterWhere);
  if (!server.ok) return server;
  if (!server.value && !opts.master) return err(`${clusterWhere}: field "server" is missing`);
  const ca = pemField(cluster.value, 'certificate-authority', clusterWhere, baseDir);
  if (!ca.ok) return ca;
  const tlsServerName = stringField(cluster.value, 'tls-server-name', clusterWhere);
  if (!tlsServerName.ok) return tlsServerName;
  const namespace = stringField(context.value, 'namespace', `kubeconfig ${path} context "${contextName}"`);
  if (!namespace.ok) return namespace;

  const config: ClientConfig = {
    server: normaliseServer(server.value ?? ''),
    insecureSkipTlsVerify: cluster.value['insecure-skip-tls-verify'] === true,
    source: `kubeconfig ${path} context "${contextName}"`,
  };
  if (ca.value) config.ca = ca.value;
  if (tlsServerName.value) config.tlsServerName = tlsServerName.value;
  if (namespace.value) config.namespace = namespace.value;

  const userName = stringField(context.value, 'user', `kubeconfig ${path} context "${contextName}"`);
  if (!userName.ok) return userName;
  if (!userName.value) return ok(config);
  const user = namedEntry(doc, 'users', 'user', userName.value, path);
  if (!user.ok) return user;
  const creds = applyUser(config, user.value, `kubeconfig ${path} user "${userName.value}"`, baseDir, opts);
  return creds.ok ? ok(config) : creds;
}

function applyUser(config: ClientConfig, user: YamlMap, where: string, baseDir: string, opts: LoadOptions): Result<true> {
  if (user['auth-provider'] !== undefined) {
    return err(`${where}: "auth-provider" credentials (removed from kubectl) are not supported; use an exec plugin, a token, token file or client certificate`);
  }
  const cert = pemField(user, 'client-certificate', where, baseDir);
  if (!cert.ok) return cert;
  const key = pemField(user, 'client-key', where, baseDir);
  if (!key.ok) return key;
  if (Boolean(cert.value) !== Boolean(key.value)) return err(`${where}: client-certificate and client-key must be given together`);
  if (cert.value && key.value) {
    config.cert = cert.value;
    config.key = key.value;
  }
  const token = stringField(user, 'token', where);
  if (!token.ok) return token;
  const tokenFile = stringField(user, 'tokenFile', where);
  if (!tokenFile.ok) return tokenFile;
  if (token.value) {
    config.token = new StaticBearerToken(token.value);
  } else if (tokenFile.value) {
    const file = FileBearerToken.open(isAbsolute(tokenFile.value) ? tokenFile.value : resolve(baseDir, tokenFile.value), opts.tokenRecheckMs);
    if (!file.ok) return err(`${where}: ${file.error}`);
    config.token = file.value;
  }
  const username = stringField(user, 'username', where);
  if (!username.ok) return username;
  const password = stringField(user, 'password', where);
  if (!password.ok) return password;
  if (username.value) config.basicAuth = { username: username.value, password: password.value ?? '' };
  if (user['exec'] !== undefined && !config.token && !config.cert) {
    const exec = parseExecConfig(user['exec'], where, baseDir);
    if (!exec.ok) return exec;
    // Run once now: a plugin that cannot produce credentials stops kube-router at start, with its reason.
    const first = runExecPlugin(exec.value);
    if (!first.ok) return err(`${where}: ${first.error}`);
    if (first.value.token) config.token = new ExecBearerToken(exec.value, first.value.token, first.value.expiresAt);
    if (first.value.cert && first.value.key) {
      config.cert = first.value.cert;
      config.key = first.value.key;
    }
  }
  return ok(true);
}
