// The routes controller's config: the routing flags and the CNI file path, and nothing else of the daemon's Options.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCommandLine } from '../../../src/cli/command-line.ts';
import { routingConfig } from '../../../src/controllers/routing/config.ts';

function parsed(flags: string[], env: NodeJS.ProcessEnv = {}) {
  const outcome = parseCommandLine(['--hostname-override=n1', ...flags], env);
  if (outcome.kind !== 'run') throw new Error(`bad test flags: ${JSON.stringify(outcome)}`);
  return outcome.options;
}

test('routing config carries the routing flags and the CNI file from the environment', () => {
  const config = routingConfig(parsed([
    '--enable-overlay=true', '--overlay-type=full', '--overlay-encap=fou', '--overlay-encap-port=5555', '--cluster-asn=0',
    '--bgp-graceful-restart=true', '--bgp-graceful-restart-time=2m', '--routes-sync-period=1m',
  ], { KUBE_ROUTER_CNI_CONF_FILE: '/tmp/kr-test/10-kuberouter.conflist' }));
  assert.equal(config.cniConfFile, '/tmp/kr-test/10-kuberouter.conflist');
  assert.deepEqual([config.enableOverlay, config.overlayType, config.overlayEncap, config.overlayEncapPort], [true, 'full', 'fou', 5555]);
  assert.equal(config.clusterAsn, 64512, 'the effective cluster ASN, not the flag value 0');
  assert.deepEqual([config.bgpGracefulRestart, config.bgpGracefulRestartTimeMs, config.routesSyncPeriodMs], [true, 120_000, 60_000]);
});

test('routing config leaves out what other controllers and the daemon read', () => {
  const keys = Object.keys(routingConfig(parsed([])));
  for (const foreign of ['netpolDefaultDeny', 'ipvsSyncPeriodMs', 'kubeconfig', 'metricsPort', 'environment']) {
    assert.ok(!keys.includes(foreign), foreign);
  }
});
