// A two-node cluster in network namespaces for the service proxy tests in the VM: an underlay bridge joining node
// n1 (198.51.100.11), node n2 (.12) and an external client (.100); each node has a pod bridge with its pods
// (n1: 198.18.1.0/24, n2: 198.18.2.0/24) and a route to the other node's pod CIDR. Servers in the pods answer
// every connection with "<pod> <client address as the pod saw it>".
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { sh, TestNetns } from '../helpers/netns.ts';
import { loadSctp } from './sctp.ts';

export const N1_IP = '198.51.100.11';
export const N2_IP = '198.51.100.12';
export const EXTERNAL_IP = '198.51.100.100';
export const POD = { c1: '198.18.1.3', p1: '198.18.1.2', p2: '198.18.2.2' } as const;

export interface Topology {
  underlay: TestNetns;
  n1: TestNetns;
  n2: TestNetns;
  external: TestNetns;
  c1: TestNetns;
  p1: TestNetns;
  p2: TestNetns;
  servers: ChildProcess[];
  destroy(): void;
}

/** A pod namespace on `node`'s bridge: eth0 with `ip`/24, default route via the bridge address `gw`. */
export function pod(node: TestNetns, ns: TestNetns, hostIf: string, ip: string, gw: string): void {
  sh('ip', ['-n', node.name, '-batch', '-'], `link add ${hostIf} type veth peer name eth0 netns ${ns.name}\nlink set ${hostIf} master kube-bridge up\n`);
  sh('ip', ['-n', ns.name, '-batch', '-'], `addr add ${ip}/24 dev eth0\nlink set eth0 up\nroute add default via ${gw}\n`);
}

/**
 * The pod bridge's own MAC address, fixed as the CNI bridge plugin fixes it. A bridge without one takes the lowest MAC
 * of its ports, so a pod added later (the netpol test's second client) can change the gateway's MAC under the pods
 * that already cached it; their frames to the old MAC then reach the node as "other host" and are dropped.
 */
export const bridgeMac = (node: 1 | 2): string => `02:00:c6:12:0${node}:01`;

function node(underlay: TestNetns, ns: TestNetns, hostIf: string, ip: string, podGw: string, otherPods: string, otherNode: string, mac: string): void {
  sh('ip', ['-n', underlay.name, '-batch', '-'], `link add ${hostIf} type veth peer name eth0 netns ${ns.name}\nlink set ${hostIf} master br0 up\n`);
  sh('ip', ['-n', ns.name, '-batch', '-'], [
    `addr add ${ip}/24 dev eth0`, 'link set eth0 up',
    `link add kube-bridge address ${mac} type bridge`, `addr add ${podGw}/24 dev kube-bridge`, 'link set kube-bridge up',
    `route add ${otherPods} via ${otherNode}`,
  ].join('\n') + '\n');
  ns.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
}

/** A server in `ns` on each given port answering "<name> <peer address>" (TCP, UDP or SCTP). */
function serve(ns: TestNetns, name: string, listen: string): ChildProcess {
  return spawn('ip', ['netns', 'exec', ns.name, 'socat', listen, `SYSTEM:echo ${name} $SOCAT_PEERADDR`], { stdio: 'ignore' });
}

export async function buildTopology(): Promise<Topology> {
  const made: TestNetns[] = [];
  const mk = () => { const n = new TestNetns('krt-px'); made.push(n); return n; };
  const t = { underlay: mk(), n1: mk(), n2: mk(), external: mk(), c1: mk(), p1: mk(), p2: mk() };
  const servers: ChildProcess[] = [];
  const destroy = () => {
    for (const s of servers) s.kill('SIGKILL');
    for (const n of made) n.delete();
  };
  try {
    sh('ip', ['-n', t.underlay.name, '-batch', '-'], 'link add br0 type bridge\nlink set br0 up\n');
    node(t.underlay, t.n1, 'u-n1', N1_IP, '198.18.1.1', '198.18.2.0/24', N2_IP, bridgeMac(1));
    node(t.underlay, t.n2, 'u-n2', N2_IP, '198.18.2.1', '198.18.1.0/24', N1_IP, bridgeMac(2));
    sh('ip', ['-n', t.underlay.name, '-batch', '-'], `link add u-ext type veth peer name eth0 netns ${t.external.name}\nlink set u-ext master br0 up\n`);
    // The external client reaches the service, external-IP and pod ranges through node 1, as a router would.
    sh('ip', ['-n', t.external.name, '-batch', '-'], [
      `addr add ${EXTERNAL_IP}/24 dev eth0`, 'link set eth0 up',
      `route add 10.96.0.0/16 via ${N1_IP}`, `route add 198.18.10.0/24 via ${N1_IP}`, `route add 198.18.0.0/16 via ${N1_IP}`,
    ].join('\n') + '\n');
    pod(t.n1, t.c1, 'v-c1', POD.c1, '198.18.1.1');
    pod(t.n1, t.p1, 'v-p1', POD.p1, '198.18.1.1');
    pod(t.n2, t.p2, 'v-p2', POD.p2, '198.18.2.1');
    // Before the listeners: two SCTP listeners racing the module's autoload lose one of them (see sctp.ts).
    loadSctp(t.c1);
    for (const [ns, name] of [[t.p1, 'p1'], [t.p2, 'p2']] as const) {
      servers.push(serve(ns, name, 'TCP-LISTEN:8080,fork,reuseaddr'));
      servers.push(serve(ns, name, 'UDP-RECVFROM:5353,fork'));
      servers.push(serve(ns, name, 'SCTP-LISTEN:3868,fork,reuseaddr'));
      servers.push(spawn('ip', ['netns', 'exec', ns.name, 'socat', 'TCP-LISTEN:8081,fork,reuseaddr', 'EXEC:cat'], { stdio: 'ignore' }));
    }
    // A host service on node 1: reachable on the node's address, never through a service IP.
    servers.push(spawn('ip', ['netns', 'exec', t.n1.name, 'socat', 'TCP-LISTEN:81,fork,reuseaddr', 'SYSTEM:echo node1'], { stdio: 'ignore' }));
    for (const [ip, port] of [[POD.p1, 8080], [POD.p2, 8080], [POD.p1, 8081], [POD.p2, 8081]] as const) await waitForListener(t.c1, ip, port);
    // socat's SCTP listeners start slowly under emulation.
    for (const ip of [POD.p1, POD.p2]) await waitFor(`SCTP ${ip}:3868`, () => datagramAnswer(t.c1, 'SCTP', ip, 3868) !== '');
    return { ...t, servers, destroy };
  } catch (e) {
    destroy();
    throw e;
  }
}

async function waitFor(what: string, ready: () => boolean): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (ready()) return;
    await new Promise((res) => setTimeout(res, 500));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function waitForListener(from: TestNetns, ip: string, port: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const r = spawnSync('ip', ['netns', 'exec', from.name, 'socat', '-u', '/dev/null', `TCP:${ip}:${port},connect-timeout=1`], { timeout: 5_000 });
    if (r.status === 0) return;
    await new Promise((res) => setTimeout(res, 200));
  }
  throw new Error(`nothing listens on ${ip}:${port}`);
}

/**
 * One line per TCP connection from `from` to ip:port (`n` connections in one shell), empty lines dropped. socat -u
 * reads the connection until the server closes it (busybox nc may quit on its own stdin's EOF before the answer).
 */
export function tcpAnswers(from: TestNetns, ip: string, port: number, n: number): string[] {
  const r = spawnSync('ip', ['netns', 'exec', from.name, 'sh', '-c', `for i in $(seq ${n}); do socat -u -T 10 TCP:${ip}:${port},connect-timeout=5 -; done`],
    { encoding: 'utf8', timeout: 20_000 + n * 12_000 });
  return (r.stdout ?? '').split('\n').map((l) => l.trim()).filter(Boolean);
}

/**
 * The answer to one datagram (UDP) or association (SCTP), or '' when nothing came back after `tries` attempts (a
 * datagram or an INIT may be lost while a slow emulated server forks its answering shell).
 */
export function datagramAnswer(from: TestNetns, proto: 'UDP' | 'SCTP', ip: string, port: number, tries = 1): string {
  for (let i = 0; i < tries; i++) {
    const answer = datagramOnce(from, proto, ip, port);
    if (answer !== '') return answer;
  }
  return '';
}

function datagramOnce(from: TestNetns, proto: 'UDP' | 'SCTP', ip: string, port: number): string {
  const address = proto === 'UDP' ? `UDP:${ip}:${port}` : `SCTP-CONNECT:${ip}:${port},connect-timeout=2`;
  const args = proto === 'UDP' ? ['-T', '5', '-', address] : ['-u', '-T', '5', address, '-'];
  const r = spawnSync('ip', ['netns', 'exec', from.name, 'socat', ...args], { encoding: 'utf8', input: 'ping\n', timeout: 10_000 });
  return (r.stdout ?? '').trim();
}

/** A long-lived TCP connection from `from`, to send lines through and read them back (an echo server behind). */
export class LongConnection {
  private readonly child: ChildProcess;
  private buffered = '';
  constructor(from: TestNetns, ip: string, port: number) {
    this.child = spawn('ip', ['netns', 'exec', from.name, 'socat', '-', `TCP:${ip}:${port}`], { stdio: ['pipe', 'pipe', 'ignore'] });
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (d: string) => { this.buffered += d; });
  }

  async roundTrip(line: string, timeoutMs = 10_000): Promise<boolean> {
    this.buffered = '';
    this.child.stdin!.write(`${line}\n`);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.buffered.includes(line)) return true;
      if (this.child.exitCode !== null) return false;
      await new Promise((r) => setTimeout(r, 50));
    }
    return false;
  }

  close(): void {
    this.child.kill('SIGKILL');
  }
}
