// Runs INSIDE the test VM (IPVS exists only there): the real service proxy programs node n1 of the two-node
// namespace cluster (test/vm/proxy-topology.ts) while the real netpol controller runs on both nodes, with the
// iptables and with the nftables backend, and real TCP connections through ClusterIPs and NodePorts prove that
// NetworkPolicy keeps applying to Service traffic (upstream #609, #875, #905, #1136, #1617): IPVS DNATs in LOCAL_IN
// and sends the packet out through LOCAL_OUT, so the pod firewall must see it in OUTPUT, with the endpoint's
// address and port.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { NetworkPolicyPeer } from 'kubernetes-types/networking/v1.js';
import { parseCommandLine } from '../../src/cli/command-line.ts';
import type { Options } from '../../src/config/options.ts';
import { assembleProxy, prepareKernel } from '../../src/controllers/proxy/index.ts';
import { processExec } from '../../src/kernel/exec.ts';
import { detectIptablesMode } from '../../src/kernel/iptables.ts';
import { openIpvs, type Ipvs } from '../../src/kernel/ipvs.ts';
import { openRtnetlink } from '../../src/kernel/netlink/rtnetlink.ts';
import type { NetlinkSocket } from '../../src/kernel/netlink/socket.ts';
import { TestNetns } from '../helpers/netns.ts';
import { config, ns, pod as podObject, policy } from '../unit/netpol/fixtures.ts';
import { FakeCluster } from '../unit/netpol/fake-cluster.ts';
import { service, slice } from '../unit/proxy/fixtures.ts';
import { backendName, newController, type Backend } from '../root/netpol/controller-harness.ts';
import { NodeOneServices } from './proxy-source.ts';
import { buildTopology, EXTERNAL_IP, N1_IP, N2_IP, pod, POD, tcpAnswers, type Topology } from './proxy-topology.ts';

const IN_VM = process.env['KUBE_ROUTER_IN_VM'] === '1';

/** Pod C: a second client on node 1 that no policy allows. */
const C2_IP = '198.18.1.4';
const CLUSTER_RANGE = '10.96.0.0/16';
// Service "b" has only pod p1 (node 1, label app=b) behind it, "b2" only pod p2 (node 2, app=b2).
const SVC = { b: { ip: '10.96.0.11', nodePort: 30011 }, b2: { ip: '10.96.0.12', nodePort: 30012 } } as const;

type Verdicts = Record<string, boolean>;
const ALL_OPEN: Verdicts = {
  'A → B by ClusterIP': true,
  'C → B by ClusterIP': true,
  'A → B2 by ClusterIP (endpoint on node 2)': true,
  'C → B2 by ClusterIP (endpoint on node 2)': true,
  'node 1 → B by NodePort': true,
  'node 1 → B2 by NodePort (endpoint on node 2)': true,
  'external → B by NodePort': true,
};

const selects = (app: string) => ({ matchLabels: { app } });
const tcp = (port: number) => [{ protocol: 'TCP', port }];

describe('NetworkPolicy on Service traffic through the IPVS proxy', { skip: IN_VM ? false : 'runs inside the test VM: see test/heavy/proxy-netpol-vm.test.ts' }, () => {
  let t: Topology;
  let c2: TestNetns;
  let ipvs: Ipvs;
  let sock: NetlinkSocket;

  /** Every probe is one real TCP connection; true iff the expected endpoint answered and saw the expected client. */
  const verdicts = (): Verdicts => {
    const answers = (from: TestNetns, ip: string, port: number, expected: string) => tcpAnswers(from, ip, port, 1).join('|') === expected;
    return {
      'A → B by ClusterIP': answers(t.c1, SVC.b.ip, 80, `p1 ${POD.c1}`),
      'C → B by ClusterIP': answers(c2, SVC.b.ip, 80, `p1 ${C2_IP}`),
      'A → B2 by ClusterIP (endpoint on node 2)': answers(t.c1, SVC.b2.ip, 80, `p2 ${POD.c1}`),
      'C → B2 by ClusterIP (endpoint on node 2)': answers(c2, SVC.b2.ip, 80, `p2 ${C2_IP}`),
      'node 1 → B by NodePort': answers(t.n1, N1_IP, SVC.b.nodePort, `p1 ${N1_IP}`),
      'node 1 → B2 by NodePort (endpoint on node 2)': answers(t.n1, N1_IP, SVC.b2.nodePort, `p2 ${N1_IP}`),
      'external → B by NodePort': answers(t.external, N1_IP, SVC.b.nodePort, `p1 ${EXTERNAL_IP}`),
    };
  };

  /** The same cluster as each node's netpol controller sees it: pods A (c1), C (c2), B (p1), B2 (p2), the policies. */
  const clusterSeenBy = (node: 'n1' | 'n2', policies: ReturnType<typeof policy>[]): FakeCluster => {
    const netpol = config({ families: ['ipv4'], serviceClusterIPRanges: [CLUSTER_RANGE], serviceExternalIPRanges: ['198.18.10.0/24'] });
    const c = node === 'n1' ? new FakeCluster(netpol, 'n1', [N1_IP], ['198.18.1.0/24']) : new FakeCluster(netpol, 'n2', [N2_IP], ['198.18.2.0/24']);
    c.put(ns('default'), 'Namespace');
    c.put(podObject('default', 'a', { ip: POD.c1, node: 'n1', labels: { app: 'a' } }), 'Pod');
    c.put(podObject('default', 'c', { ip: C2_IP, node: 'n1', labels: { app: 'c' } }), 'Pod');
    c.put(podObject('default', 'b', { ip: POD.p1, node: 'n1', labels: { app: 'b' }, ports: [{ name: 'http', containerPort: 8080 }] }), 'Pod');
    c.put(podObject('default', 'b2', { ip: POD.p2, node: 'n2', labels: { app: 'b2' }, ports: [{ name: 'http', containerPort: 8080 }] }), 'Pod');
    for (const p of policies) c.put(p, 'NetworkPolicy');
    return c;
  };

  /** Fresh netpol controllers on both nodes with these policies, each after one full sync (what a start does). */
  const enforce = async (b: Backend, policies: ReturnType<typeof policy>[]): Promise<void> => {
    for (const [node, netns] of [['n1', t.n1], ['n2', t.n2]] as const) {
      const { controller } = newController(netns, clusterSeenBy(node, policies), b);
      await controller.fullSync();
    }
  };

  before(async () => {
    t = await buildTopology();
    c2 = new TestNetns('krt-pn');
    pod(t.n1, c2, 'v-c2', C2_IP, '198.18.1.1');
    const parsed = parseCommandLine(['--hostname-override=n1', '--run-router=false', '--run-firewall=false',
      `--service-cluster-ip-range=${CLUSTER_RANGE}`], {});
    assert.equal(parsed.kind, 'run');
    const options = (parsed as { options: Options }).options;
    const opened = await openIpvs({ netns: t.n1.path });
    assert.ok(opened.ok, 'IPVS opens in the node namespace');
    ipvs = opened.value;
    sock = openRtnetlink({ netns: t.n1.path });
    const source = new NodeOneServices(sock);
    const exec = processExec(t.n1.name);
    await prepareKernel(exec, ipvs, options);
    const ports = (nodePort: number) => [{ name: 'p', protocol: 'TCP', port: 80, targetPort: 8080, nodePort }];
    source.put(service('b', { type: 'NodePort', clusterIP: SVC.b.ip, clusterIPs: [SVC.b.ip], ports: ports(SVC.b.nodePort) }),
      slice('b', 'IPv4', [{ ip: POD.p1, node: 'n1' }], [{ name: 'p', port: 8080, protocol: 'TCP' }]));
    source.put(service('b2', { type: 'NodePort', clusterIP: SVC.b2.ip, clusterIPs: [SVC.b2.ip], ports: ports(SVC.b2.nodePort) }),
      slice('b2', 'IPv4', [{ ip: POD.p2, node: 'n2' }], [{ name: 'p', port: 8080, protocol: 'TCP' }]));
    const mode = await detectIptablesMode(exec);
    assert.ok(mode.ok);
    const proxy = await assembleProxy({ options, source, exec, ipvs, sock, mode: mode.value, report: () => undefined });
    await proxy.fullSync();
  });

  after(async () => {
    await ipvs?.close();
    await sock?.close();
    c2?.delete();
    t?.destroy();
  });

  test('without a policy every client reaches both Services (the paths the policies below cut work)', () => {
    assert.deepEqual(verdicts(), ALL_OPEN);
  });

  for (const b of [{ kind: 'iptables', mode: 'nft' }, { kind: 'nftables', mode: 'nft' }] as Backend[]) {
    test(`[${backendName(b)}] egress allowed to B's port 8080 reaches B through its ClusterIP (service port 80); B2 is denied`, async () => {
      await enforce(b, [policy('default', 'a-out', { podSelector: selects('a'), policyTypes: ['Egress'],
        egress: [{ to: [{ podSelector: selects('b') }], ports: tcp(8080) }] })]);
      assert.deepEqual(verdicts(), { ...ALL_OPEN, 'A → B2 by ClusterIP (endpoint on node 2)': false });
    });

    test(`[${backendName(b)}] egress denying B (only its service port 80 allowed) stops A at B's ClusterIP; B2 on node 2 is allowed`, async () => {
      await enforce(b, [policy('default', 'a-out', { podSelector: selects('a'), policyTypes: ['Egress'],
        egress: [{ to: [{ podSelector: selects('b') }], ports: tcp(80) }, { to: [{ podSelector: selects('b2') }], ports: tcp(8080) }] })]);
      assert.deepEqual(verdicts(), { ...ALL_OPEN, 'A → B by ClusterIP': false });
    });

    test(`[${backendName(b)}] ingress to B and B2 only from A: A gets through their ClusterIPs, C, node 2's view of node 1 and the external client do not`, async () => {
      const onlyFromA: NetworkPolicyPeer[] = [{ podSelector: selects('a') }];
      await enforce(b, [
        policy('default', 'b-in', { podSelector: selects('b'), policyTypes: ['Ingress'], ingress: [{ from: onlyFromA }] }),
        policy('default', 'b2-in', { podSelector: selects('b2'), policyTypes: ['Ingress'], ingress: [{ from: onlyFromA }] }),
      ]);
      assert.deepEqual(verdicts(), {
        'A → B by ClusterIP': true,
        'C → B by ClusterIP': false,
        'A → B2 by ClusterIP (endpoint on node 2)': true,
        'C → B2 by ClusterIP (endpoint on node 2)': false,
        // a node always reaches its own pods (Kubernetes' rule); node 2 sees node 1's address, which no rule allows
        'node 1 → B by NodePort': true,
        'node 1 → B2 by NodePort (endpoint on node 2)': false,
        // B is a local endpoint, so it sees the external client's address (no masquerade), which no rule allows
        'external → B by NodePort': false,
      });
    });
  }
});
