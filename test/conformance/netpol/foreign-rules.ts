// Another tool's firewall state in a node: an iptables chain with a jump from FORWARD and a rule using an
// ipset of its own, plus an nftables table with a base chain and a set. Installed once, then read back after
// every kube-router sync to prove the daemon leaves what it does not own alone.
import { execIn } from '../../../lab/netns/exec.ts';

export const FOREIGN_CHAIN = 'OTHER-TOOL-FWD';
export const FOREIGN_IPSET = 'other-tool-blocked';
export const FOREIGN_TABLE = 'other_tool';
// an underlay address no lab node uses: the rules never match lab traffic
const BLOCKED = '198.51.100.250';

async function must(netns: string, argv: string[], input?: string): Promise<string> {
  const r = await execIn(netns, argv, input === undefined ? {} : { input });
  if (r.code !== 0) throw new Error(`${argv.join(' ')} in ${netns} failed: ${r.stderr.trim()}`);
  return r.stdout;
}

export async function installForeignRules(netns: string): Promise<void> {
  await must(netns, ['ipset', 'create', FOREIGN_IPSET, 'hash:ip']);
  await must(netns, ['ipset', 'add', FOREIGN_IPSET, BLOCKED]);
  await must(netns, ['iptables', '-w', '-N', FOREIGN_CHAIN]);
  await must(netns, ['iptables', '-w', '-A', FOREIGN_CHAIN, '-m', 'set', '--match-set', FOREIGN_IPSET, 'src', '-j', 'DROP']);
  await must(netns, ['iptables', '-w', '-A', FOREIGN_CHAIN, '-s', `${BLOCKED}/32`, '-p', 'tcp', '--dport', '9', '-j', 'REJECT']);
  // at the top of FORWARD, as tools that want to filter first do (kube-router's jump is pushed to position 2)
  await must(netns, ['iptables', '-w', '-I', 'FORWARD', '1', '-m', 'comment', '--comment', 'other tool', '-j', FOREIGN_CHAIN]);
  await must(netns, ['nft', '-f', '-'], [
    `table inet ${FOREIGN_TABLE} {`,
    `  set blocked { type ipv4_addr; elements = { ${BLOCKED} } }`,
    '  chain forward { type filter hook forward priority 10; policy accept; ip saddr @blocked drop; }',
    '}',
  ].join('\n') + '\n');
}

/** The first rule of a builtin chain (`iptables -S` form). */
export async function firstRule(netns: string, chain: string): Promise<string> {
  return (await must(netns, ['iptables', '-w', '-S', chain])).split('\n').find((l) => l.startsWith(`-A ${chain} `)) ?? '';
}

/** What the other tool owns, as text that must not change across syncs. */
export async function foreignSnapshot(netns: string): Promise<string> {
  const save = await must(netns, ['iptables-save', '-t', 'filter']);
  const iptablesLines = save.split('\n').filter((l) => l.includes(FOREIGN_CHAIN)).map((l) => l.replace(/\[\d+:\d+\]/, ''));
  const ipset = (await must(netns, ['ipset', 'list', FOREIGN_IPSET])).split('\n').filter((l) => !/^(References|Size in memory):/.test(l));
  const nft = await must(netns, ['nft', 'list', 'table', 'inet', FOREIGN_TABLE]);
  return ['# iptables', ...iptablesLines, '# ipset', ...ipset, '# nft', nft.trim()].join('\n');
}
