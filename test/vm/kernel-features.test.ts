// Runs INSIDE the test VM (lab/vm): the link types and protocols kube-router needs that the host kernel
// lacks work in the VM kernel — dummy links, IPIP tunnels, IPIP over FoU, and SCTP sockets.
// Two namespaces A (198.51.100.1, .11) and B (198.51.100.2, .12) joined by a veth carry the tunnels.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { TestNetns } from '../helpers/netns.ts';

const IN_VM = process.env['KUBE_ROUTER_IN_VM'] === '1';
const FOU_PORT = 5555;

interface LinkInfo { linkinfo?: { info_kind?: string; info_data?: Record<string, unknown> } }

function linkKind(ns: TestNetns, dev: string): string | undefined {
  return (JSON.parse(ns.ip('-j', '-d', 'link', 'show', dev)) as LinkInfo[])[0]?.linkinfo?.info_kind;
}

describe('VM kernel link types and protocols', { skip: IN_VM ? false : 'runs inside the test VM: see test/root/vm/vm-smoke.test.ts' }, () => {
  let a: TestNetns;
  let b: TestNetns;
  const listeners: ChildProcess[] = [];

  before(() => {
    a = new TestNetns('krt-vm');
    b = new TestNetns('krt-vm');
    a.ip('link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', b.name);
    for (const [ns, me, peer] of [[a, 1, 2], [b, 2, 1]] as const) {
      const batch = [
        `addr add 198.51.100.${me}/24 dev eth0`,
        `addr add 198.51.100.1${me}/24 dev eth0`,
        'link set eth0 up',
        // plain IPIP between the first address pair
        `link add krtvm-ipip type ipip local 198.51.100.${me} remote 198.51.100.${peer}`,
        `addr add 198.18.30.${me}/32 dev krtvm-ipip`,
        'link set krtvm-ipip up',
        `route add 198.18.30.${peer}/32 dev krtvm-ipip`,
        // IPIP inside UDP (FoU) between the second pair, the way kube-router's fou overlay does it
        `fou add port ${FOU_PORT} ipproto 4`,
        `link add krtvm-fou type ipip local 198.51.100.1${me} remote 198.51.100.1${peer} encap fou encap-sport auto encap-dport ${FOU_PORT}`,
        `addr add 198.18.31.${me}/32 dev krtvm-fou`,
        'link set krtvm-fou up',
        `route add 198.18.31.${peer}/32 dev krtvm-fou`,
        'link add krtvm-d0 type dummy',
      ];
      ns.exec('ip', ['-batch', '-'], batch.join('\n') + '\n');
    }
  });

  after(() => {
    for (const l of listeners) l.kill('SIGKILL');
    a?.delete();
    b?.delete();
  });

  test('a dummy link can be created', () => {
    assert.equal(linkKind(a, 'krtvm-d0'), 'dummy');
  });

  test('pings cross a plain IPIP tunnel', () => {
    assert.equal(linkKind(a, 'krtvm-ipip'), 'ipip');
    a.exec('busybox', ['ping', '-c', '2', '-i', '0.2', '-W', '3', '198.18.30.2']);
    const rx = JSON.parse(b.ip('-j', '-s', 'link', 'show', 'krtvm-ipip')) as { stats64?: { rx?: { packets?: number } } }[];
    assert.ok((rx[0]?.stats64?.rx?.packets ?? 0) >= 2, 'B received the pings through its IPIP device');
  });

  test('pings cross an IPIP tunnel encapsulated in FoU (UDP)', () => {
    assert.match(a.ip('fou', 'show'), new RegExp(`port ${FOU_PORT} ipproto 4`));
    a.exec('busybox', ['ping', '-c', '2', '-i', '0.2', '-W', '3', '198.18.31.2']);
    const rx = JSON.parse(b.ip('-j', '-s', 'link', 'show', 'krtvm-fou')) as { stats64?: { rx?: { packets?: number } } }[];
    assert.ok((rx[0]?.stats64?.rx?.packets ?? 0) >= 2, 'B decapsulated the pings through its FoU device');
  });

  test('an SCTP association carries data between namespaces', () => {
    listeners.push(spawn('ip', ['netns', 'exec', a.name, 'socat', 'SCTP-LISTEN:9000,reuseaddr,fork', 'SYSTEM:echo sctp-ok'], { stdio: 'ignore' }));
    // -u: read-only client, since SCTP has no half-close (an EOF on our side would end the association)
    // retry until the listener is up (socat starts slowly under TCG); one shell for all attempts
    const reply = b.exec('sh', ['-c',
      'for i in $(seq 1 50); do socat -u -T 5 SCTP-CONNECT:198.51.100.1:9000 - 2>/dev/null && exit 0; sleep 0.2; done; exit 1']);
    assert.equal(reply.trim(), 'sctp-ok');
  });
});
