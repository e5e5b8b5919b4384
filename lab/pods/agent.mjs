// The per-namespace lab agent: started inside a pod's (or node's) network namespace with
// `ip netns exec <ns> node agent.mjs '<json config>'`. It answers on every container port with two lines,
// "<namespace>/<name>" and "client <address> <port>" (the peer of the connection as this endpoint saw it, so
// SNAT is observable; TCP: write and close; UDP: one datagram per datagram; SCTP through a socat child when the
// kernel has SCTP) and serves probes *from* its namespace over a unix socket (JSON lines), so a probe costs a
// socket round trip instead of a process start. Plain JavaScript without dependencies, because it is started
// once per pod: ~0.1 s on an idle box, where going through tsx would cost ~0.3 s more.
import net from 'node:net';
import dgram from 'node:dgram';
import fs from 'node:fs';
import { spawn } from 'node:child_process';

const config = JSON.parse(process.argv[2] ?? '{}');
/** @type {{ socket: string, identity: string, ports?: { port: number, protocol: string }[] }} */
const socketPath = config.socket;
// a pooled agent starts without a pod and is given its identity and ports later ("listen" request)
let identity = config.identity;
let answerLine = `${identity}\n`;
let listening = false;
const closers = [];
const children = new Set();

const logLine = (msg, extra = {}) => process.stderr.write(JSON.stringify({ time: new Date().toISOString(), identity, msg, ...extra }) + '\n');

// socat's message when the kernel has no SCTP (socket() fails with EPROTONOSUPPORT)
const NO_SCTP = /Protocol not supported/i;

/** An IPv4 peer of a dual-stack ("::") socket comes as ::ffff:a.b.c.d: the address it really has is a.b.c.d. */
function plainAddress(address) {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address ?? '');
  return m ? m[1] : address;
}

/** The reply of a listener: the identity line, then the peer's address and port. */
function replyTo(address, port) {
  return `${answerLine}client ${plainAddress(address)} ${port}\n`;
}

const CLIENT_LINE = /^client (\S+) (\d+)$/;

/** A listener's reply split into the answer (first line) and, from a lab agent, the client it saw. */
function parseReply(text) {
  const [first = '', ...rest] = text.split('\n').map((l) => l.trim());
  const seen = rest.map((l) => CLIENT_LINE.exec(l)).find((m) => m);
  return { answer: first, ...(seen ? { client: seen[1], clientPort: Number(seen[2]) } : {}) };
}

/** Listens on "::" (IPv4 and IPv6) and falls back to 0.0.0.0 where IPv6 is unavailable. */
function listenTcp(port) {
  return new Promise((resolve, reject) => {
    const server = net.createServer((conn) => {
      conn.on('error', () => undefined);
      conn.end(replyTo(conn.remoteAddress, conn.remotePort));
    });
    const attempt = (host, fallback) => {
      server.once('error', (e) => (fallback && e.code === 'EAFNOSUPPORT' ? attempt(fallback, undefined) : reject(e)));
      server.listen({ port, host }, () => resolve(server));
    };
    attempt('::', '0.0.0.0');
    closers.push(() => server.close());
  });
}

function listenUdp(port) {
  const bind = (type, host) =>
    new Promise((resolve, reject) => {
      const sock = dgram.createSocket({ type, reuseAddr: false });
      sock.once('error', reject);
      sock.on('message', (_msg, rinfo) => sock.send(replyTo(rinfo.address, rinfo.port), rinfo.port, rinfo.address));
      sock.bind(port, host, () => {
        sock.removeListener('error', reject);
        sock.on('error', (e) => logLine('udp socket error', { port, error: e.message }));
        closers.push(() => sock.close());
        resolve(sock);
      });
    });
  return bind('udp6', '::').catch((e) => (e.code === 'EAFNOSUPPORT' ? bind('udp4', '0.0.0.0') : Promise.reject(e)));
}

/** True once something listens on SCTP port `port` in this namespace (/proc/net/sctp/eps, LPORT column). */
function sctpListening(port) {
  try {
    const lines = fs.readFileSync('/proc/net/sctp/eps', 'utf8').split('\n').slice(1);
    return lines.some((l) => l.trim().split(/\s+/)[5] === String(port));
  } catch {
    return false;
  }
}

/** True when the kernel has the sctp module, live or still loading (/proc/modules lists it either way). */
function sctpModulePresent() {
  try {
    return /^sctp /m.test(fs.readFileSync('/proc/modules', 'utf8'));
  } catch {
    return false;
  }
}

/**
 * SCTP listener through socat (Node has no SCTP). Resolves true once listening, false when the kernel has no
 * SCTP (the socket() call also autoloads the sctp module where it exists, so no check up front).
 * A socket() made while another process is autoloading the module fails the same way (most likely its modprobe sees
 * the module listed, still loading, and returns before the protocol is registered): when the module is there, that
 * is retried.
 */
async function listenSctp(port) {
  for (let attempt = 1; ; attempt++) {
    if (await startSctpListener(port)) return true;
    if (attempt === 5 || !sctpModulePresent()) return false;
    logLine('SCTP socket refused while the sctp module is present (autoload race): retrying', { port, attempt });
    await new Promise((r) => setTimeout(r, 200 * attempt));
  }
}

/** One socat SCTP listener: true once listening, false when socket() is refused with EPROTONOSUPPORT. */
async function startSctpListener(port) {
  // socat gives the forked child the peer in SOCAT_PEERADDR/SOCAT_PEERPORT. No quotes or backslashes: socat's
  // address parser would eat them (the identity is [a-z0-9.-/] only, nothing a shell splits).
  const reply = `echo ${identity}; echo client $SOCAT_PEERADDR $SOCAT_PEERPORT`;
  const child = spawn('socat', [`SCTP-LISTEN:${port},fork,reuseaddr`, `SYSTEM:${reply}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(child);
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d) => {
    err += d;
    process.stderr.write(d);
  });
  child.on('exit', () => children.delete(child));
  // 'close' comes after the exit and after stderr has been read to its end: only then is its message complete
  let closed = false;
  child.on('close', () => { closed = true; });
  // socat's start (and the sctp module's autoload) takes seconds under the VM's TCG emulation; the agent's
  // own start and "listen" requests are given 10 s
  const deadline = Date.now() + 8000;
  while (Date.now() < deadline) {
    if (closed) {
      if (NO_SCTP.test(err)) return false;
      throw new Error(`socat SCTP listener on ${port} exited ${child.exitCode}: ${err.trim()}`);
    }
    if (sctpListening(port)) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`socat SCTP listener on ${port} not listening after 8 s`);
}

function classify(code) {
  switch (code) {
    case 'ECONNREFUSED': return 'refused';
    case 'ETIMEDOUT': return 'timeout';
    case 'EHOSTUNREACH': case 'ENETUNREACH': return 'unreachable';
    case 'ECONNRESET': case 'EPIPE': return 'reset';
    default: return 'error';
  }
}

/** How long a reply's second line (the client) is waited for once the first arrived, from a peer that stays open. */
const CLIENT_LINE_GRACE_MS = 100;

function probeTcp(host, port, timeoutMs) {
  return new Promise((resolve) => {
    let connected = false;
    let data = '';
    let done = false;
    let grace;
    const finish = (extra) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(grace);
      sock.destroy();
      resolve({ connected, ...(connected ? parseReply(data) : {}), ...extra });
    };
    const sock = net.connect({ host, port });
    const timer = setTimeout(() => finish(connected ? {} : { error: 'timeout' }), timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => (connected = true));
    sock.on('data', (d) => {
      data += d;
      // a lab listener sends both lines and closes; anything else may send one line and keep the connection
      if (data.split('\n').length > 2) finish({});
      else if (data.includes('\n')) grace ??= setTimeout(() => finish({}), CLIENT_LINE_GRACE_MS);
    });
    sock.on('end', () => finish({}));
    sock.on('error', (e) => finish(connected ? {} : { error: classify(e.code), detail: e.code ?? e.message }));
  });
}

function probeUdp(host, port, timeoutMs) {
  return new Promise((resolve) => {
    const sock = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    let done = false;
    const finish = (result) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      try { sock.close(); } catch { /* already closed */ }
      resolve(result);
    };
    const timer = setTimeout(() => finish({ connected: false, error: 'timeout' }), timeoutMs);
    // a connected UDP socket receives the ICMP port-unreachable as ECONNREFUSED: a quick "refused"
    sock.on('error', (e) => finish({ connected: false, error: classify(e.code), detail: e.code ?? e.message }));
    sock.on('message', (msg) => finish({ connected: true, ...parseReply(msg.toString('utf8')) }));
    sock.connect(port, host, () => sock.send('probe\n'));
  });
}

function probeSctp(host, port, timeoutMs) {
  return new Promise((resolve) => {
    const secs = (timeoutMs / 1000).toFixed(3);
    const addr = net.isIPv6(host) ? `[${host}]` : host;
    const child = spawn('socat', ['-u', `-T${secs}`, `SCTP:${addr}:${port},connect-timeout=${secs}`, 'STDOUT'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs + 500);
    child.on('close', (code) => {
      clearTimeout(timer);
      children.delete(child);
      if (code === 0) return resolve({ connected: true, ...parseReply(out) });
      const error = NO_SCTP.test(err) ? 'unsupported' : /refused/i.test(err) ? 'refused' : /timed out|timeout/i.test(err) || code === null ? 'timeout' : /unreachable/i.test(err) ? 'unreachable' : 'error';
      resolve({ connected: false, error, detail: err.trim().split('\n').pop() });
    });
  });
}

async function handle(req) {
  const started = Date.now();
  if (req.op === 'ping') return { id: req.id, pong: true, identity, pid: process.pid };
  if (req.op === 'listen') {
    if (listening) return { id: req.id, ok: false, error: 'already listening' };
    identity = String(req.identity);
    answerLine = `${identity}\n`;
    try {
      return { id: req.id, ok: true, skipped: await openListeners(req.ports ?? []) };
    } catch (e) {
      return { id: req.id, ok: false, error: e.message };
    }
  }
  if (req.op !== 'probe') return { id: req.id, connected: false, error: 'error', detail: `unknown op ${req.op}` };
  const timeoutMs = Number(req.timeoutMs) > 0 ? Number(req.timeoutMs) : 1000;
  const protocol = String(req.protocol ?? 'tcp').toLowerCase();
  const fn = protocol === 'udp' ? probeUdp : protocol === 'sctp' ? probeSctp : protocol === 'tcp' ? probeTcp : undefined;
  const result = fn ? await fn(req.host, Number(req.port), timeoutMs) : { connected: false, error: 'error', detail: `unknown protocol ${protocol}` };
  return { id: req.id, ...result, ms: Date.now() - started };
}

function serveControl() {
  return new Promise((resolve, reject) => {
    const server = net.createServer((conn) => {
      let buf = '';
      conn.setEncoding('utf8');
      conn.on('error', () => undefined);
      conn.on('data', (d) => {
        buf += d;
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.trim() === '') continue;
          let req;
          try {
            req = JSON.parse(line);
          } catch {
            conn.write(JSON.stringify({ connected: false, error: 'error', detail: 'bad request line' }) + '\n');
            continue;
          }
          handle(req).then((res) => conn.writable && conn.write(JSON.stringify(res) + '\n'));
        }
      });
    });
    server.once('error', reject);
    server.listen(socketPath, () => resolve(server));
    closers.push(() => server.close());
  });
}

function shutdown(code) {
  for (const close of closers) {
    try { close(); } catch { /* closing anyway */ }
  }
  for (const child of children) child.kill('SIGKILL');
  try { fs.unlinkSync(socketPath); } catch { /* already gone */ }
  process.exit(code);
}

process.on('SIGTERM', () => shutdown(0));
process.on('SIGINT', () => shutdown(0));

/** Opens every container port; resolves with the ports skipped (SCTP without kernel support). */
async function openListeners(ports) {
  listening = true;
  const skipped = [];
  await Promise.all(
    ports.map(async (p) => {
      const proto = String(p.protocol ?? 'TCP').toUpperCase();
      if (proto === 'UDP') return listenUdp(p.port);
      if (proto === 'TCP') return listenTcp(p.port);
      if (proto !== 'SCTP') throw new Error(`unknown protocol ${p.protocol} for port ${p.port}`);
      if (await listenSctp(p.port)) return undefined;
      skipped.push({ ...p, reason: 'the kernel does not support SCTP' });
      logLine('SCTP not supported by this kernel: port skipped', { port: p.port });
      return undefined;
    }),
  );
  return skipped;
}

try {
  const skipped = config.ports ? await openListeners(config.ports) : [];
  await serveControl();
  // the only stdout line: the starter reads it, then closes the pipe
  process.stdout.write(JSON.stringify({ ready: true, pid: process.pid, skipped }) + '\n');
} catch (e) {
  process.stdout.write(JSON.stringify({ ready: false, error: e.message }) + '\n');
  shutdown(1);
}
