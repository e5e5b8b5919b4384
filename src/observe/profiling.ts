// --enable-pprof: upstream serves Go's pprof on 0.0.0.0:6060. Go profiles do not exist here; the same port
// and paths serve what V8 offers instead: a CPU profile (.cpuprofile, for Chrome DevTools or speedscope) and
// a heap snapshot (.heapsnapshot), both taken on demand from the running daemon.
import http from 'node:http';
import { Session } from 'node:inspector/promises';
import { logger } from './log.ts';
import { listen, type ServerHandle } from './health.ts';

export const PPROF_PORT = 6060;
const MAX_PROFILE_SECONDS = 300;

const INDEX = `kube-router profiling (V8, not Go pprof)
  /debug/pprof/profile?seconds=30   CPU profile as .cpuprofile JSON (Chrome DevTools > Performance, or speedscope)
  /debug/pprof/heap                 heap snapshot as .heapsnapshot JSON (Chrome DevTools > Memory)
`;

/** One profile at a time: the inspector session is process-wide. */
let busy = false;

async function cpuProfile(seconds: number): Promise<string> {
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
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

export function startProfilingServer(host: string, port: number): Promise<ServerHandle> {
  const log = logger('pprof');
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const run = (what: string, work: () => Promise<void>): void => {
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
      run('cpu', async () => {
        const body = await cpuProfile(seconds);
        res.writeHead(200, { 'content-type': 'application/json', 'content-disposition': 'attachment; filename="kube-router.cpuprofile"' }).end(body);
      });
    } else if (url.pathname === '/debug/pprof/heap') {
      run('heap', async () => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-disposition': 'attachment; filename="kube-router.heapsnapshot"' });
        await heapSnapshot(res);
        res.end();
      });
    } else if (url.pathname === '/debug/pprof/' || url.pathname === '/debug/pprof') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end(INDEX);
    } else {
      res.writeHead(404).end('not found\n');
    }
  });
  return listen(server, host, port).then((h) => {
    log.info({ addr: host || '0.0.0.0', port: h.port }, 'profiling server listening');
    return h;
  });
}
