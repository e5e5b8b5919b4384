// While gobgpd cannot start, the routes controller does not report all well: another process holds the gobgpd
// admin port, so every start fails ("failed to listen grpc port"); after the allowance /healthz's gobgpd
// component is dead with that reason, kube_router_gobgpd_up is 0, and the foreign process is left alone.
// Once the port is free, the next sync starts gobgpd and health recovers.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { haveCommand, isRoot } from '../../helpers/netns.ts';
import { createRoutingController, GOBGPD_HEALTH, type RoutingControllerHandle } from '../../../src/controllers/routing/index.ts';
import type { ControllerContext } from '../../../src/controllers/context.ts';
import { registry } from '../../../src/observe/metrics.ts';
import { eventually, nodeObject, routingOptions, RoutingLab, type LabNode } from './routing-lab.ts';

const skip = !isRoot || !haveCommand('gobgpd') || !haveCommand('ipset') || !haveCommand('iptables') ? 'needs root, gobgpd, ipset and iptables' : false;
const ADMIN_PORT = 50093;

describe('gobgpd health', { skip }, () => {
  let lab: RoutingLab;
  let n1: LabNode;
  let ctx: ControllerContext;
  let handle: RoutingControllerHandle;
  let foreign: ChildProcess;

  before(async () => {
    lab = new RoutingLab(1);
    n1 = lab.node('n1');
    // Someone else's gobgpd (its own socket) on the admin port kube-router is configured to use.
    foreign = spawn('ip', ['netns', 'exec', n1.ns.name, 'gobgpd', '--api-hosts', `unix://${join(lab.dir, 'foreign.sock')},127.0.0.1:${ADMIN_PORT}`, '--pprof-disable'], { stdio: 'ignore' });
    await eventually('the foreign gobgpd listening', 10_000, () => n1.ns.exec('ss', ['-Htln', `sport = :${ADMIN_PORT}`]).includes(`127.0.0.1:${ADMIN_PORT}`));
    lab.cache.store('nodes').upsert(nodeObject(n1));
    const options = routingOptions('n1', n1.cniConfFile, [`--gobgp-admin-port=${ADMIN_PORT}`, '--enable-pod-egress=false']);
    ctx = lab.context(n1, options);
    handle = await createRoutingController(ctx, { netns: n1.ns.name, socketPath: join(lab.dir, 'n1.sock'), gobgpdDownAllowanceMs: 2000 });
  });

  after(async () => {
    await handle?.shutdown?.();
    foreign?.kill('SIGKILL');
    lab?.destroy();
  });

  const component = () => ctx.health.status().components.find((c) => c.name === GOBGPD_HEALTH);

  it('reports gobgpd dead, with the reason, while it cannot start, and leaves the foreign gobgpd running', async () => {
    await assert.rejects(handle.controller.fullSync(), /failed to listen grpc port/);
    const dead = await eventually('gobgpd reported dead', 10_000, () => {
      const c = component();
      return c && !c.alive ? c : undefined;
    });
    assert.match(dead.lastError ?? '', /address already in use/);
    assert.equal(ctx.health.status().healthy, false);
    assert.match(await registry.metrics(), /^kube_router_gobgpd_up 0$/m);
    assert.equal(foreign.exitCode, null, 'a gobgpd that is not ours is never touched');
  });

  it('starts gobgpd on the next sync once the port is free, and health recovers', async () => {
    foreign.kill('SIGKILL');
    await new Promise((r) => foreign.once('exit', r));
    await handle.controller.fullSync();
    await eventually('gobgpd reported alive', 10_000, () => component()?.alive === true && component()?.lastSyncOk === true);
    assert.equal(ctx.health.status().healthy, true);
    assert.match(await registry.metrics(), /^kube_router_gobgpd_up 1$/m);
  });
});
