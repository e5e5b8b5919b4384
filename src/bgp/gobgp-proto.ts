// Loads gobgp's API protos at run time (from the Debian golang-github-osrg-gobgp-dev package, nothing generated is
// committed) and wraps grpc-js unary and server-streaming calls into promises of BgpResult with deadlines.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { Result } from '../result.ts';
import { BgpError, type BgpResult } from './speaker.ts';

export const DEFAULT_GOBGP_PROTO_DIR = '/usr/share/gocode/src/github.com/osrg/gobgp/api';
const PROTO_FILES = ['gobgp.proto', 'attribute.proto', 'capability.proto'];

/** The directory holding gobgp's .proto files: $KUBE_ROUTER_GOBGP_PROTO_DIR or the Debian package's path. */
export function gobgpProtoDir(): string {
  return process.env['KUBE_ROUTER_GOBGP_PROTO_DIR'] || DEFAULT_GOBGP_PROTO_DIR;
}

type ServiceConstructor = new (target: string, credentials: grpc.ChannelCredentials, options?: grpc.ClientOptions) => grpc.Client;

const loaded = new Map<string, ServiceConstructor>();

/** Loads (once per directory) the apipb.GobgpApi client constructor. */
export function loadGobgpService(dir: string = gobgpProtoDir()): Result<ServiceConstructor> {
  const cached = loaded.get(dir);
  if (cached) return { ok: true, value: cached };
  const missing = PROTO_FILES.filter((f) => !existsSync(join(dir, f)));
  if (missing.length > 0) {
    return { ok: false, error: `gobgp protos ${missing.join(', ')} not found in ${dir} (install golang-github-osrg-gobgp-dev or set KUBE_ROUTER_GOBGP_PROTO_DIR)` };
  }
  try {
    // json: true maps google.protobuf.Any to {'@type': 'type.googleapis.com/apipb.X', ...fields} both ways.
    const definition = protoLoader.loadSync(PROTO_FILES, { includeDirs: [dir], longs: String, enums: String, oneofs: true, json: true });
    const pkg = grpc.loadPackageDefinition(definition) as unknown as { apipb?: { GobgpApi?: ServiceConstructor } };
    const ctor = pkg.apipb?.GobgpApi;
    if (!ctor) return { ok: false, error: `no service apipb.GobgpApi in the protos of ${dir}` };
    loaded.set(dir, ctor);
    return { ok: true, value: ctor };
  } catch (e) {
    return { ok: false, error: `cannot load gobgp protos from ${dir}: ${(e as Error).message}` };
  }
}

/** A grpc-js client of apipb.GobgpApi with its methods looked up by name. */
export interface GobgpRawClient {
  readonly client: grpc.Client;
  unary<Req, Res>(method: string, request: Req, timeoutMs: number): Promise<BgpResult<Res>>;
  stream<Req, Res>(method: string, request: Req, timeoutMs: number): Promise<BgpResult<Res[]>>;
  /** An open-ended server stream (no deadline); the caller handles its events. */
  openStream<Req, Res>(method: string, request: Req): grpc.ClientReadableStream<Res>;
  close(): void;
}

/** Turns a failed call into a BgpError; `scrub` removes secrets a daemon might echo back in error details. */
export function toBgpError(operation: string, e: unknown, scrub: (s: string) => string = (s) => s): BgpError {
  const se = e as Partial<grpc.ServiceError>;
  const code = typeof se.code === 'number' ? se.code : grpc.status.UNKNOWN;
  const codeName = grpc.status[code] ?? 'UNKNOWN';
  return new BgpError(operation, code, codeName, scrub(se.details ?? (e as Error).message ?? String(e)));
}

type UnaryMethod = (req: unknown, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: unknown) => void) => void;
type StreamMethod = (req: unknown, md: grpc.Metadata, opts: grpc.CallOptions) => grpc.ClientReadableStream<unknown>;

export interface RawClientOptions {
  /** grpc target, e.g. 'unix:///run/kube-router/gobgpd.sock' or '127.0.0.1:50051'. */
  target: string;
  protoDir?: string;
  scrub?: (s: string) => string;
}

export function createGobgpRawClient(opts: RawClientOptions): Result<GobgpRawClient> {
  const service = loadGobgpService(opts.protoDir);
  if (!service.ok) return service;
  const scrub = opts.scrub ?? ((s: string) => s);
  // Short reconnect backoff: after gobgpd restarts we want calls to reach it within about a second, not grpc's 120 s cap.
  const client = new service.value(opts.target, grpc.credentials.createInsecure(), {
    'grpc.initial_reconnect_backoff_ms': 100,
    'grpc.max_reconnect_backoff_ms': 1000,
  });
  const method = <M>(name: string): M => {
    const fn = (client as unknown as Record<string, unknown>)[name];
    if (typeof fn !== 'function') throw new Error(`bug: gobgp API has no method ${name}`);
    return (fn as (...a: unknown[]) => unknown).bind(client) as M;
  };
  // waitForReady: a call made while the daemon is (re)starting waits for the connection until its deadline.
  const metadata = (): grpc.Metadata => new grpc.Metadata({ waitForReady: true });
  return {
    ok: true,
    value: {
      client,
      unary<Req, Res>(name: string, request: Req, timeoutMs: number): Promise<BgpResult<Res>> {
        return new Promise((resolve) => {
          try {
            method<UnaryMethod>(name)(request, metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => {
              resolve(err ? { ok: false, error: toBgpError(name, err, scrub) } : { ok: true, value: res as Res });
            });
          } catch (e) {
            // grpc-js throws synchronously on a closed client or an unserialisable request.
            resolve({ ok: false, error: toBgpError(name, e, scrub) });
          }
        });
      },
      stream<Req, Res>(name: string, request: Req, timeoutMs: number): Promise<BgpResult<Res[]>> {
        return new Promise((resolve) => {
          const items: Res[] = [];
          let call: grpc.ClientReadableStream<unknown>;
          try {
            call = method<StreamMethod>(name)(request, metadata(), { deadline: Date.now() + timeoutMs });
          } catch (e) {
            resolve({ ok: false, error: toBgpError(name, e, scrub) });
            return;
          }
          call.on('data', (item: unknown) => items.push(item as Res));
          call.on('error', (err: unknown) => resolve({ ok: false, error: toBgpError(name, err, scrub) }));
          call.on('end', () => resolve({ ok: true, value: items }));
        });
      },
      openStream<Req, Res>(name: string, request: Req): grpc.ClientReadableStream<Res> {
        return method<StreamMethod>(name)(request, metadata(), {}) as grpc.ClientReadableStream<Res>;
      },
      close(): void {
        client.close();
      },
    },
  };
}
