// Runs INSIDE the test VM (lab/vm): the host's iptables (nft and legacy backends), ip6tables, ipset and nft
// program the matches, targets, set types and expressions kube-router uses; the VM kernel loads each module
// on first use. Each tool works in its own namespace, and the test reads the state back from the kernel.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { TestNetns } from '../helpers/netns.ts';

const IN_VM = process.env['KUBE_ROUTER_IN_VM'] === '1';

const IPSET_TYPES = ['hash:ip', 'hash:net', 'hash:ip,port', 'hash:ip,port,ip', 'hash:ip,port,net', 'hash:net,port', 'bitmap:port range 1-1024', 'list:set'];

// the same ruleset goes through both iptables backends
const IPV4_RULES = [
  '*filter',
  ':KRT-VM-FW - [0:0]',
  '-A FORWARD -m comment --comment "krt-vm: pod fw" -j KRT-VM-FW',
  '-A KRT-VM-FW -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
  '-A KRT-VM-FW -m set --match-set krt-vm-0 src -p tcp -m multiport --dports 80,443 -j ACCEPT',
  '-A KRT-VM-FW -m physdev --physdev-is-bridged -m mark --mark 0x10000/0x10000 -j NFLOG --nflog-group 100',
  '-A KRT-VM-FW -m addrtype --dst-type LOCAL -m limit --limit 10/min -j LOG --log-prefix krt-vm',
  '-A KRT-VM-FW -p tcp -j REJECT --reject-with tcp-reset',
  'COMMIT',
  '*nat',
  '-A POSTROUTING -m ipvs --vaddr 198.51.100.100/32 --vport 80 -j MASQUERADE',
  '-A PREROUTING -p tcp -d 198.51.100.101 -m statistic --mode random --probability 0.5 -j DNAT --to-destination 198.18.0.2:8080',
  'COMMIT',
  '*mangle',
  '-A FORWARD -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu',
  'COMMIT',
  '',
].join('\n');

const NFT_RULESET = `table inet krt-vm {
  set pods { type ipv4_addr; flags interval; elements = { 198.18.0.0/24 } }
  chain postrouting { type nat hook postrouting priority srcnat; ip saddr @pods ct state new masquerade; }
  chain forwarding { type filter hook forward priority filter; fib daddr type local counter accept; limit rate 5/second log prefix "krt-vm"; }
}
`;

describe('netfilter tools against the VM kernel', { skip: IN_VM ? false : 'runs inside the test VM: see test/root/vm/vm-smoke.test.ts' }, () => {
  const namespaces: TestNetns[] = [];
  const fresh = (): TestNetns => {
    const ns = new TestNetns('krt-vm');
    namespaces.push(ns);
    return ns;
  };
  after(() => { for (const ns of namespaces) ns.delete(); });

  test('ipset creates every set type kube-router uses', () => {
    const ns = fresh();
    ns.exec('ipset', ['restore'], IPSET_TYPES.map((t, i) => `create krt-vm-${i} ${t}\n`).join(''));
    const listed = ns.exec('ipset', ['list', '-t']);
    for (const t of IPSET_TYPES) assert.match(listed, new RegExp(`Type: ${t.split(' ')[0]}\\n`));
  });

  for (const backend of ['nft', 'legacy'] as const) {
    test(`iptables-${backend} loads rules with the matches and targets kube-router uses`, () => {
      const ns = fresh();
      ns.exec('ipset', ['create', 'krt-vm-0', 'hash:ip']);
      ns.exec(`iptables-${backend}-restore`, [], IPV4_RULES);
      const saved = ns.exec(`iptables-${backend}-save`);
      for (const fragment of ['--comment "krt-vm: pod fw"', '--match-set krt-vm-0 src', '--physdev-is-bridged', '--nflog-group 100',
        '--dst-type LOCAL', '--reject-with tcp-reset', '--vaddr 198.51.100.100 --vport 80', '--mode random', '--clamp-mss-to-pmtu', '--log-prefix krt-vm']) {
        assert.ok(saved.includes(fragment), `iptables-${backend}-save lacks ${fragment}:\n${saved}`);
      }
    });
  }

  test('ip6tables loads filter and nat rules', () => {
    const ns = fresh();
    ns.exec('ip6tables-restore', [], '*filter\n-A INPUT -p tcp --dport 80 -j REJECT\nCOMMIT\n*nat\n-A POSTROUTING -s 2001:db8::/64 -j MASQUERADE\nCOMMIT\n');
    const saved = ns.exec('ip6tables-save');
    assert.match(saved, /-A INPUT -p tcp -m tcp --dport 80 -j REJECT/);
    assert.match(saved, /-A POSTROUTING -s 2001:db8::\/64 -j MASQUERADE/);
  });

  test('nft loads a table with sets, nat, conntrack, fib, limit and log', () => {
    const ns = fresh();
    ns.exec('nft', ['-f', '-'], NFT_RULESET);
    const listed = ns.exec('nft', ['list', 'table', 'inet', 'krt-vm']);
    for (const fragment of ['ct state new masquerade', 'fib daddr type local', 'limit rate 5/second', 'log prefix "krt-vm"', '198.18.0.0/24']) {
      assert.ok(listed.includes(fragment), `nft list lacks ${fragment}:\n${listed}`);
    }
  });
});
