// Runs INSIDE the test VM (lab/vm): an IPVS NAT virtual server in the VM's root namespace balances TCP
// connections from a client namespace round-robin over two real-server namespaces.
// Topology: client ns 198.18.20.2 --veth-- VM root ns (director; VIP 198.51.100.100 on a dummy link)
//           --bridge 198.18.10.1-- rs1 ns 198.18.10.11 / rs2 ns 198.18.10.12 (socat answering "rs1"/"rs2")
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { sh, TestNetns } from '../helpers/netns.ts';

const IN_VM = process.env['KUBE_ROUTER_IN_VM'] === '1';
const VIP = '198.51.100.100';
const RS = [
  { name: 'rs1', ip: '198.18.10.11', hostIf: 'krtvm-rs1' },
  { name: 'rs2', ip: '198.18.10.12', hostIf: 'krtvm-rs2' },
];

/** Resolves once something accepts TCP connections on ip:port (polled, up to `ms`). */
async function waitForListener(ip: string, port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const s = connect(port, ip, () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (up) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${ip}:${port} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('IPVS in the VM kernel', { skip: IN_VM ? false : 'runs inside the test VM: see test/root/vm/vm-smoke.test.ts' }, () => {
  const namespaces: TestNetns[] = [];
  const listeners: ChildProcess[] = [];
  let client: TestNetns;

  before(async () => {
    client = new TestNetns('krt-vm');
    namespaces.push(client);
    const servers = RS.map(() => new TestNetns('krt-vm'));
    namespaces.push(...servers);
    sh('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    // one ip -batch per namespace: every exec costs ~100 ms under TCG
    sh('ip', ['-batch', '-'], [
      'link add krtvm-vip type dummy',
      'link set krtvm-vip up',
      `addr add ${VIP}/32 dev krtvm-vip`,
      'link add krtvm-br type bridge',
      'addr add 198.18.10.1/24 dev krtvm-br',
      'link set krtvm-br up',
      ...RS.flatMap((rs, i) => [
        `link add ${rs.hostIf} type veth peer name eth0 netns ${servers[i]?.name}`,
        `link set ${rs.hostIf} master krtvm-br up`,
      ]),
      `link add krtvm-cl type veth peer name eth0 netns ${client.name}`,
      'addr add 198.18.20.1/24 dev krtvm-cl',
      'link set krtvm-cl up',
    ].join('\n') + '\n');
    RS.forEach((rs, i) => {
      const ns = servers[i] as TestNetns;
      sh('ip', ['-n', ns.name, '-batch', '-'], `addr add ${rs.ip}/24 dev eth0\nlink set eth0 up\nroute add default via 198.18.10.1\n`);
      listeners.push(spawn('ip', ['netns', 'exec', ns.name, 'socat', 'TCP-LISTEN:80,fork,reuseaddr', `SYSTEM:echo ${rs.name}`], { stdio: 'ignore' }));
    });
    sh('ip', ['-n', client.name, '-batch', '-'], 'addr add 198.18.20.2/24 dev eth0\nlink set eth0 up\nroute add default via 198.18.20.1\n');
    for (const rs of RS) await waitForListener(rs.ip, 80, 15_000);
    sh('ipvsadm', ['-R'], [
      `-A -t ${VIP}:80 -s rr`,
      ...RS.map((rs) => `-a -t ${VIP}:80 -r ${rs.ip}:80 -m -w 1`),
    ].join('\n') + '\n');
  });

  after(() => {
    // best effort: before() may have stopped half-way
    for (const l of listeners) l.kill('SIGKILL');
    spawnSync('ipvsadm', ['-D', '-t', `${VIP}:80`]);
    for (const ns of namespaces) ns.delete(); // takes the veth peers with it
    spawnSync('ip', ['-force', '-batch', '-'], { input: 'link del krtvm-vip\nlink del krtvm-br\n' });
  });

  test('the virtual server is programmed with both real servers in masquerade mode', () => {
    const table = sh('ipvsadm', ['-Ln']);
    assert.match(table, new RegExp(`TCP\\s+${VIP}:80 rr`));
    for (const rs of RS) assert.match(table, new RegExp(`->\\s+${rs.ip}:80\\s+Masq\\s+1`));
  });

  test('ten connections from the client namespace to the VIP are split 5/5 over the real servers (rr)', () => {
    // one shell for the whole batch; static busybox nc starts much faster than socat under TCG
    const answers = client.exec('sh', ['-c', `for i in 1 2 3 4 5 6 7 8 9 10; do busybox nc -w 2 ${VIP} 80 </dev/null; done`]);
    const counts: Record<string, number> = {};
    for (const line of answers.split('\n').filter(Boolean)) counts[line] = (counts[line] ?? 0) + 1;
    assert.deepEqual(counts, { rs1: 5, rs2: 5 });
    // the kernel's connection table (entries linger in TIME_WAIT) shows where IPVS sent each connection
    const table = sh('ipvsadm', ['-Lnc']).split('\n').filter((l) => l.includes(`${VIP}:80`));
    const perServer = RS.map((rs) => table.filter((l) => l.trim().endsWith(`${rs.ip}:80`)).length);
    assert.deepEqual(perServer, [5, 5], `IPVS connection table:\n${table.join('\n')}`);
  });
});
