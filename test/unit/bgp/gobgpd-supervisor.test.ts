// The supervisor's process handling with a fake gobgpd (no root, no BGP): it waits for the API, restarts a killed
// daemon and calls the owner back, reports a daemon that dies before answering, and stops gracefully (SIGKILL, no
// StopBgp) or normally (StopBgp, then SIGTERM).
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gobgpProtoDir } from '../../../src/bgp/gobgp-proto.ts';
import { GobgpdSupervisor } from '../../../src/bgp/gobgpd-supervisor.ts';

const skip = existsSync(join(gobgpProtoDir(), 'gobgp.proto')) ? false : 'gobgp protos not installed (golang-github-osrg-gobgp-dev)';
const projectRoot = resolve(import.meta.dirname, '../../..');

describe('gobgpd supervisor (fake daemon)', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'krt-bgp-sup-'));
  const eventsFile = join(dir, 'events');
  const fake = join(dir, 'fake-gobgpd');
  writeFileSync(fake, `#!/bin/sh\ncd '${projectRoot}' && exec node --import tsx '${join(import.meta.dirname, 'fake-gobgpd.ts')}' "$@"\n`);
  chmodSync(fake, 0o755);
  process.env['FAKE_GOBGPD_EVENTS'] = eventsFile;
  const supervisors: GobgpdSupervisor[] = [];
  const events = (): string[] => (existsSync(eventsFile) ? readFileSync(eventsFile, 'utf8').trim().split('\n').filter(Boolean) : []);
  const make = (onRestarted?: () => void): GobgpdSupervisor => {
    const s = new GobgpdSupervisor({
      binary: fake, socketPath: join(dir, `api-${supervisors.length}.sock`), adminPort: 0, readyTimeoutMs: 15_000,
      restartBackoff: { initialMs: 100, maxMs: 400 }, ...(onRestarted ? { onRestarted } : {}),
    });
    supervisors.push(s);
    return s;
  };
  const until = async (what: string, test: () => boolean): Promise<void> => {
    const deadline = Date.now() + 15_000;
    while (!test()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  after(async () => {
    for (const s of supervisors) await s.stop({ graceful: true });
    delete process.env['FAKE_GOBGPD_EVENTS'];
    rmSync(dir, { recursive: true, force: true });
  });

  let restartedSupervisor: GobgpdSupervisor | undefined;

  it('restarts a killed daemon once its API answers and calls the owner back', async () => {
    let restarted = 0;
    const sup = make(() => { restarted++; });
    restartedSupervisor = sup;
    assert.deepEqual(await sup.start(), { ok: true, value: undefined });
    const firstPid = sup.pid;
    assert.ok(firstPid && events().includes(`start ${firstPid}`));
    process.kill(firstPid, 'SIGKILL');
    await until('restart callback', () => restarted === 1);
    assert.ok(sup.pid && sup.pid !== firstPid);
    assert.ok(events().includes(`start ${sup.pid}`), 'the new daemon was serving before the callback ran');
    assert.equal(sup.restarts, 1);
  });

  it('a normal stop calls StopBgp and then sends SIGTERM', async () => {
    const sup = make();
    assert.equal((await sup.start()).ok, true);
    const pid = sup.pid;
    await sup.stop();
    const mine = events().filter((e) => e.endsWith(` ${pid}`));
    assert.deepEqual(mine, [`start ${pid}`, `StopBgp ${pid}`, `SIGTERM ${pid}`]);
    assert.equal(sup.pid, undefined);
  });

  it('a graceful stop kills the daemon without StopBgp', async () => {
    const sup = restartedSupervisor;
    assert.ok(sup?.pid, 'the restarted daemon of the first test is running');
    const pid = sup.pid;
    await sup.stop({ graceful: true });
    assert.deepEqual(events().filter((e) => e.endsWith(` ${pid}`)), [`start ${pid}`]);
    assert.throws(() => process.kill(pid, 0), /ESRCH/);
  });

  it('start fails when the daemon exits before its API answers, and does not restart it', async () => {
    process.env['FAKE_GOBGPD_CRASH_AT_START'] = '1';
    try {
      const sup = make();
      const started = await sup.start();
      assert.equal(started.ok, false);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(sup.restarts, 0);
      assert.equal(events().filter((e) => e.startsWith('crash')).length, 1);
    } finally {
      delete process.env['FAKE_GOBGPD_CRASH_AT_START'];
    }
  });
});
