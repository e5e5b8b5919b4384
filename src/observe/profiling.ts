// --enable-pprof: upstream serves Go's pprof on 0.0.0.0:6060. Go profiles do not exist here; the same port and
// paths serve what V8 offers instead. Nothing that holds memory contents leaves loopback: `/heap` is V8's sampling
// heap profile (allocation sites and sizes, no values), `/profile` a CPU profile taken while the loop keeps running,
// and the full heap snapshot (every string in the process: BGP passwords, the API token) is served only when the
// listener itself is a loopback address. The address is 127.0.0.1 unless --pprof-address widens it.
import http from 'node:http';
import { isIPv4, isIPv6 } from 'node:net';
import { Session } from 'node:inspector/promises';
import { logger } from './log.ts';
import { listen, type ServerHandle } from './health.ts';

export const PPROF_PORT = 6060;
const MAX_PROFILE_SECONDS = 300;
/** Average bytes allocated between two heap samples: small enough to see a leak, cheap enough to leave on. */
const HEAP_SAMPLING_INTERVAL_BYTES = 64 * 1024;

export interface ProfilingServerOptions {
  address: string;
  port: number;
}

/** 127.0.0.0/8, ::1 and IPv4-mapped 127.x: addresses only this host can reach. A wildcard is not loopback. */
export function isLoopbackAddress(address: string): boolean {
  if (isIPv4(address)) return address.startsWith('127.');
  if (!isIPv6(address)) return false;
  // The URL parser prints an IPv6 address in its shortest form, and a mapped IPv4 one in hex.
  const canonical = new URL(`http://[${address}]/`).hostname;
  return canonical === '[::1]' || /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(canonical);
}

function index(snapshotServed: boolean): string {
  return `kube-router profiling (V8, not Go pprof)
  /debug/pprof/profile?seconds=30   CPU profile as .cpuprofile JSON (Chrome DevTools > Performance, or speedscope)
  /debug/pprof/heap                 sampling heap profile as .heapprofile JSON: live allocations by call site
                                    (Chrome DevTools > Memory), no memory contents
${snapshotServed
    ? '  /debug/pprof/heapsnapshot         full heap snapshot (.heapsnapshot): every object, secrets included;\n'
      + '                                    stops the event loop (and /healthz) for seconds; loopback only\n'
    : '  (the full heap snapshot is served only when --pprof-address is a loopback address)\n'}`;
}

/** One CPU profile or snapshot at a time: they are process-wide and expensive. */
let busy = false;

async function cpuProfile(seconds: number): Promise<string> {
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    // V8 samples on its own thread; this process keeps serving (and /healthz answering) meanwhile.
    await session.post('Profiler.start');
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const { profile } = await session.post('Profiler.stop');
    return JSON.stringify(profile);
  } finally {
    session.disconnect();
  }
}

async function heapSnapshot(res: http.ServerResponse): Promise<void> {
  const session = new Session();
  session.connect();
  try {
    session.on('HeapProfiler.addHeapSnapshotChunk', (m) => res.write(m.params.chunk));
    await session.post('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
  } finally {
    session.disconnect();
  }
}

/** Heap sampling runs from server start, so `/heap` shows what is live now wherever it was allocated since. */
async function startHeapSampling(): Promise<Session> {
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.enable');
  await session.post('HeapProfiler.startSampling', { samplingInterval: HEAP_SAMPLING_INTERVAL_BYTES });
  return session;
}

export async function startProfilingServer(opts: ProfilingServerOptions): Promise<ServerHandle> {
  const log = logger('pprof');
  const snapshotServed = isLoopbackAddress(opts.address);
  const sampling = await startHeapSampling();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const runExclusive = (what: string, work: () => Promise<void>): void => {
      if (busy) {
        res.writeHead(409, { 'content-type': 'text/plain' }).end('another profile is being taken\n');
        return;
      }
      busy = true;
      log.info({ what }, 'profiling');
      work().catch((error: unknown) => {
        log.warn({ err: error, what }, 'profiling failed');
        if (!res.headersSent) res.writeHead(500);
        res.end(`${String(error)}\n`);
      }).finally(() => {
        busy = false;
      });
    };
    if (url.pathname === '/debug/pprof/profile') {
      const seconds = Number(url.searchParams.get('seconds') ?? '30');
      if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_PROFILE_SECONDS) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end(`seconds must be an integer from 1 to ${MAX_PROFILE_SECONDS}\n`);
        return;
      }
      runExclusive('cpu', async () => {
        const body = await cpuProfile(seconds);
        res.writeHead(200, { 'content-type': 'application/json', 'content-disposition': 'attachment; filename="kube-router.cpuprofile"' }).end(body);
      });
    } else if (url.pathname === '/debug/pprof/heap') {
      sampling.post('HeapProfiler.getSamplingProfile').then(({ profile }) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-disposition': 'attachment; filename="kube-router.heapprofile"' })
          .end(JSON.stringify(profile));
      }, (error: unknown) => {
        log.warn({ err: error, what: 'heap' }, 'profiling failed');
        res.writeHead(500).end(`${String(error)}\n`);
      });
    } else if (url.pathname === '/debug/pprof/heapsnapshot' && snapshotServed) {
      runExclusive('heapsnapshot', async () => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-disposition': 'attachment; filename="kube-router.heapsnapshot"' });
        await heapSnapshot(res);
        res.end();
      });
    } else if (url.pathname === '/debug/pprof/' || url.pathname === '/debug/pprof') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end(index(snapshotServed));
    } else {
      res.writeHead(404).end('not found\n');
    }
  });
  let handle: ServerHandle;
  try {
    handle = await listen(server, opts.address, opts.port);
  } catch (error) {
    sampling.disconnect();
    throw error;
  }
  log.info({ addr: opts.address, port: handle.port, heapSnapshot: snapshotServed }, 'profiling server listening');
  return {
    port: handle.port,
    close: async () => {
      await handle.close();
      sampling.disconnect();
    },
  };
}
