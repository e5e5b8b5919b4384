// Run inside a test namespace by profiling.test.ts: holds a secret in memory, starts the profiling server on
// argv[2] and asks it over argv[3] (the address a client would use) for every endpoint. Prints one JSON line:
// the index text, each endpoint's status, and which endpoints' bodies contained the secret.
import { randomBytes } from 'node:crypto';
import { startProfilingServer } from '../../../src/observe/profiling.ts';

const [bindAddress = '', clientAddress = ''] = process.argv.slice(2);
const secret = { value: `krt-planted-secret-${randomBytes(12).toString('hex')}` };
const server = await startProfilingServer({ address: bindAddress, port: 0 });
const host = clientAddress.includes(':') ? `[${clientAddress}]` : clientAddress;
const base = `http://${host}:${server.port}/debug/pprof`;
try {
  const status: Record<string, number> = {};
  const leaks: string[] = [];
  let index = '';
  for (const path of ['', 'heap', 'heapsnapshot', 'profile?seconds=1']) {
    const res = await fetch(`${base}/${path}`);
    const body = await res.text();
    status[path || 'index'] = res.status;
    if (path === '') index = body;
    if (body.includes(secret.value)) leaks.push(path);
  }
  console.log(JSON.stringify({ index, status, leaks }));
} finally {
  await server.close();
}
