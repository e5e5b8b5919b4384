import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HealthRegistry, startHealthServer, startMetricsServer } from '../../../src/observe/health.ts';
import { metrics } from '../../../src/observe/metrics.ts';

test('/healthz answers 200 while every loop beats and 500 once one falls silent, with verbose detail', async () => {
  let t = 1000;
  const health = new HealthRegistry(() => t);
  health.register('netpol', 500);
  health.register('routes', 500);
  health.beat('netpol');
  health.beat('routes');
  health.recordSync('routes', false, new Error('gobgpd unreachable'));
  const srv = await startHealthServer(health, '127.0.0.1', 0);
  try {
    let res = await fetch(`http://127.0.0.1:${srv.port}/healthz`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'OK\n');
    t += 400;
    health.beat('netpol');
    t += 200; // routes silent for 600 ms > 500 ms allowance
    res = await fetch(`http://127.0.0.1:${srv.port}/healthz`);
    assert.equal(res.status, 500);
    res = await fetch(`http://127.0.0.1:${srv.port}/healthz?verbose`);
    const body = (await res.json()) as { healthy: boolean; phase: string; components: { name: string; alive: boolean; lastError: string | null }[] };
    assert.equal(body.healthy, false);
    assert.equal(body.phase, 'starting');
    health.setPhase('running');
    assert.equal(health.status().phase, 'running');
    const routes = body.components.find((c) => c.name === 'routes');
    assert.equal(routes?.alive, false);
    assert.equal(routes?.lastError, 'gobgpd unreachable');
    assert.equal(body.components.find((c) => c.name === 'netpol')?.alive, true);
  } finally {
    await srv.close();
  }
});

test('the metrics endpoint serves upstream metric names and process metrics at the configured path', async () => {
  metrics.buildInfo.set({ goversion: process.version, version: 'test' }, 1);
  metrics.hostRoutesAdded.inc(3);
  const srv = await startMetricsServer('127.0.0.1', 0, '/custom-metrics');
  try {
    const body = await (await fetch(`http://127.0.0.1:${srv.port}/custom-metrics`)).text();
    for (const name of ['kube_router_build_info', 'kube_router_host_routes_added 3', 'kube_router_controller_iptables_sync_time_bucket',
      'kube_router_bgp_peer_info', 'process_cpu_seconds_total', 'process_resident_memory_bytes']) {
      assert.ok(body.includes(name), `missing ${name}`);
    }
    assert.equal((await fetch(`http://127.0.0.1:${srv.port}/metrics`)).status, 404);
  } finally {
    await srv.close();
  }
});
