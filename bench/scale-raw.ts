// The raw-tools baseline of bench:scale: the daemon's own kernel state, read back from its namespace (`ipset save`
// and `iptables-save` of the KUBE-* sets, chains and rules, or `nft list table` of our nftables tables), written
// into a fresh namespace by `ipset restore` and `iptables-restore --noflush` (or `nft -f`), timed. The ratio
// daemon/raw says what the daemon adds over writing that state.
import { spawnSync } from 'node:child_process';
import { TestNetns } from '../test/helpers/netns.ts';

export interface RawReplay { ipsetRestoreS: number; iptablesRestoreS: number; nftS: number; totalS: number }

function timed(netns: string, argv: string[], input: string): number {
  const t = performance.now();
  const r = spawnSync('ip', ['netns', 'exec', netns, ...argv], { input, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} in ${netns} failed (${r.status}): ${(r.stderr || r.stdout).slice(0, 400)}`);
  return (performance.now() - t) / 1000;
}

export function rawReplay(ipsetSave: string, iptablesSave: string, nftSave = ''): RawReplay {
  const ns = new TestNetns('krs-raw');
  try {
    const ipsetRestoreS = ipsetSave.trim() ? timed(ns.name, ['ipset', 'restore'], ipsetSave) : 0;
    const iptablesRestoreS = iptablesSave.trim() ? timed(ns.name, ['iptables-restore', '--noflush'], iptablesSave) : 0;
    // The nftables backend's tables as listed, in one `nft -f` (what its full sync writes: one transaction).
    const nftS = nftSave.trim() ? timed(ns.name, ['nft', '-f', '-'], nftSave) : 0;
    return { ipsetRestoreS, iptablesRestoreS, nftS, totalS: ipsetRestoreS + iptablesRestoreS + nftS };
  } finally {
    ns.delete();
  }
}
