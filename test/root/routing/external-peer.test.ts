// The routes controller with an external (eBGP) router in namespaces: service VIPs and the pod CIDR are exported
// with the node's communities, a deleted service's VIP is withdrawn, the import policy keeps default routes and
// custom-rejected prefixes out of the kernel, a crashed gobgpd is restarted and everything re-applied, and a
// graceful-restart shutdown leaves kernel routes in place while the router keeps our routes.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Service } from 'kubernetes-types/core/v1.js';
import { haveCommand, isRoot } from '../../helpers/netns.ts';
import { createRoutingController, type RoutingControllerHandle } from '../../../src/controllers/routing/index.ts';
import { GobgpdSupervisor } from '../../../src/bgp/gobgpd-supervisor.ts';
import { connectGobgp, type GobgpSpeaker } from '../../../src/bgp/gobgp-client.ts';
import type { BestPathEvent, BgpResult } from '../../../src/bgp/speaker.ts';
import { eventually, nodeObject, routingOptions, RoutingLab, type LabNode } from './routing-lab.ts';

const skip = !isRoot || !haveCommand('gobgpd') || !haveCommand('ipset') || !haveCommand('iptables') ? 'needs root, gobgpd, ipset and iptables' : false;

const ROUTER_IP = '198.51.100.1';
const VIP = '198.19.0.10';

function must<T>(r: BgpResult<T>): T {
  if (!r.ok) throw r.error;
  return r.value;
}

function webService(): Service {
  return { apiVersion: 'v1', kind: 'Service', metadata: { namespace: 'default', name: 'web' }, spec: { type: 'ClusterIP', clusterIP: VIP, clusterIPs: [VIP] } };
}

describe('routes controller with an external BGP router', { skip }, () => {
  let lab: RoutingLab;
  let n1: LabNode;
  let handle: RoutingControllerHandle;
  let routerSup: GobgpdSupervisor;
  let router: GobgpSpeaker;
  const atRouter = new Map<string, BestPathEvent>();

  const proto17 = (): Map<string, string | undefined> =>
    new Map((JSON.parse(n1.ns.ip('-j', 'route', 'show', 'proto', '17')) as Array<{ dst: string; gateway?: string }>).map((r) => [r.dst, r.gateway]));

  before(async () => {
    lab = new RoutingLab(1);
    n1 = lab.node('n1');
    const routerNs = lab.host(1);
    routerSup = new GobgpdSupervisor({ socketPath: join(lab.dir, 'router.sock'), adminPort: 0, netns: routerNs.name });
    const up = await routerSup.start();
    assert.ok(up.ok, JSON.stringify(up));
    const connected = connectGobgp({ target: routerSup.apiTarget });
    assert.ok(connected.ok);
    router = connected.value;
    must(await router.start({ asn: 65100, routerId: ROUTER_IP, listenAddresses: [ROUTER_IP], listenPort: 179 }));
    must(await router.addPeer({
      neighborAddress: n1.ip, peerAsn: 64512, families: ['ipv4'], holdTimeSec: 9, keepaliveSec: 3, connectRetrySec: 1, gracefulRestart: { restartTimeSec: 60 },
    }));
    for (const prefix of ['0.0.0.0/0', '198.18.66.0/24', '198.18.77.0/24']) must(await router.addPath({ prefix, nextHop: ROUTER_IP, family: 'ipv4', origin: 'igp' }));
    router.watch({
      onBestPath: (e) => {
        if (e.isLocal) return;
        if (e.withdrawal) atRouter.delete(e.prefix);
        else atRouter.set(e.prefix, e);
      },
    });
    lab.cache.store('nodes').upsert(nodeObject(n1, {
      'kube-router.io/node.bgp.communities': '65000:100',
      'kube-router.io/node.bgp.customimportreject': '198.18.66.0/24',
    }));
    lab.cache.store('services').upsert(webService());
    const options = routingOptions('n1', n1.cniConfFile, [
      `--peer-router-ips=${ROUTER_IP}`, '--peer-router-asns=65100', '--advertise-cluster-ip=true', '--service-cluster-ip-range=198.19.0.0/16',
      '--bgp-graceful-restart=true', '--bgp-graceful-restart-time=60s', '--bgp-graceful-restart-deferral-time=1s', '--enable-pod-egress=false',
    ]);
    handle = await createRoutingController(lab.context(n1, options), { netns: n1.ns.name, socketPath: join(lab.dir, 'n1.sock') });
    await handle.controller.fullSync();
  });

  after(async () => {
    await handle?.shutdown?.();
    router?.close();
    await routerSup?.stop();
    lab?.destroy();
  });

  it('exports the service VIP and the pod CIDR to the external peer with the node\'s communities', async () => {
    await eventually('router learns the VIP and pod CIDR', 40_000, () => atRouter.has(`${VIP}/32`) && atRouter.has(n1.podCidr));
    assert.equal(atRouter.get(`${VIP}/32`)?.nextHop, n1.ip);
    assert.deepEqual(atRouter.get(`${VIP}/32`)?.communities, ['65000:100']);
    assert.deepEqual(atRouter.get(n1.podCidr)?.communities, ['65000:100']);
  });

  it('installs what the router announces except the default route and custom-rejected prefixes', async () => {
    await eventually('198.18.77.0/24 installed', 20_000, () => proto17().get('198.18.77.0/24') === ROUTER_IP);
    const ours = proto17();
    assert.equal(ours.has('default'), false);
    assert.equal(ours.has('198.18.66.0/24'), false);
  });

  it('withdraws a deleted service\'s VIP and keeps the pod CIDR', async () => {
    lab.cache.store('services').remove('default/web');
    await handle.controller.handleChanges([{ kind: 'Service', key: 'default/web' }]);
    await eventually('VIP withdrawn at the router', 15_000, () => !atRouter.has(`${VIP}/32`));
    assert.ok(atRouter.has(n1.podCidr));
    lab.cache.store('services').upsert(webService());
    await handle.controller.handleChanges([{ kind: 'Service', key: 'default/web' }]);
    await eventually('VIP advertised again', 15_000, () => atRouter.has(`${VIP}/32`));
  });

  it('after gobgpd is killed, the supervisor restarts it and the controller re-applies peers, policies and paths', async () => {
    const pid = handle.supervisor.pid;
    assert.ok(pid);
    process.kill(pid, 'SIGKILL');
    await eventually('gobgpd restarted', 20_000, () => handle.supervisor.restarts > 0 && handle.supervisor.pid !== pid);
    await eventually('the router relearns the VIP from the new daemon', 60_000, async () => {
      const peers = await router.listPeers();
      return peers.ok && peers.value[0]?.state === 'established' && atRouter.has(`${VIP}/32`) && atRouter.has(n1.podCidr);
    });
    await eventually('learned route still installed', 20_000, () => proto17().get('198.18.77.0/24') === ROUTER_IP);
    assert.equal(proto17().has('198.18.66.0/24'), false, 'the import policy is back too');
  });

  it('a graceful-restart shutdown leaves kernel routes in place and the router keeps our routes', async () => {
    await handle.shutdown?.();
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(proto17().get('198.18.77.0/24'), ROUTER_IP);
    assert.ok(atRouter.has(n1.podCidr), 'kept as stale by the graceful-restart peer');
  });

  it('a restarted controller keeps the routes it finds in the kernel; without graceful restart its shutdown makes the router drop ours', async () => {
    const options = routingOptions('n1', n1.cniConfFile, [
      `--peer-router-ips=${ROUTER_IP}`, '--peer-router-asns=65100', '--advertise-cluster-ip=true', '--service-cluster-ip-range=198.19.0.0/16',
      '--enable-pod-egress=false',
    ]);
    handle = await createRoutingController(lab.context(n1, options), { netns: n1.ns.name, socketPath: join(lab.dir, 'n1-again.sock') });
    await handle.controller.fullSync();
    assert.equal(proto17().get('198.18.77.0/24'), ROUTER_IP, 'adopted, not deleted as stale');
    await eventually('session re-established', 40_000, async () => {
      const peers = await router.listPeers();
      return peers.ok && peers.value[0]?.state === 'established';
    });
    await handle.shutdown?.();
    await eventually('router drops our routes after the CEASE', 5_000, () => !atRouter.has(n1.podCidr) && !atRouter.has(`${VIP}/32`));
    assert.equal(proto17().get('198.18.77.0/24'), ROUTER_IP, 'kernel routes stay after shutdown');
  });
});
