// Runs INSIDE the test VM (IPVS exists only there): the real service proxy with --enable-ipv6 programs node 1 of a
// dual-stack two-node namespace cluster, and real TCP/UDP connections over IPv6 from a pod, the node itself and an
// external client reach the endpoints through ClusterIPs, NodePorts and externalIPs; a dual-stack Service answers
// on both families; a local endpoint sees the client's own IPv6 address; --masquerade-all SNATs IPv6 too.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { parseCommandLine } from '../../src/cli/command-line.ts';
import type { Options } from '../../src/config/options.ts';
import { assembleProxy, prepareKernel } from '../../src/controllers/proxy/index.ts';
import type { ProxyController } from '../../src/controllers/proxy/controller.ts';
import { AddressApplier } from '../../src/controllers/proxy/apply-addresses.ts';
import type { Problem } from '../../src/controllers/proxy/model.ts';
import { readLocalAddresses, type CacheSource, type LocalAddresses } from '../../src/controllers/proxy/source.ts';
import { processExec } from '../../src/kernel/exec.ts';
import { detectIptablesMode } from '../../src/kernel/iptables.ts';
import { openIpvs, type Ipvs } from '../../src/kernel/ipvs.ts';
import { openRtnetlink } from '../../src/kernel/netlink/rtnetlink.ts';
import type { NetlinkSocket } from '../../src/kernel/netlink/socket.ts';
import { service, slice } from '../unit/proxy/fixtures.ts';
import {
  buildDualStackTopology, counts, EXTERNAL, N1, POD_CIDRS, PODS, RANGES, tcpAnswers, udpAnswer, type DualStackTopology,
} from './proxy-dual-stack-topology.ts';

const IN_VM = process.env['KUBE_ROUTER_IN_VM'] === '1';

class Source implements CacheSource {
  readonly svcs = new Map<string, Service>();
  readonly slices = new Map<string, EndpointSlice>();
  private local: LocalAddresses = { all: new Set(), host: new Set(), nodePort: { ipv4: [], ipv6: [] } };
  constructor(private readonly sock: NetlinkSocket) {}
  services() { return this.svcs.values(); }
  service(key: string) { return this.svcs.get(key); }
  slicesOf(key: string) { return [...this.slices.values()].filter((s) => `${s.metadata!.namespace}/${s.metadata!.labels!['kubernetes.io/service-name']}` === key); }
  slice(key: string) { return this.slices.get(key); }
  node() { return { name: 'n1', addresses: { ipv4: N1.v4, ipv6: N1.v6 }, nodePortAddresses: this.local.nodePort, podCidrs: [...POD_CIDRS.n1] }; }
  async refresh() { this.local = await readLocalAddresses(this.sock); }
  localAddresses() { return this.local; }
  put(svc: Service, ...slices: EndpointSlice[]) {
    this.svcs.set(`default/${svc.metadata!.name}`, svc);
    for (const s of slices) this.slices.set(`default/${s.metadata!.name}`, s);
  }
}

const TCP = { name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 };
const UDP = { name: 'dns', protocol: 'UDP', port: 53, targetPort: 5353 };
const SLICE_PORTS = [{ name: 'http', port: 8080, protocol: 'TCP' }, { name: 'dns', port: 5353, protocol: 'UDP' }];
const v6Both = [{ ip: PODS.p1.v6, node: 'n1' }, { ip: PODS.p2.v6, node: 'n2' }];
const v4Both = [{ ip: PODS.p1.v4, node: 'n1' }, { ip: PODS.p2.v4, node: 'n2' }];
const v6Only = (ip: string) => ({ clusterIP: ip, clusterIPs: [ip], ipFamilies: ['IPv6'], ipFamilyPolicy: 'SingleStack' });

describe('service proxy over IPv6 and dual-stack in the VM kernel', { skip: IN_VM ? false : 'runs inside the test VM: see test/heavy/proxy-ipv6-vm.test.ts' }, () => {
  let t: DualStackTopology;
  let source: Source;
  let ipvs: Ipvs;
  let sock: NetlinkSocket;
  let controller: ProxyController;
  const problems: Problem[] = [];

  const build = async (extraFlags: string[] = []): Promise<ProxyController> => {
    const parsed = parseCommandLine(['--hostname-override=n1', '--run-router=false', '--run-firewall=false', '--enable-ipv6=true',
      ...RANGES.clusterIp.map((r) => `--service-cluster-ip-range=${r}`), ...RANGES.externalIp.map((r) => `--service-external-ip-range=${r}`),
      ...extraFlags], {});
    assert.equal(parsed.kind, 'run');
    const options = (parsed as { options: Options }).options;
    const exec = processExec(t.n1.name);
    const mode = await detectIptablesMode(exec);
    assert.ok(mode.ok);
    await prepareKernel(exec, ipvs, options);
    return assembleProxy({ options, source, exec, ipvs, sock, mode: mode.value, report: (p) => problems.push(p) });
  };
  const inN1 = (cmd: string, args: string[]) => spawnSync('ip', ['netns', 'exec', t.n1.name, cmd, ...args], { encoding: 'utf8' }).stdout ?? '';
  const ipvsTable = () => inN1('ipvsadm', ['-Ln']);
  const kernelState = () => `ipvs:\n${ipvsTable()}\nnat6:\n${inN1('ip6tables-save', ['-t', 'nat'])}\nroutes:\n${inN1('ip', ['-6', 'route', 'show', 'table', 'local'])}`;

  before(async () => {
    t = await buildDualStackTopology();
    const opened = await openIpvs({ netns: t.n1.path });
    assert.ok(opened.ok, 'IPVS opens in the node namespace');
    ipvs = opened.value;
    sock = openRtnetlink({ netns: t.n1.path });
    source = new Source(sock);
    source.put(service('web6', { ...v6Only('2001:db8:96::10'), ports: [TCP, UDP] }), slice('web6', 'IPv6', v6Both, SLICE_PORTS));
    source.put(service('np6', { ...v6Only('2001:db8:96::20'), type: 'NodePort', ports: [{ ...TCP, nodePort: 30080 }, { ...UDP, nodePort: 30053 }] }),
      slice('np6', 'IPv6', v6Both, SLICE_PORTS));
    source.put(service('nplocal6', { ...v6Only('2001:db8:96::21'), type: 'NodePort', externalTrafficPolicy: 'Local', ports: [{ ...TCP, nodePort: 30081 }] }),
      slice('nplocal6', 'IPv6', v6Both, SLICE_PORTS));
    source.put(service('ext6', { ...v6Only('2001:db8:96::30'), externalIPs: ['2001:db8:32::5', '2001:db8:ffff::9'], ports: [TCP, UDP] }),
      slice('ext6', 'IPv6', v6Both, SLICE_PORTS));
    source.put(service('aff6', { ...v6Only('2001:db8:96::40'), sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } }, ports: [TCP] }),
      slice('aff6', 'IPv6', v6Both, SLICE_PORTS));
    source.put(service('dual', {
      clusterIP: '198.19.0.50', clusterIPs: ['198.19.0.50', '2001:db8:96::50'], ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack',
      type: 'NodePort', ports: [{ ...TCP, nodePort: 30090 }],
    }), slice('dual', 'IPv4', v4Both, SLICE_PORTS), slice('dual', 'IPv6', v6Both, SLICE_PORTS));
    controller = await build();
    await controller.fullSync();
  });

  after(async () => {
    await ipvs?.close();
    await sock?.close();
    t?.destroy();
  });

  test('a pod reaches an IPv6 ClusterIP on both nodes round-robin over TCP, and the endpoints see the pod address', () => {
    assert.deepEqual(counts(tcpAnswers(t.c1, '2001:db8:96::10', 80, 4)), { [`p1 ${PODS.c1.v6}`]: 2, [`p2 ${PODS.c1.v6}`]: 2 }, kernelState());
  });

  test('a pod reaches an IPv6 ClusterIP over UDP', async () => {
    assert.match(await udpAnswer(t.c1, '2001:db8:96::10', 53), new RegExp(`^p[12] ${PODS.c1.v6}$`), kernelState());
  });

  test('the node itself reaches an IPv6 ClusterIP, from its own IPv6 address (the local route carries it as source)', () => {
    assert.match(inN1('ip', ['-6', 'route', 'get', '2001:db8:96::10']), new RegExp(`src ${N1.v6} `), kernelState());
    const answers = tcpAnswers(t.n1, '2001:db8:96::10', 80, 2);
    assert.equal(answers.length, 2, kernelState());
    for (const a of answers) assert.match(a, new RegExp(`^p[12] ${N1.v6}$`));
  });

  test('an IPv6 NodePort from outside over TCP: the local endpoint sees the client, the remote one the node (masquerade)', () => {
    assert.deepEqual(counts(tcpAnswers(t.external, N1.v6, 30080, 4)), { [`p1 ${EXTERNAL.v6}`]: 2, [`p2 ${N1.v6}`]: 2 }, kernelState());
  });

  test('an IPv6 NodePort from outside over UDP', async () => {
    assert.match(await udpAnswer(t.external, N1.v6, 30053), new RegExp(`^(p1 ${EXTERNAL.v6}|p2 ${N1.v6})$`), kernelState());
  });

  test('externalTrafficPolicy Local over IPv6: only the local endpoint answers, and it sees the client address', () => {
    assert.deepEqual(counts(tcpAnswers(t.external, N1.v6, 30081, 3)), { [`p1 ${EXTERNAL.v6}`]: 3 }, kernelState());
  });

  test('an IPv6 externalIP inside the range answers from outside over TCP and UDP; one outside it is not programmed', async () => {
    assert.equal(tcpAnswers(t.external, '2001:db8:32::5', 80, 2).length, 2, kernelState());
    assert.match(await udpAnswer(t.external, '2001:db8:32::5', 53), /^p[12] /);
    assert.doesNotMatch(ipvsTable(), /2001:db8:ffff::9/);
    assert.ok(problems.some((p) => p.key === 'default/ext6' && p.reason === 'InvalidExternalIP'));
  });

  test('session affinity ClientIP over IPv6: every connection from one client goes to the same endpoint', () => {
    const answers = counts(tcpAnswers(t.c1, '2001:db8:96::40', 80, 4));
    assert.equal(Object.keys(answers).length, 1, JSON.stringify(answers));
    assert.match(ipvsTable(), /TCP\s+\[2001:db8:96::40\]:80 rr persistent 60/);
  });

  test('a dual-stack Service answers on both ClusterIPs, each family sending to endpoints of that family', () => {
    assert.deepEqual(counts(tcpAnswers(t.c1, '198.19.0.50', 80, 2)), { [`p1 ${PODS.c1.v4}`]: 1, [`p2 ${PODS.c1.v4}`]: 1 }, kernelState());
    assert.deepEqual(counts(tcpAnswers(t.c1, '2001:db8:96::50', 80, 2)), { [`p1 ${PODS.c1.v6}`]: 1, [`p2 ${PODS.c1.v6}`]: 1 }, kernelState());
  });

  test('a dual-stack NodePort listens on the node address of each family', () => {
    const v4 = tcpAnswers(t.external, N1.v4, 30090, 1);
    const v6 = tcpAnswers(t.external, N1.v6, 30090, 1);
    assert.match(v4[0] ?? '', new RegExp(`^(p1 ${EXTERNAL.v4}|p2 ${N1.v4})$`), kernelState());
    assert.match(v6[0] ?? '', new RegExp(`^(p1 ${EXTERNAL.v6}|p2 ${N1.v6})$`), kernelState());
  });

  test('the IPv6 service firewall refuses other ports on a service IP', () => {
    assert.deepEqual(tcpAnswers(t.c1, '2001:db8:96::10', 81, 1), []);
    assert.match(inN1('ip6tables', ['-S', 'KUBE-ROUTER-SERVICES']), /inet6:kube-router-svip-prt/);
  });

  test('--masquerade-all SNATs IPv6 service traffic to the node IPv6 address, even from a local pod', async () => {
    try {
      controller = await build(['--masquerade-all']);
      await controller.fullSync();
      assert.deepEqual(counts(tcpAnswers(t.c1, '2001:db8:96::10', 80, 2)), { [`p1 ${N1.v6}`]: 1, [`p2 ${N1.v6}`]: 1 }, kernelState());
    } finally {
      controller = await build();
      await controller.fullSync();
    }
    assert.deepEqual(counts(tcpAnswers(t.c1, '2001:db8:96::10', 80, 2)), { [`p1 ${PODS.c1.v6}`]: 1, [`p2 ${PODS.c1.v6}`]: 1 }, 'without it the pod address is kept again');
  });

  test('the kernel\'s link-local address on kube-dummy-if is not taken for a service address', async () => {
    assert.match(inN1('ip', ['-6', '-o', 'addr', 'show', 'dev', 'kube-dummy-if']), /fe80::/, 'the kernel gave the link its fe80 address');
    const observed = [...await new AddressApplier(sock, () => ({})).observe()];
    assert.ok(observed.includes('2001:db8:96::10'), observed.join(' '));
    assert.deepEqual(observed.filter((a) => a.startsWith('fe80')), [], 'full syncs would otherwise try to delete it');
  });

  test('deleting an IPv6 Service removes its virtual service, its address and its firewall entries', async () => {
    source.svcs.delete('default/aff6');
    const out = await controller.handleChanges([{ kind: 'Service', key: 'default/aff6' }]);
    assert.equal(out.failed?.size ?? 0, 0);
    assert.doesNotMatch(ipvsTable(), /2001:db8:96::40/);
    assert.doesNotMatch(inN1('ip', ['-o', 'addr', 'show', 'dev', 'kube-dummy-if']), /2001:db8:96::40/);
    assert.doesNotMatch(inN1('ipset', ['list', 'inet6:kube-router-svip']), /2001:db8:96::40/);
    assert.doesNotMatch(inN1('ip', ['-6', 'route', 'show', 'table', 'local']), /2001:db8:96::40/, 'no local route is left behind');
  });
});
