// A stand-in for gobgpd used by the supervisor unit test: serves GetBgp/StopBgp of gobgp's API on the unix socket
// named in --api-hosts and records what happened to it (start, StopBgp, SIGTERM) in $FAKE_GOBGPD_EVENTS.
import { appendFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { loadGobgpService } from '../../../src/bgp/gobgp-proto.ts';

const eventsFile = process.env['FAKE_GOBGPD_EVENTS'] ?? '/dev/null';
const record = (event: string): void => appendFileSync(eventsFile, `${event} ${process.pid}\n`);

if (process.env['FAKE_GOBGPD_CRASH_AT_START'] === '1') {
  record('crash');
  process.exit(3);
}

const hosts = process.argv[process.argv.indexOf('--api-hosts') + 1] ?? '';
const socket = hosts.split(',').find((h) => h.startsWith('unix://'));
const service = loadGobgpService();
if (!socket || !service.ok) process.exit(2);

const server = new grpc.Server();
server.addService((service.value as unknown as { service: grpc.ServiceDefinition }).service, {
  GetBgp: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { global: { asn: 0 } }),
  StopBgp: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => {
    record('StopBgp');
    cb(null, {});
  },
});
server.bindAsync(socket, grpc.ServerCredentials.createInsecure(), (err) => {
  if (err) process.exit(4);
  record('start');
  console.log(JSON.stringify({ level: 'info', msg: 'gobgpd started', time: new Date().toISOString() }));
});
process.on('SIGTERM', () => {
  record('SIGTERM');
  server.forceShutdown();
  process.exit(0);
});
