// Two supervised gobgpd speakers and a bird2 router in namespaces, driven only through our BgpSpeaker over gRPC:
// sessions, MD5, path propagation, export/import policies, soft reset, crash restart with state re-applied, and
// graceful vs non-graceful stop. Sessions take 5-10 s to come up, so one topology serves every test in order.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { haveCommand, isRoot } from '../../helpers/netns.ts';
import { ADDR, Bird, BgpTopology, eventually, sleep, tcpExtCounter } from './bgp-lab.ts';
import { GobgpdSupervisor } from '../../../src/bgp/gobgpd-supervisor.ts';
import { connectGobgp, type GobgpSpeaker } from '../../../src/bgp/gobgp-client.ts';
import { SecretScrubber } from '../../../src/bgp/gobgpd-log.ts';
import type { BestPathEvent, BgpResult, Path, PeerConfig } from '../../../src/bgp/speaker.ts';

const skip = !isRoot || !haveCommand('gobgpd') || !haveCommand('bird') || !haveCommand('gobgp') ? 'needs root, gobgpd, gobgp and bird2' : false;

const ADMIN_PORT_A = 50071;
const SECRET_AB = 'krt-ab-md5-secret';
const SECRET_AC = 'krt-ac-md5-secret';
const BIRD_ANNOUNCES = ['198.18.50.0/24', '198.18.60.0/24'];
const FAST_TIMERS = { holdTimeSec: 9, keepaliveSec: 3, connectRetrySec: 1 };

function must<T>(result: BgpResult<T>): T {
  if (!result.ok) throw result.error;
  return result.value;
}

function v4Path(prefix: string): Path {
  return { prefix, nextHop: ADDR.aToB, family: 'ipv4', origin: 'igp' };
}

describe('gobgpd driven over gRPC (two speakers and bird2 in namespaces)', { skip }, () => {
  let topo: BgpTopology;
  let bird: Bird;
  let supA: GobgpdSupervisor;
  let supB: GobgpdSupervisor;
  let A: GobgpSpeaker;
  let B: GobgpSpeaker;
  const eventsB: BestPathEvent[] = [];
  const watches: { close(): void }[] = [];
  let resyncsA = 0;
  let reappliedA = 0;
  let birdStartedAt = 0;
  // A's desired state, re-applied in full after a gobgpd restart (what the routing controller will do).
  const podCidrs = ['198.18.1.0/24', '198.18.3.0/24'];
  const pathsA = new Map<string, Path>();
  const peersA: PeerConfig[] = [
    { neighborAddress: ADDR.bToA, peerAsn: 0, localAddress: ADDR.aToB, authPassword: SECRET_AB, families: ['ipv4'], ...FAST_TIMERS },
    {
      neighborAddress: ADDR.cToA, peerAsn: 64512, localAddress: ADDR.aToC, authPassword: SECRET_AC, families: ['ipv4'], ...FAST_TIMERS,
      gracefulRestart: { restartTimeSec: 120 },
    },
  ];

  async function applyDesiredA(): Promise<void> {
    must(await A.start({ asn: 64512, routerId: ADDR.aToB, listenAddresses: [ADDR.aToB, ADDR.aToC], listenPort: 179 }));
    must(await A.addDefinedSet({ kind: 'prefix', name: 'podcidrdefinedset', prefixes: podCidrs.map((prefix) => ({ prefix })) }));
    must(await A.addDefinedSet({ kind: 'prefix', name: 'customimportrejectdefinedset', prefixes: [{ prefix: '198.18.50.0/24', maskLengthMax: 32 }] }));
    must(await A.addDefinedSet({ kind: 'neighbor', name: 'iBGPpeerset', neighbors: [ADDR.bToA] }));
    must(await A.addDefinedSet({ kind: 'neighbor', name: 'externalpeerset', neighbors: [ADDR.cToA] }));
    must(await A.addDefinedSet({ kind: 'neighbor', name: 'allpeerset', neighbors: [ADDR.bToA, ADDR.cToA] }));
    must(await A.addPolicy({
      name: 'kube_router_export1',
      statements: [
        { name: 'podcidrs-to-ibgp', conditions: { prefixSet: { name: 'podcidrdefinedset' }, neighborSet: { name: 'iBGPpeerset' } }, actions: { route: 'accept' } },
        {
          name: 'podcidrs-to-external',
          conditions: { prefixSet: { name: 'podcidrdefinedset' }, neighborSet: { name: 'externalpeerset' } },
          actions: { route: 'accept', addCommunities: ['64999:100'], nextHopSelf: true },
        },
      ],
    }));
    must(await A.addPolicy({
      name: 'kube_router_import1',
      statements: [{ name: 'reject-custom', conditions: { prefixSet: { name: 'customimportrejectdefinedset' }, neighborSet: { name: 'allpeerset' } }, actions: { route: 'reject' } }],
    }));
    must(await A.setGlobalPolicy('export', { policies: ['kube_router_export1'], defaultAction: 'reject' }));
    must(await A.setGlobalPolicy('import', { policies: ['kube_router_import1'], defaultAction: 'accept' }));
    for (const peer of peersA) must(await A.addPeer(peer));
    for (const path of pathsA.values()) must(await A.addPath(path));
  }

  async function peerState(speaker: GobgpSpeaker, address: string): Promise<string | undefined> {
    const peers = await speaker.listPeers();
    return peers.ok ? peers.value.find((p) => p.address === address)?.state : undefined;
  }

  /** Index + 1 of the first event on B for `prefix` from index `from` on that is (or is not) a withdrawal. */
  function nextEvent(from: number, prefix: string, withdrawal: boolean): number | undefined {
    const i = eventsB.findIndex((e, idx) => idx >= from && e.prefix === prefix && e.withdrawal === withdrawal);
    return i < 0 ? undefined : i + 1;
  }

  /** A–B established and B's watch last reported `prefix` as present: nothing about it is in flight. */
  async function steadyOnB(prefix: string): Promise<void> {
    await eventually(`A–B established and ${prefix} on B`, 30_000, async () => {
      const last = eventsB.filter((e) => e.prefix === prefix).at(-1);
      return last?.withdrawal === false && (await peerState(B, ADDR.aToB)) === 'established' && (await bestOn(B, prefix)) !== undefined;
    });
  }

  async function bestOn(speaker: GobgpSpeaker, prefix: string): Promise<BestPathEvent | undefined> {
    return must(await speaker.listBestPaths('ipv4')).find((p) => p.prefix === prefix);
  }

  before(async () => {
    topo = new BgpTopology();
    const scrubber = new SecretScrubber();
    supA = new GobgpdSupervisor({
      socketPath: join(topo.dir, 'a.sock'), adminPort: ADMIN_PORT_A, netns: topo.a.name, scrubber,
      restartBackoff: { initialMs: 200, maxMs: 2000 },
      onRestarted: async () => {
        await applyDesiredA();
        reappliedA++;
      },
    });
    supB = new GobgpdSupervisor({ socketPath: join(topo.dir, 'b.sock'), adminPort: 0, netns: topo.b.name });
    const [startedA, startedB] = await Promise.all([supA.start(), supB.start()]);
    assert.deepEqual([startedA, startedB], [{ ok: true, value: undefined }, { ok: true, value: undefined }]);
    const a = connectGobgp({ target: supA.apiTarget, scrubber, watchRetry: { initialMs: 200, maxMs: 1000 } });
    const b = connectGobgp({ target: supB.apiTarget });
    assert.ok(a.ok && b.ok);
    A = a.value;
    B = b.value;
    watches.push(A.watch({ onBestPath: () => {}, onResync: () => resyncsA++ }));
    watches.push(B.watch({ onBestPath: (e) => eventsB.push(e) }));
    await applyDesiredA();
    must(await B.start({ asn: 64512, routerId: ADDR.bToA, listenAddresses: [ADDR.bToA], listenPort: 179 }));
    must(await B.addPeer({ neighborAddress: ADDR.aToB, peerAsn: 64512, localAddress: ADDR.bToA, authPassword: SECRET_AB, families: ['ipv4'], ...FAST_TIMERS }));
    // bird starts with the wrong MD5 key; the next test checks it stays out, then fixes the key.
    bird = new Bird(topo.c, topo.dir);
    bird.startWith({ password: 'wrong-md5-secret', announce: BIRD_ANNOUNCES });
    birdStartedAt = Date.now();
  });

  after(async () => {
    for (const w of watches) w.close();
    A?.close();
    B?.close();
    await supA?.stop({ graceful: true });
    await supB?.stop({ graceful: true });
    await bird?.stop();
    topo?.destroy();
  });

  it('two speakers establish an iBGP session whose sockets carry TCP MD5 keys', async (t) => {
    const t0 = Date.now();
    await eventually('A–B established', 30_000, async () => (await peerState(A, ADDR.bToA)) === 'established' && (await peerState(B, ADDR.aToB)) === 'established');
    t.diagnostic(`session up after ${Date.now() - t0} ms`);
    // ss prints the key itself after 'md5keys:<peer>/32=', so test without echoing the output
    const sockets = topo.a.exec('ss', ['-tnie', 'state', 'established', 'dst', ADDR.bToA]);
    assert.ok(sockets.includes(`md5keys:${ADDR.bToA}/32=`), "the established BGP socket carries an MD5 key for B's address");
  });

  it('a wrong TCP MD5 password keeps a session down and the right one brings it up', async (t) => {
    await sleep(Math.max(0, birdStartedAt + 6000 - Date.now()));
    assert.notEqual(await peerState(A, ADDR.cToA), 'established');
    const failures = tcpExtCounter(topo.a, 'TCPMD5Failure') + tcpExtCounter(topo.c, 'TCPMD5Failure');
    assert.ok(failures > 0, `kernels rejected segments with a bad MD5 signature (${failures})`);
    const t0 = Date.now();
    bird.reconfigureWith({ password: SECRET_AC, announce: BIRD_ANNOUNCES });
    await eventually('A–bird established', 30_000, async () => (await peerState(A, ADDR.cToA)) === 'established');
    t.diagnostic(`bird session up ${Date.now() - t0} ms after fixing the key`);
  });

  it("a path added on A reaches B as a best path with A's address as next hop", async (t) => {
    const t0 = Date.now();
    for (const prefix of ['198.18.1.0/24', '198.18.3.0/24', '198.18.9.0/24']) {
      pathsA.set(prefix, v4Path(prefix));
      must(await A.addPath(v4Path(prefix)));
    }
    const event = await eventually('B best path 198.18.1.0/24', 10_000, () => eventsB.find((e) => e.prefix === '198.18.1.0/24' && !e.withdrawal));
    t.diagnostic(`seen on B after ${Date.now() - t0} ms`);
    assert.deepEqual(event, {
      prefix: '198.18.1.0/24', nextHop: ADDR.aToB, family: 'ipv4', withdrawal: false, fromPeer: ADDR.aToB, isLocal: false, communities: [],
    });
    assert.equal((await bestOn(A, '198.18.1.0/24'))?.isLocal, true);
  });

  it('deleting a path on A withdraws it on B', async () => {
    await eventually('B has 198.18.3.0/24', 10_000, () => eventsB.some((e) => e.prefix === '198.18.3.0/24' && !e.withdrawal));
    pathsA.delete('198.18.3.0/24');
    must(await A.deletePath(v4Path('198.18.3.0/24')));
    const withdrawal = await eventually('withdrawal on B', 10_000, () => eventsB.find((e) => e.prefix === '198.18.3.0/24' && e.withdrawal));
    assert.equal(withdrawal.fromPeer, ADDR.aToB);
    assert.equal(await bestOn(B, '198.18.3.0/24'), undefined);
  });

  it('the export policy sends bird only the pod CIDR, with the community added and A as next hop', async () => {
    const route = await eventually('bird route 198.18.1.0/24', 10_000, () => bird.route('198.18.1.0/24') || undefined);
    assert.match(route, /BGP\.community: \(64999,100\)/);
    assert.match(route, new RegExp(`via ${ADDR.aToC.replaceAll('.', '\\.')}`));
    // 198.18.9.0/24 is in A's RIB but in no exported prefix set: neither B nor bird get it.
    assert.equal((await bestOn(A, '198.18.9.0/24'))?.isLocal, true);
    assert.equal(bird.route('198.18.9.0/24'), '');
    assert.equal(await bestOn(B, '198.18.9.0/24'), undefined);
  });

  it('replacing the prefix set and soft-resetting outbound exports a further prefix', async () => {
    podCidrs.push('198.18.9.0/24');
    must(await A.replaceDefinedSet({ kind: 'prefix', name: 'podcidrdefinedset', prefixes: podCidrs.map((prefix) => ({ prefix })) }));
    const sets = must(await A.listDefinedSets('prefix')).find((s) => s.name === 'podcidrdefinedset');
    assert.deepEqual(sets?.kind === 'prefix' && sets.prefixes.map((p) => p.prefix).sort(), [...podCidrs].sort());
    must(await A.softResetPeer(ADDR.cToA, 'out'));
    await eventually('bird route 198.18.9.0/24', 10_000, () => bird.route('198.18.9.0/24') || undefined);
  });

  it("the import policy keeps bird's prefix from the reject set out of A's best paths", async () => {
    const accepted = await eventually('A best path 198.18.60.0/24', 10_000, () => bestOn(A, '198.18.60.0/24'));
    assert.equal(accepted.fromPeer, ADDR.cToA);
    assert.equal(accepted.nextHop, ADDR.cToA);
    assert.equal(await bestOn(A, '198.18.50.0/24'), undefined);
  });

  it('the Debian gobgp CLI reaches the admin API; admin port 0 opens no TCP API', () => {
    const cli = spawnSync('ip', ['netns', 'exec', topo.a.name, 'gobgp', '-p', String(ADMIN_PORT_A), 'neighbor'], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(cli.status, 0, cli.stderr);
    assert.match(cli.stdout, new RegExp(`${ADDR.bToA.replaceAll('.', '\\.')}.*Establ`));
    const none = spawnSync('ip', ['netns', 'exec', topo.b.name, 'gobgp', '-p', '50051', 'neighbor'], { encoding: 'utf8', timeout: 10_000 });
    assert.notEqual(none.status, 0);
    const viaSocket = spawnSync('gobgp', ['--target', supB.apiTarget, 'neighbor'], { encoding: 'utf8', timeout: 10_000 });
    assert.match(viaSocket.stdout, new RegExp(`${ADDR.aToB.replaceAll('.', '\\.')}.*Establ`));
  });

  it("updatePeer changes a peer's configuration in gobgpd, which re-opens the session to apply it", async () => {
    const mark = eventsB.length;
    must(await A.updatePeer({ ...peersA[0]!, description: 'node-b' }));
    const cli = spawnSync('ip', ['netns', 'exec', topo.a.name, 'gobgp', '-p', String(ADMIN_PORT_A), 'neighbor', ADDR.bToA, '-j'], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(cli.status, 0, cli.stderr);
    assert.equal((JSON.parse(cli.stdout) as { conf?: { description?: string } }).conf?.description, 'node-b');
    // gobgpd applies any change to a neighbor's config by deleting and re-adding the peer (a CEASE to B), so the
    // session and B's paths from A go and come back. Wait for that here: the next test needs a steady session.
    await eventually('withdrawal on B after the CEASE', 15_000, () => nextEvent(mark, '198.18.1.0/24', true));
    await steadyOnB('198.18.1.0/24');
  });

  it('after kill -9 the supervisor restarts gobgpd, the owner re-applies state and B learns the path again', async (t) => {
    const oldPid = supA.pid;
    assert.ok(oldPid);
    await steadyOnB('198.18.1.0/24');
    const mark = eventsB.length;
    const t0 = Date.now();
    process.kill(oldPid, 'SIGKILL');
    // Guaranteed, and recorded by B's watch, so it cannot be missed: A and B did not negotiate graceful restart,
    // and the established session (A's socket closes when its process dies) must go down before any new one.
    const withdrawn = await eventually('withdrawal on B', 15_000, () => nextEvent(mark, '198.18.1.0/24', true));
    // bird negotiated graceful restart with A, so it keeps A's routes (stale) while A is away.
    assert.notEqual(bird.route('198.18.1.0/24'), '');
    await eventually('state re-applied', 15_000, () => reappliedA === 1);
    assert.notEqual(supA.pid, oldPid);
    assert.equal(supA.restarts, 1);
    t.diagnostic(`restarted and re-applied after ${Date.now() - t0} ms`);
    await eventually('path back on B', 30_000, () => nextEvent(withdrawn, '198.18.1.0/24', false));
    t.diagnostic(`path back on B after ${Date.now() - t0} ms`);
    assert.ok(resyncsA >= 1, "A's event stream was re-subscribed and asked for a resync");
    await eventually('A–bird re-established', 30_000, async () => (await peerState(A, ADDR.cToA)) === 'established');
  });

  it('a graceful stop sends no CEASE so a graceful-restart peer keeps our routes; a normal stop withdraws them', async (t) => {
    await supA.stop({ graceful: true });
    await sleep(2000);
    assert.notEqual(bird.route('198.18.1.0/24'), '', 'bird keeps the route as stale after a graceful stop');
    const t0 = Date.now();
    assert.deepEqual(await supA.start(), { ok: true, value: undefined });
    await applyDesiredA();
    await eventually('A–bird established again', 30_000, async () => (await peerState(A, ADDR.cToA)) === 'established');
    t.diagnostic(`bird session back ${Date.now() - t0} ms after restart`);
    await supA.stop();
    await eventually('bird drops the route after CEASE', 5_000, () => bird.route('198.18.1.0/24') === '');
  });
});
