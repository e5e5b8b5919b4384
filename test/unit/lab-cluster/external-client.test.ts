// The lab's external client as planned (address, routes via node 1) and the ranges the lab gives kube-router and
// routes to: the lab's own unless --kube-router-args names them, and the proxy flag passed through untouched.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { planTopology } from '../../../lab/netns/topology.ts';
import { kubeRouterArgs } from '../../../lab/cluster/kube-router.ts';
import { externalClientRoutes, flagValues, serviceRanges } from '../../../lab/cluster/service-ranges.ts';
import type { ClusterOptions } from '../../../lab/cluster/layout.ts';

const options = (kubeRouterArgs: string[] = [], more: Partial<ClusterOptions> = {}): ClusterOptions => ({
  stateDir: '/nonexistent', prefix: 'x', nodes: 2, clusterCidr: '198.18.0.0/16', serviceCidr: '198.19.0.0/20',
  underlayCidr: '198.51.100.0/24', kubeRouter: true, kubeRouterArgs, staticRoutes: false, ...more,
});

describe('lab external client: plan', () => {
  it('sits at the top of the first underlay subnet and routes the given ranges via node 1', () => {
    const t = planTopology({ prefix: 'x', nodes: 3, externalClient: { routes: ['198.18.0.0/16', '198.19.0.0/20'] } });
    assert.deepEqual(t.external, { netns: 'x-ext', ip: '198.51.100.254', underlayPort: 'ext', via: '198.51.100.11', routes: ['198.18.0.0/16', '198.19.0.0/20'] });
    assert.equal(planTopology({ prefix: 'x', nodes: 1 }).external, undefined, 'only when asked for');
    assert.equal(planTopology({ prefix: 'x', nodes: 1, underlayCidr: '198.51.100.0/26', externalClient: { routes: [] } }).external?.ip, '198.51.100.62');
  });

  it('is refused where it cannot be laid out', () => {
    assert.throws(() => planTopology({ prefix: 'x', nodes: 4, underlayCidr: '198.51.100.0/28', externalClient: { routes: [] } }), /no room/);
    assert.throws(() => planTopology({ prefix: 'x', nodes: 1, externalClient: { routes: ['198.18.0.0/33'] } }), /bad IPv4 CIDR/);
  });
});

describe('lab external client: service ranges', () => {
  it('reads string-list flags in both spellings, comma lists and repeats; undefined when absent', () => {
    assert.deepEqual(flagValues(['--a=1,2', '--b', '3', '--a', '4'], 'a'), ['1', '2', '4']);
    assert.equal(flagValues(['--ab=1'], 'a'), undefined);
    assert.equal(flagValues(['--a'], 'a'), undefined);
  });

  it('gives kube-router the lab ranges and routes the pod range and every service range', () => {
    const ranges = serviceRanges(options());
    assert.deepEqual(ranges.args, ['--service-cluster-ip-range=198.19.0.0/20', '--service-external-ip-range=198.19.32.0/24', '--loadbalancer-ip-range=198.19.48.0/24']);
    assert.deepEqual(externalClientRoutes(options(), ranges), ['198.18.0.0/16', '198.19.0.0/20', '198.19.32.0/24', '198.19.48.0/24']);
    const moved = serviceRanges(options([], { externalIpRange: '198.19.64.0/24', loadBalancerIpRange: '198.19.65.0/24' }));
    assert.deepEqual(moved.args.slice(1), ['--service-external-ip-range=198.19.64.0/24', '--loadbalancer-ip-range=198.19.65.0/24']);
  });

  it('leaves a range given in --kube-router-args to the user and routes that one instead (IPv4 only, as networks)', () => {
    const o = options(['--service-external-ip-range=198.19.40.7/24,2001:db8::/64', '--loadbalancer-ip-range', '198.19.41.0/24']);
    const ranges = serviceRanges(o);
    assert.deepEqual(ranges.args, ['--service-cluster-ip-range=198.19.0.0/20']);
    assert.deepEqual(externalClientRoutes(o, ranges), ['198.18.0.0/16', '198.19.0.0/20', '198.19.40.0/24', '198.19.41.0/24']);
  });
});

describe('lab kube-router arguments', () => {
  const spec = (extraArgs: string[]) => ({ node: { name: 'x-n1', netns: 'x-n1', ip: '198.51.100.11' }, kubeconfig: '/kc', extraArgs });
  const noIpvs = (): boolean => false;
  const ipvs = (): boolean => true;

  it('turns the service proxy off only on a kernel without IPVS and when the flag is not given', () => {
    assert.deepEqual(kubeRouterArgs(spec(['--v=2']), noIpvs), ['--kubeconfig', '/kc', '--hostname-override', 'x-n1', '--run-service-proxy=false', '--v=2']);
    assert.deepEqual(kubeRouterArgs(spec(['--v=2']), ipvs), ['--kubeconfig', '/kc', '--hostname-override', 'x-n1', '--v=2']);
    for (const given of ['--run-service-proxy', '--run-service-proxy=true', '--run-service-proxy=false']) {
      assert.deepEqual(kubeRouterArgs(spec([given, '--ipvs-sync-period=5s']), noIpvs).slice(4), [given, '--ipvs-sync-period=5s'], given);
    }
  });
});
