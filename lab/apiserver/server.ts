// Starts the lab API server: the object store, HTTPS (or plain HTTP) listeners, bearer-token auth,
// a kubeconfig for clients (kubectl, kube-router) and, unless disabled, the lab control loops.
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { LabApi } from './api.ts';
import { authorizeRequest, ServiceAccountTokens } from './auth.ts';
import { handleRequest, sendError, type PodLogSource } from './handlers.ts';
import { fail, ok, type Result } from './status-errors.ts';
import { makeClientCertificate, makeServerCertificates, writeKubeconfig } from './tls.ts';
import { DEFAULT_SERVICE_CIDRS, startLabControllers, type LabControllerOptions } from '../controllers/index.ts';
import { ensureKubernetesService } from '../controllers/kubernetes-service.ts';
import { logger } from '../../src/observe/log.ts';

const log = logger('lab-apiserver');

export interface LabApiServerOptions {
  /** "host:port" listen addresses (port 0 picks a free one); default ["127.0.0.1:0"]. */
  listen?: string[];
  /** Where certificates and the kubeconfig are written. */
  stateDir: string;
  /** Serve plain HTTP instead of HTTPS (unit tests). */
  plainHttp?: boolean;
  /** Bearer token clients must send; default a random one; false disables authentication. */
  token?: string | false;
  /** Also accept client certificates signed by the lab CA; the kubeconfig then carries one (user lab-admin). */
  clientCertAuth?: boolean;
  /** Extra names/IPs for the server certificate (listen IPs are added automatically). */
  extraSans?: string[];
  /** Change events kept for watch resumption (older resourceVersions get 410 Gone). Default 1000. */
  eventWindow?: number;
  /** Interval of BOOKMARK events on watches that allow them. Default 10 s. */
  bookmarkIntervalMs?: number;
  /** Unsent bytes a watch may pile up (its client not reading) before it is dropped as too slow. Default 64 MiB. */
  maxWatchBufferBytes?: number;
  /** Remove gracefully deleted pods when their grace period ends even without a kubelet. Default true. */
  expireGracefulDeletes?: boolean;
  /** Address other nodes reach the API on: publishes default/kubernetes (ClusterIP .1) with an EndpointSlice to it. */
  advertiseAddress?: string;
  /** Control loops to run in-process; false runs none. */
  controllers?: false | LabControllerOptions;
}

export interface LabApiServer {
  /** URL of the first listener (0.0.0.0 / :: shown as loopback). */
  url: string;
  urls: string[];
  kubeconfigPath: string;
  caPath: string | undefined;
  token: string | undefined;
  store: LabApi;
  /** A bearer token for ServiceAccount namespace/name (held to RBAC); fails when the account does not exist. */
  serviceAccountToken(namespace: string, name: string): Result<string>;
  /** Where GET pods/<name>/log reads from (the kubelets register here). */
  podLogs: PodLogSource[];
  stop(): Promise<void>;
}

function splitHostPort(listen: string): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(listen);
  if (!m) throw new Error(`listen address must be host:port, got "${listen}"`);
  return { host: m[1] ?? '', port: Number(m[2]) };
}

function urlHost(host: string): string {
  const shown = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return shown.includes(':') ? `[${shown}]` : shown;
}

export async function startLabApiServer(options: LabApiServerOptions): Promise<LabApiServer> {
  await mkdir(options.stateDir, { recursive: true });
  const listens = (options.listen ?? ['127.0.0.1:0']).map(splitHostPort);
  const token = options.token === false ? undefined : options.token ?? randomBytes(24).toString('hex');
  const store = new LabApi({
    ...(options.eventWindow !== undefined ? { eventWindow: options.eventWindow } : {}),
    ...(options.expireGracefulDeletes !== undefined ? { expireGracefulDeletes: options.expireGracefulDeletes } : {}),
  });
  const controllers = options.controllers === false ? undefined : startLabControllers(store, options.controllers ?? {});
  const certs = options.plainHttp ? undefined
    : await makeServerCertificates(join(options.stateDir, 'pki'), [...listens.map((l) => l.host), ...(options.extraSans ?? [])]);
  const clientCert = certs && options.clientCertAuth ? await makeClientCertificate(join(options.stateDir, 'pki')) : undefined;
  const firstHost = listens[0]?.host ?? '127.0.0.1';
  const tokens = new ServiceAccountTokens();
  const auth = { adminToken: token, clientCerts: clientCert !== undefined, tokens };
  const podLogs: PodLogSource[] = [];
  const context = { api: store, podLogs, watch: {
    bookmarkIntervalMs: options.bookmarkIntervalMs ?? 10_000, maxBufferedBytes: options.maxWatchBufferBytes ?? 64 * 1024 * 1024,
  }, serverAddress: '' };
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const denied = authorizeRequest(store, auth, req);
    if (denied) { sendError(res, denied); return; }
    handleRequest(context, req, res).catch((error: unknown) => {
      // a client that aborts mid-request (e.g. while sending its body) is not a server failure
      if (res.destroyed || req.socket.destroyed) { log.debug({ err: error, url: req.url }, 'client went away mid-request'); return; }
      log.error({ err: error, url: req.url }, 'request failed');
      if (!res.headersSent) sendError(res, { code: 500, reason: 'InternalError', message: String(error) });
      else res.destroy();
    });
  };
  const servers: Server[] = [];
  const urls: string[] = [];
  for (const { host, port } of listens) {
    const tls = { cert: certs?.cert, key: certs?.key, ...(clientCert ? { ca: certs?.ca, requestCert: true, rejectUnauthorized: false } : {}) };
    const server = certs ? createHttpsServer(tls, onRequest) : createHttpServer(onRequest);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => { server.off('error', reject); resolve(); });
    });
    servers.push(server);
    urls.push(`${certs ? 'https' : 'http'}://${urlHost(host)}:${(server.address() as AddressInfo).port}`);
  }
  const url = urls[0] ?? '';
  context.serverAddress = `${urlHost(firstHost)}:${new URL(url).port}`;
  if (options.advertiseAddress && options.controllers !== false) {
    const published = ensureKubernetesService(store, { ip: options.advertiseAddress, port: Number(new URL(url).port) },
      options.controllers?.serviceCidrs ?? DEFAULT_SERVICE_CIDRS);
    if (!published.ok) log.warn({ error: published.error.message }, 'could not publish the kubernetes service');
  }
  const kubeconfigPath = await writeKubeconfig(join(options.stateDir, 'kubeconfig'),
    { server: url, ...(certs ? { caPem: certs.ca } : {}), ...(token ? { token } : {}), ...(clientCert ? { clientCert } : {}) });
  log.info({ urls, kubeconfigPath }, 'lab API server listening');
  return {
    url, urls, kubeconfigPath, caPath: certs?.caPath, token, store, podLogs,
    serviceAccountToken(namespace: string, name: string): Result<string> {
      const account = store.get(store.type('', 'serviceaccounts'), namespace, name);
      return account.ok ? ok(tokens.issue(namespace, name, account.value.metadata.uid ?? '')) : fail(account.error);
    },
    async stop(): Promise<void> {
      controllers?.stop();
      store.close();
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => {
        s.close(() => resolve());
        s.closeAllConnections();
      })));
    },
  };
}
