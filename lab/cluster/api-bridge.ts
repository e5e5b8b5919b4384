// Makes the lab API server reachable inside node namespaces, which have no link to the host: the supervisor
// accepts connections on a unix socket in the state directory and pipes them to the API server's loopback
// listener; in every node namespace a socat listens on the same TCP port and connects to that socket. A node
// process therefore uses the very URL host kubectl uses (https://127.0.0.1:<port>), and the node's own address
// on that port reaches the API too (the `kubernetes` Service's endpoint). Traffic stays on loopback and sockets.
import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection, createServer, type Server } from 'node:net';
import { openSync, closeSync, rmSync } from 'node:fs';

/** Unix socket -> 127.0.0.1:port, one TCP connection per accepted connection. */
export async function startUnixToTcpBridge(socketPath: string, port: number): Promise<{ close(): Promise<void> }> {
  if (socketPath.length > 100) throw new Error(`state directory too deep for a unix socket path (${socketPath})`);
  rmSync(socketPath, { force: true });
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: '127.0.0.1', port });
    client.pipe(upstream).pipe(client);
    const close = (): void => { client.destroy(); upstream.destroy(); };
    client.on('error', close);
    upstream.on('error', close);
    client.on('close', close);
    upstream.on('close', close);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => { server.off('error', reject); resolve(); });
  });
  return {
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      rmSync(socketPath, { force: true });
    }),
  };
}

/** socat inside `netns`: TCP port (all addresses of the namespace) -> the bridge's unix socket. */
export function startNamespaceForwarder(netns: string, port: number, socketPath: string, logFile: string): ChildProcess {
  const log = openSync(logFile, 'a');
  try {
    return spawn('ip', ['netns', 'exec', netns, 'socat', `TCP-LISTEN:${port},fork,reuseaddr`, `UNIX-CONNECT:${socketPath}`],
      { stdio: ['ignore', log, log] });
  } finally {
    closeSync(log);
  }
}
