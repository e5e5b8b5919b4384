// Runs INSIDE the test VM (IPVS exists only there): the real service proxy with --enable-ipv6 programs node 1 of a
// dual-stack two-node namespace cluster, and real TCP/UDP/SCTP connections over IPv6 from a pod, the node itself and
// an external client reach the endpoints through ClusterIPs, NodePorts (also with --nodeport-bindon-all-ip),
// externalIPs and load-balancer IPs; a dual-stack Service answers on both families; a local endpoint sees the client's
// own IPv6 address; --masquerade-all SNATs IPv6 too.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { parseCommandLine } from '../../src/cli/command-line.ts';
import type { Options } from '../../src/config/options.ts';
import { assembleProxy, prepareKernel } from '../../src/controllers/proxy/index.ts';
import type { ProxyController } from '../../src/controllers/proxy/controller.ts';
import { AddressApplier } from '../../src/controllers/proxy/apply-addresses.ts';
import type { Problem } from '../../src/controllers/proxy/model.ts';
import { processExec } from '../../src/kernel/exec.ts';
import { detectIptablesMode } from '../../src/kernel/iptables.ts';
import { openIpvs, type Ipvs } from '../../src/kernel/ipvs.ts';
import { openRtnetlink } from '../../src/kernel/netlink/rtnetlink.ts';
import type { NetlinkSocket } from '../../src/kernel/netlink/socket.ts';
import { service, slice } from '../unit/proxy/fixtures.ts';
import { NodeOneServices } from './proxy-source.ts';
import { sctpAnswersUntil } from './sctp.ts';
import {
  buildDualStackTopology, counts, EXTERNAL, N1, normalizeAnswer, POD_CIDRS, PODS, RANGES, tcpAnswers, udpAnswer, type DualStackTopology,
} from './proxy-dual-stack-topology.ts';

const IN_VM = process.env['KUBE_ROUTER_IN_VM'] === '1';

const TCP = { name: 'http', protocol: 'TCP', port: 80, targetPort: 8080 };
const UDP = { name: 'dns', protocol: 'UDP', port: 53, targetPort: 5353 };
const SLICE_PORTS = [{ name: 'http', port: 8080, protocol: 'TCP' }, { name: 'dns', port: 5353, protocol: 'UDP' }];
const v6Both = [{ ip: PODS.p1.v6, node: 'n1' }, { ip: PODS.p2.v6, node: 'n2' }];
const v4Both = [{ ip: PODS.p1.v4, node: 'n1' }, { ip: PODS.p2.v4, node: 'n2' }];
const v6Only = (ip: string) => ({ clusterIP: ip, clusterIPs: [ip], ipFamilies: ['IPv6'], ipFamilyPolicy: 'SingleStack' });

describe('service proxy over IPv6 and dual-stack in the VM kernel', { skip: IN_VM ? false : 'runs inside the test VM: see test/heavy/proxy-ipv6-vm.test.ts' }, () => {
  let t: DualStackTopology;
  let source: NodeOneServices;
  let ipvs: Ipvs;
  let sock: NetlinkSocket;
  let controller: ProxyController;
  const problems: Problem[] = [];

  const build = async (extraFlags: string[] = []): Promise<ProxyController> => {
    const parsed = parseCommandLine(['--hostname-override=n1', '--run-router=false', '--run-firewall=false', '--enable-ipv6=true',
      ...RANGES.clusterIp.map((r) => `--service-cluster-ip-range=${r}`), ...RANGES.externalIp.map((r) => `--service-external-ip-range=${r}`),
      ...RANGES.loadBalancerIp.map((r) => `--loadbalancer-ip-range=${r}`), ...extraFlags], {});
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
    source = new NodeOneServices(sock, { addresses: { ipv4: N1.v4, ipv6: N1.v6 }, podCidrs: [...POD_CIDRS.n1] });
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
    source.put(service('sctp6', { ...v6Only('2001:db8:96::60'), type: 'NodePort', ports: [{ name: 'sig', protocol: 'SCTP', port: 3868, targetPort: 3868, nodePort: 30868 }] }),
      slice('sctp6', 'IPv6', v6Both, [{ name: 'sig', port: 3868, protocol: 'SCTP' }]));
    source.put(service('lb6', { ...v6Only('2001:db8:96::70'), type: 'LoadBalancer', ports: [{ ...TCP, nodePort: 30070 }] },
      { ingress: [{ ip: '2001:db8:48::5' }, { ip: '2001:db8:48::6', ipMode: 'Proxy' }, { ip: '2001:db8:ffff::7' }] }), slice('lb6', 'IPv6', v6Both, SLICE_PORTS));
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
    assert.deepEqual(counts(tcpAnswers(t.external, '2001:db8:32::5', 80, 2)), { [`p1 ${EXTERNAL.v6}`]: 1, [`p2 ${N1.v6}`]: 1 }, kernelState());
    assert.match(await udpAnswer(t.external, '2001:db8:32::5', 53), /^p[12] /);
    assert.doesNotMatch(ipvsTable(), /2001:db8:ffff::9/);
    assert.ok(problems.some((p) => p.key === 'default/ext6' && p.reason === 'InvalidExternalIP'));
  });

  test('an IPv6 load-balancer ingress IP answers from outside; ipMode Proxy and one outside --loadbalancer-ip-range are not programmed', () => {
    assert.deepEqual(counts(tcpAnswers(t.external, '2001:db8:48::5', 80, 2)), { [`p1 ${EXTERNAL.v6}`]: 1, [`p2 ${N1.v6}`]: 1 }, kernelState());
    assert.match(inN1('ip', ['-6', '-o', 'addr', 'show', 'dev', 'kube-dummy-if']), /2001:db8:48::5\/128/);
    assert.doesNotMatch(ipvsTable(), /2001:db8:48::6|2001:db8:ffff::7/);
    assert.ok(problems.some((p) => p.key === 'default/lb6' && p.reason === 'InvalidLoadBalancerIP'));
  });

  test('an IPv6 SCTP ClusterIP reaches the local and the remote endpoint from a pod, which both see the pod address', () => {
    const wanted = [`p1 ${PODS.c1.v6}`, `p2 ${PODS.c1.v6}`];
    assert.deepEqual(sctpAnswersUntil(t.c1, '2001:db8:96::60', 3868, wanted, normalizeAnswer), wanted, kernelState());
  });

  test('an IPv6 SCTP NodePort from outside: the local endpoint sees the client, the remote one the node (masquerade)', () => {
    const wanted = [`p1 ${EXTERNAL.v6}`, `p2 ${N1.v6}`];
    assert.deepEqual(sctpAnswersUntil(t.external, N1.v6, 30868, wanted, normalizeAnswer), wanted, kernelState());
  });

  test('--nodeport-bindon-all-ip: NodePorts on every node address of both families but the pod bridge\'s and link-local ones, removed with the address', async () => {
    const extra = '2001:db8:101::11';
    const extra4 = '198.51.100.111';
    inN1('ip', ['addr', 'add', `${extra}/64`, 'dev', 'eth0', 'nodad']);
    inN1('ip', ['addr', 'add', `${extra4}/24`, 'dev', 'eth0']);
    spawnSync('ip', ['-n', t.external.name, 'route', 'add', '2001:db8:101::/64', 'via', N1.v6]);
    try {
      controller = await build(['--nodeport-bindon-all-ip']);
      await controller.fullSync();
      const table = ipvsTable();
      assert.deepEqual(counts(tcpAnswers(t.external, extra, 30080, 2)), { [`p1 ${EXTERNAL.v6}`]: 1, [`p2 ${N1.v6}`]: 1 }, kernelState());
      assert.match(await udpAnswer(t.external, extra, 30053), new RegExp(`^(p1 ${EXTERNAL.v6}|p2 ${N1.v6})$`), kernelState());
      assert.equal(tcpAnswers(t.external, N1.v6, 30080, 1).length, 1, 'the best address still serves');
      const nodePorts = [...table.matchAll(/^TCP\s+\[([0-9a-f:]+)\]:30080 /gm)].map((m) => m[1]).sort();
      assert.deepEqual(nodePorts, [N1.v6, extra].sort(), `not on kube-bridge (2001:db8:1::1), loopback or fe80::\n${table}`);
      const nodePorts4 = [...table.matchAll(/^TCP\s+([0-9.]+):30090 /gm)].map((m) => m[1]).sort();
      assert.deepEqual(nodePorts4, [N1.v4, extra4].sort(), `IPv4: not on kube-bridge (198.18.1.1) or loopback\n${table}`);
      assert.match(tcpAnswers(t.external, extra4, 30090, 1)[0] ?? '', new RegExp(`^(p1 ${EXTERNAL.v4}|p2 ${N1.v4})$`), kernelState());
    } finally {
      spawnSync('ip', ['-n', t.external.name, 'route', 'del', '2001:db8:101::/64']);
      inN1('ip', ['addr', 'del', `${extra}/64`, 'dev', 'eth0']);
      inN1('ip', ['addr', 'del', `${extra4}/24`, 'dev', 'eth0']);
      await controller.fullSync();
    }
    // No longer local addresses, so no longer recognised as NodePorts: removed because this proxy programmed them.
    assert.doesNotMatch(ipvsTable(), /2001:db8:101::11|198\.51\.100\.111/, 'the NodePorts on the removed addresses are gone');
    controller = await build();
    await controller.fullSync();
    assert.deepEqual([...ipvsTable().matchAll(/^TCP\s+\[([0-9a-f:]+)\]:30080 /gm)].map((m) => m[1]), [N1.v6], 'without the flag: the best address only');
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
