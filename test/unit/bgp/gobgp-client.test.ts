// The gRPC client against a local fake GobgpApi server (gobgp's protos, unix socket): gRPC failures become typed
// errors with the status and no password, calls honour their deadline, and a broken watch stream is re-subscribed
// with a resync signal before the replayed events.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { gobgpProtoDir, loadGobgpService } from '../../../src/bgp/gobgp-proto.ts';
import { connectGobgp, type GobgpSpeaker } from '../../../src/bgp/gobgp-client.ts';
import { BgpError, type BestPathEvent } from '../../../src/bgp/speaker.ts';
import type { ApiWatchEventResponse } from '../../../src/bgp/gobgp-api-types.ts';

const skip = existsSync(join(gobgpProtoDir(), 'gobgp.proto')) ? false : 'gobgp protos not installed (golang-github-osrg-gobgp-dev)';
const T = 'type.googleapis.com/apipb.';

function pathEvent(prefix: string, withdraw = false): ApiWatchEventResponse {
  return { table: { paths: [{
    family: { afi: 'AFI_IP', safi: 'SAFI_UNICAST' }, isWithdraw: withdraw, neighborIp: '198.51.100.2',
    nlri: { '@type': `${T}IPAddressPrefix`, prefixLen: 24, prefix },
    pattrs: [{ '@type': `${T}NextHopAttribute`, nextHop: '198.51.100.2' }],
  }] } };
}

describe('gobgp gRPC client against a fake server', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'krt-bgp-unit-'));
  const target = `unix://${join(dir, 'api.sock')}`;
  const server = new grpc.Server();
  let speaker: GobgpSpeaker;
  let subscriptions = 0;
  const received: unknown[] = [];

  before(async () => {
    const service = loadGobgpService();
    assert.ok(service.ok);
    const definition = (service.value as unknown as { service: grpc.ServiceDefinition }).service;
    server.addService(definition, {
      AddPeer: (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        received.push(call.request);
        cb({ code: grpc.status.ALREADY_EXISTS, details: "can't overwrite the existing peer (password pw-12345)" });
      },
      StopBgp: () => { /* never answers: the client's deadline must fire */ },
      ListPeer: (call: grpc.ServerWritableStream<unknown, unknown>) => {
        call.write({ peer: { conf: { neighborAddress: '198.51.100.2' }, state: { neighborAddress: '198.51.100.2', peerAsn: 64512, sessionState: 'ESTABLISHED' } } });
        call.write({ peer: { conf: { neighborAddress: '198.51.100.3', peerAsn: 65000 }, state: { sessionState: 'ACTIVE', type: 'EXTERNAL' } } });
        call.end();
      },
      WatchEvent: (call: grpc.ServerWritableStream<unknown, unknown>) => {
        received.push(call.request);
        subscriptions++;
        call.write({ peer: { type: 'END_OF_INIT' } });
        if (subscriptions === 1) {
          call.write(pathEvent('198.18.1.0'));
          call.end(); // as if gobgpd went away
        } else {
          call.write(pathEvent('198.18.2.0'));
        }
      },
    });
    await new Promise<void>((resolve, reject) => server.bindAsync(target, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
    const connected = connectGobgp({ target, callTimeoutMs: 500, watchRetry: { initialMs: 50, maxMs: 100 } });
    assert.ok(connected.ok);
    speaker = connected.value;
  });

  after(() => {
    speaker?.close();
    server.forceShutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a failed call is an error value carrying the gRPC status, with the configured password removed', async () => {
    const result = await speaker.addPeer({ neighborAddress: '198.51.100.2', peerAsn: 0, authPassword: 'pw-12345', families: ['ipv4'] });
    assert.equal(result.ok, false);
    const error = !result.ok ? result.error : undefined;
    assert.ok(error instanceof BgpError);
    assert.deepEqual([error.operation, error.code, error.codeName], ['addPeer', grpc.status.ALREADY_EXISTS, 'ALREADY_EXISTS']);
    assert.ok(!error.details.includes('pw-12345'), error.details);
    // the request itself did carry the key to gobgpd
    assert.equal((received[0] as { peer: { conf: { authPassword: string } } }).peer.conf.authPassword, 'pw-12345');
  });

  it('an invalid argument is refused locally with INVALID_ARGUMENT', async () => {
    const result = await speaker.addPath({ prefix: '198.18.1.0/24', nextHop: 'node-1', family: 'ipv4', origin: 'igp' });
    assert.equal(!result.ok && result.error.codeName, 'INVALID_ARGUMENT');
  });

  it('a call the daemon never answers ends with DEADLINE_EXCEEDED after the call timeout', async () => {
    const t0 = Date.now();
    const result = await speaker.stop();
    assert.equal(!result.ok && result.error.code, grpc.status.DEADLINE_EXCEEDED);
    assert.ok(Date.now() - t0 < 2000);
  });

  it('a server stream is collected into peer states', async () => {
    const peers = await speaker.listPeers();
    assert.ok(peers.ok);
    assert.deepEqual(peers.value.map((p) => [p.address, p.asn, p.state, p.type]), [
      ['198.51.100.2', 64512, 'established', 'internal'],
      ['198.51.100.3', 65000, 'active', 'external'],
    ]);
  });

  it('the watch re-subscribes after the stream ends and signals a resync before the replayed events', async () => {
    const log: string[] = [];
    const watch = speaker.watch({
      onBestPath: (e: BestPathEvent) => log.push(`${e.withdrawal ? 'withdraw' : 'best'} ${e.prefix} via ${e.nextHop}`),
      onResync: () => log.push('resync'),
    });
    const deadline = Date.now() + 3000;
    while (log.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    watch.close();
    assert.deepEqual(log, ['best 198.18.1.0/24 via 198.51.100.2', 'resync', 'best 198.18.2.0/24 via 198.51.100.2']);
    assert.deepEqual(received.at(-1), { peer: {}, table: { filters: [{ type: 'BEST', init: true }] } });
  });
});
