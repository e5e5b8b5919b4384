// gobgpd never outlives the kube-router that started it. An owner (a child node process standing in for the
// routes controller) is SIGKILLed: its gobgpd dies with it, and the next owner starts its own and peers again.
// An owner without setpriv leaves an orphan that keeps the ports; the next start recognises it as ours (pid
// file + command line), replaces it, and B, which negotiated graceful restart, keeps A's route throughout.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { haveCommand, isRoot, sh } from '../../helpers/netns.ts';
import { ADDR, BgpTopology, eventually, sleep } from './bgp-lab.ts';
import { GobgpdSupervisor } from '../../../src/bgp/gobgpd-supervisor.ts';
import { pidFileFor } from '../../../src/bgp/gobgpd-lifetime.ts';
import { connectGobgp, type GobgpSpeaker } from '../../../src/bgp/gobgp-client.ts';
import type { BestPathEvent } from '../../../src/bgp/speaker.ts';

const skip = !isRoot || !haveCommand('gobgpd') || !haveCommand('setpriv') ? 'needs root, gobgpd and setpriv' : false;
const OWNER = fileURLToPath(new URL('./supervised-gobgpd.ts', import.meta.url));
const PREFIX = '198.18.1.0/24';

/** Running, not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

describe('gobgpd does not outlive its owner', { skip }, () => {
  let topo: BgpTopology;
  let supB: GobgpdSupervisor;
  let B: GobgpSpeaker;
  const eventsB: BestPathEvent[] = [];
  const owners: ChildProcess[] = [];
  const gobgpds: number[] = [];
  let socketA: string;

  /** Starts an owner process; resolves with its gobgpd's pid once that gobgpd's API answered. */
  async function startOwner(env: NodeJS.ProcessEnv = process.env): Promise<{ owner: ChildProcess; gobgpd: number }> {
    const owner = spawn(process.execPath, ['--import', 'tsx', OWNER, topo.a.name, socketA], {
      env: { ...env, KUBE_ROUTER_LOG_LEVEL: 'silent' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    owners.push(owner);
    let out = '';
    let err = '';
    owner.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    const pid = await new Promise<number>((resolve, reject) => {
      owner.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const line = out.split('\n').find((l) => l.startsWith('{'));
        if (line) resolve((JSON.parse(line) as { pid: number }).pid);
      });
      owner.once('exit', (code) => reject(new Error(`owner exited (${code}): ${err}`)));
    });
    gobgpds.push(pid);
    return { owner, gobgpd: pid };
  }

  async function sessionUpWithPath(): Promise<number> {
    return eventually('B–A established with the path', 30_000, async () => {
      const peers = await B.listPeers();
      const a = peers.ok ? peers.value.find((p) => p.address === ADDR.aToB) : undefined;
      const best = await B.listBestPaths('ipv4');
      return a?.state === 'established' && best.ok && best.value.some((p) => p.prefix === PREFIX) ? a.uptimeSec + 1 : undefined;
    });
  }

  before(async () => {
    topo = new BgpTopology();
    socketA = join(topo.dir, 'a.sock');
    supB = new GobgpdSupervisor({ socketPath: join(topo.dir, 'b.sock'), adminPort: 0, netns: topo.b.name });
    assert.deepEqual(await supB.start(), { ok: true, value: undefined });
    const b = connectGobgp({ target: supB.apiTarget });
    assert.ok(b.ok);
    B = b.value;
    B.watch({ onBestPath: (e) => eventsB.push(e) });
    const gracefulRestart = { restartTimeSec: 120 };
    const started = await B.start({ asn: 64512, routerId: ADDR.bToA, listenAddresses: [ADDR.bToA], listenPort: 179, gracefulRestart });
    assert.ok(started.ok);
    const peered = await B.addPeer({
      neighborAddress: ADDR.aToB, peerAsn: 64512, localAddress: ADDR.bToA, families: ['ipv4'], holdTimeSec: 9, keepaliveSec: 3, connectRetrySec: 1, gracefulRestart,
    });
    assert.ok(peered.ok);
  });

  after(async () => {
    for (const owner of owners) owner.kill('SIGKILL');
    for (const pid of gobgpds) if (alive(pid)) process.kill(pid, 'SIGKILL');
    B?.close();
    await supB?.stop({ graceful: true });
    topo?.destroy();
  });

  it('a SIGKILLed owner takes its gobgpd with it, and the next owner starts its own and peers again', async () => {
    const first = await startOwner();
    await sessionUpWithPath();
    first.owner.kill('SIGKILL');
    await eventually('the orphaned gobgpd gone', 5_000, () => !alive(first.gobgpd));
    const second = await startOwner();
    assert.notEqual(second.gobgpd, first.gobgpd);
    await sessionUpWithPath();
    second.owner.kill('SIGKILL');
    await eventually('gobgpd gone', 5_000, () => !alive(second.gobgpd));
  });

  it('an orphan left by an owner without setpriv is replaced on the next start while B keeps the route', async () => {
    // PATH with ip and gobgpd but no setpriv: the owner spawns gobgpd as before the fix, without a death signal.
    const bin = join(topo.dir, 'bin-without-setpriv');
    mkdirSync(bin);
    for (const cmd of ['ip', 'gobgpd']) symlinkSync(sh('sh', ['-c', `command -v ${cmd}`]).trim(), join(bin, cmd));
    const old = await startOwner({ ...process.env, PATH: bin });
    await sessionUpWithPath();
    const mark = eventsB.length;
    old.owner.kill('SIGKILL');
    await sleep(1000);
    assert.ok(alive(old.gobgpd), 'without setpriv the orphan outlives its owner (what the next start must handle)');
    assert.equal(readFileSync(pidFileFor(socketA), 'utf8').trim(), String(old.gobgpd));
    const replacedAt = Date.now();
    const next = await startOwner();
    assert.equal(alive(old.gobgpd), false, 'start-up ended the stale gobgpd of ours');
    assert.ok(alive(next.gobgpd));
    assert.equal(readFileSync(pidFileFor(socketA), 'utf8').trim(), String(next.gobgpd));
    const uptime = (await sessionUpWithPath()) - 1;
    assert.ok(uptime <= (Date.now() - replacedAt) / 1000 + 1, `a session with the new gobgpd (up ${uptime} s)`);
    await sleep(1000);
    assert.deepEqual(eventsB.slice(mark).filter((e) => e.prefix === PREFIX && e.withdrawal), [], 'graceful restart: B never withdrew the route');
    next.owner.kill('SIGKILL');
    await eventually('gobgpd gone', 5_000, () => !alive(next.gobgpd));
  });
});
