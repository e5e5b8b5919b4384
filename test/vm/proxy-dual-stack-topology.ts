// A dual-stack two-node cluster in network namespaces for the IPv6 / dual-stack service proxy test in the VM: the
// IPv4 layout of proxy-topology.ts plus an IPv6 address on every link (underlay 2001:db8:100::/64, pod CIDRs
// 2001:db8:1::/64 on n1 and 2001:db8:2::/64 on n2). Pod servers listen on each family separately and answer
// "<pod> <peer address>", which `normalizeAnswer` turns into canonical text (socat prints IPv6 peers expanded).
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { canonicalIp } from '../../src/net/ip.ts';
import { sh, TestNetns } from '../helpers/netns.ts';
import { bridgeMac } from './proxy-topology.ts';
import { loadSctp, sctpAnswer } from './sctp.ts';

export const N1 = { v4: '198.51.100.11', v6: '2001:db8:100::11' } as const;
export const N2 = { v4: '198.51.100.12', v6: '2001:db8:100::12' } as const;
export const EXTERNAL = { v4: '198.51.100.100', v6: '2001:db8:100::100' } as const;
export const PODS = {
  c1: { v4: '198.18.1.3', v6: '2001:db8:1::3' },
  p1: { v4: '198.18.1.2', v6: '2001:db8:1::2' },
  p2: { v4: '198.18.2.2', v6: '2001:db8:2::2' },
} as const;
export const POD_CIDRS = { n1: ['198.18.1.0/24', '2001:db8:1::/64'], n2: ['198.18.2.0/24', '2001:db8:2::/64'] } as const;

/** The service ranges the proxy is given; the external client routes them through node 1. */
export const RANGES = {
  clusterIp: ['198.19.0.0/20', '2001:db8:96::/112'],
  externalIp: ['198.19.32.0/24', '2001:db8:32::/64'],
  loadBalancerIp: ['198.19.48.0/24', '2001:db8:48::/64'],
} as const;

export interface DualStackTopology {
  n1: TestNetns;
  n2: TestNetns;
  external: TestNetns;
  c1: TestNetns;
  p1: TestNetns;
  p2: TestNetns;
  destroy(): void;
}

/** IPv6 addresses without duplicate address detection: a tentative address cannot be used as a source yet. */
const v6 = (cidr: string, dev: string) => `addr add ${cidr} dev ${dev} nodad`;

function pod(node: TestNetns, ns: TestNetns, hostIf: string, ip: { v4: string; v6: string }, gw: { v4: string; v6: string }): void {
  sh('ip', ['-n', node.name, '-batch', '-'], `link add ${hostIf} type veth peer name eth0 netns ${ns.name}\nlink set ${hostIf} master kube-bridge up\n`);
  sh('ip', ['-n', ns.name, '-batch', '-'], [
    `addr add ${ip.v4}/24 dev eth0`, v6(`${ip.v6}/64`, 'eth0'), 'link set eth0 up',
    `route add default via ${gw.v4}`, `route add ::/0 via ${gw.v6}`,
  ].join('\n') + '\n');
}

function node(underlay: TestNetns, ns: TestNetns, hostIf: string, ip: { v4: string; v6: string }, podGw: { v4: string; v6: string },
  other: { pods: readonly string[]; node: { v4: string; v6: string } }, mac: string): void {
  sh('ip', ['-n', underlay.name, '-batch', '-'], `link add ${hostIf} type veth peer name eth0 netns ${ns.name}\nlink set ${hostIf} master br0 up\n`);
  sh('ip', ['-n', ns.name, '-batch', '-'], [
    `addr add ${ip.v4}/24 dev eth0`, v6(`${ip.v6}/64`, 'eth0'), 'link set eth0 up',
    `link add kube-bridge address ${mac} type bridge`, `addr add ${podGw.v4}/24 dev kube-bridge`, v6(`${podGw.v6}/64`, 'kube-bridge'), 'link set kube-bridge up',
    `route add ${other.pods[0]} via ${other.node.v4}`, `route add ${other.pods[1]} via ${other.node.v6}`,
  ].join('\n') + '\n');
  ns.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
}

/** Servers in a pod, one per family: TCP 8080 and UDP 5353 answering "<name> <peer>"; SCTP 3868 over IPv6. */
function serve(ns: TestNetns, name: string): ChildProcess[] {
  const reply = `SYSTEM:echo ${name} $SOCAT_PEERADDR`;
  return ['TCP4-LISTEN:8080,fork,reuseaddr', 'TCP6-LISTEN:8080,fork,reuseaddr,ipv6only=1', 'UDP4-RECVFROM:5353,fork', 'UDP6-RECVFROM:5353,fork,ipv6only=1',
    'SCTP6-LISTEN:3868,fork,reuseaddr,ipv6only=1']
    .map((listen) => spawn('ip', ['netns', 'exec', ns.name, 'socat', listen, reply], { stdio: 'ignore' }));
}

export async function buildDualStackTopology(): Promise<DualStackTopology> {
  const made: TestNetns[] = [];
  const mk = () => { const n = new TestNetns('krt-p6'); made.push(n); return n; };
  const underlay = mk();
  const t = { n1: mk(), n2: mk(), external: mk(), c1: mk(), p1: mk(), p2: mk() };
  const servers: ChildProcess[] = [];
  const destroy = () => {
    for (const s of servers) s.kill('SIGKILL');
    for (const n of made) n.delete();
  };
  try {
    sh('ip', ['-n', underlay.name, '-batch', '-'], 'link add br0 type bridge\nlink set br0 up\n');
    node(underlay, t.n1, 'u-n1', N1, { v4: '198.18.1.1', v6: '2001:db8:1::1' }, { pods: POD_CIDRS.n2, node: N2 }, bridgeMac(1));
    node(underlay, t.n2, 'u-n2', N2, { v4: '198.18.2.1', v6: '2001:db8:2::1' }, { pods: POD_CIDRS.n1, node: N1 }, bridgeMac(2));
    sh('ip', ['-n', underlay.name, '-batch', '-'], `link add u-ext type veth peer name eth0 netns ${t.external.name}\nlink set u-ext master br0 up\n`);
    // The external client reaches the service, external-IP and pod ranges through node 1, as a router would.
    const viaN1 = [...RANGES.clusterIp, ...RANGES.externalIp, ...RANGES.loadBalancerIp, ...POD_CIDRS.n1, ...POD_CIDRS.n2]
      .map((r) => `route add ${r} via ${r.includes(':') ? N1.v6 : N1.v4}`);
    sh('ip', ['-n', t.external.name, '-batch', '-'], [`addr add ${EXTERNAL.v4}/24 dev eth0`, v6(`${EXTERNAL.v6}/64`, 'eth0'), 'link set eth0 up', ...viaN1].join('\n') + '\n');
    pod(t.n1, t.c1, 'v-c1', PODS.c1, { v4: '198.18.1.1', v6: '2001:db8:1::1' });
    pod(t.n1, t.p1, 'v-p1', PODS.p1, { v4: '198.18.1.1', v6: '2001:db8:1::1' });
    pod(t.n2, t.p2, 'v-p2', PODS.p2, { v4: '198.18.2.1', v6: '2001:db8:2::1' });
    // Before the listeners: two SCTP listeners racing the module's autoload lose one of them (see sctp.ts).
    loadSctp(t.c1);
    servers.push(...serve(t.p1, 'p1'), ...serve(t.p2, 'p2'));
    for (const p of [PODS.p1, PODS.p2]) {
      await waitFor(`TCP ${p.v4}:8080`, () => tcpAnswers(t.c1, p.v4, 8080, 1).length === 1);
      await waitFor(`TCP [${p.v6}]:8080`, () => tcpAnswers(t.c1, p.v6, 8080, 1).length === 1);
      assert.notEqual(await udpAnswer(t.c1, p.v6, 5353, 60_000), '', `UDP [${p.v6}]:5353 answers`);
      await waitFor(`SCTP [${p.v6}]:3868`, () => sctpAnswer(t.c1, p.v6, 3868) !== '');
    }
    return { ...t, destroy };
  } catch (e) {
    destroy();
    throw e;
  }
}

async function waitFor(what: string, ready: () => boolean): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (ready()) return;
    await new Promise((res) => setTimeout(res, 300));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** socat's host syntax: IPv6 addresses in brackets. */
const host = (ip: string) => (ip.includes(':') ? `[${ip}]` : ip);

/** "p1 [2001:0db8:...:0003]" -> "p1 2001:db8:1::3": the pod name and the peer in canonical form. */
export function normalizeAnswer(line: string): string {
  const [name, peer] = line.trim().split(/\s+/);
  if (!peer) return line.trim();
  const bare = peer.replace(/^\[|\]$/g, '');
  const canonical = canonicalIp(bare);
  return `${name} ${canonical.ok ? canonical.value : bare}`;
}

/** One normalised answer per TCP connection from `from` to ip:port (`n` connections in one shell). */
export function tcpAnswers(from: TestNetns, ip: string, port: number, n: number): string[] {
  const r = spawnSync('ip', ['netns', 'exec', from.name, 'sh', '-c', `for i in $(seq ${n}); do socat -u -T 10 TCP:${host(ip)}:${port},connect-timeout=5 -; done`],
    { encoding: 'utf8', timeout: 20_000 + n * 12_000 });
  return (r.stdout ?? '').split('\n').map((l) => l.trim()).filter(Boolean).map(normalizeAnswer);
}

/**
 * The normalised answer to a UDP datagram from `from` to ip:port, or '' after `timeoutMs`. The datagram is sent
 * again from the same socket every 2 s until an answer comes (one may be lost while a slow emulated server forks
 * its answering shell); the first line back ends the exchange.
 */
export function udpAnswer(from: TestNetns, ip: string, port: number, timeoutMs = 15_000): Promise<string> {
  const child = spawn('ip', ['netns', 'exec', from.name, 'socat', '-T', '30', '-', `UDP:${host(ip)}:${port}`], { stdio: ['pipe', 'pipe', 'ignore'] });
  return new Promise((resolve) => {
    let received = '';
    let done = false;
    const send = () => child.stdin.write('ping\n', () => {});
    const finish = (answer: string) => {
      if (done) return;
      done = true;
      clearInterval(resend);
      clearTimeout(deadline);
      child.kill('SIGKILL');
      resolve(answer === '' ? '' : normalizeAnswer(answer));
    };
    const resend = setInterval(send, 2_000);
    const deadline = setTimeout(() => finish(''), timeoutMs);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      received += d;
      const nl = received.indexOf('\n');
      if (nl >= 0) finish(received.slice(0, nl));
    });
    child.on('exit', () => finish(received.trim()));
    send();
  });
}

/** Connections per distinct answer. */
export const counts = (lines: string[]) => lines.reduce<Record<string, number>>((m, l) => ({ ...m, [l]: (m[l] ?? 0) + 1 }), {});
