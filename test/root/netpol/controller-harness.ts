// Builds netpol controllers over an in-memory cluster and the real kernel of a test namespace, with an exec
// that records every command, plus snapshots of our kernel state for byte-for-byte comparisons.
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { TestNetns } from '../../helpers/netns.ts';
import { config, ns, policy, pod } from '../../unit/netpol/fixtures.ts';
import { FakeCluster } from '../../unit/netpol/fake-cluster.ts';
import { withMessage } from '../../../src/kernel/exec.ts';
import { netpolExec, type NetpolExec } from '../../../src/controllers/netpol/apply-exec.ts';
import { IptablesApplier, iptablesTool, type IptablesMode } from '../../../src/controllers/netpol/apply-iptables.ts';
import { NftApplier } from '../../../src/controllers/netpol/apply-nftables.ts';
import { NetpolController } from '../../../src/controllers/netpol/controller.ts';
import { FAMILIES } from '../../../src/controllers/netpol/model.ts';
import { nftTableName } from '../../../src/controllers/netpol/render-nft.ts';
import { IptablesSync } from '../../../src/controllers/netpol/sync-backends.ts';
import { NftSync } from '../../../src/controllers/netpol/sync-nft.ts';

export type Backend = { kind: 'iptables'; mode: IptablesMode } | { kind: 'nftables'; mode: IptablesMode };

export const backendName = (b: Backend): string => (b.kind === 'iptables' ? `iptables-${b.mode}` : 'nftables');

/** Commands run, for asserting which tools a sync used. */
export function recordingNetnsExec(n: TestNetns): NetpolExec & { commands: string[] } {
  const inner = netpolExec(n.name);
  const commands: string[] = [];
  return {
    commands,
    ...(inner.netfilter ? { netfilter: inner.netfilter } : {}),
    ...(inner.openNetfilter ? { openNetfilter: inner.openNetfilter } : {}),
    resetNetfilter: () => inner.resetNetfilter?.(),
    get count() {
      return inner.count;
    },
    run(cmd, args, options) {
      commands.push(`${cmd} ${args.join(' ')}`);
      return inner.run(cmd, args, options);
    },
  };
}

export function shopCluster(): FakeCluster {
  const c = new FakeCluster(config({ defaultDeny: true }));
  c.put(ns('shop'), 'Namespace');
  c.put(pod('shop', 'api', { ip: '198.18.1.10', ip6: '2001:db8:1::10', labels: { app: 'api' }, ports: [{ name: 'http', containerPort: 8080 }] }), 'Pod');
  c.put(pod('shop', 'ui', { ip: '198.18.1.11', ip6: '2001:db8:1::11', labels: { app: 'ui' } }), 'Pod');
  c.put(pod('shop', 'far', { ip: '198.18.2.11', ip6: '2001:db8:2::11', node: 'node-b', labels: { app: 'other' } }), 'Pod');
  c.put(policy('shop', 'api-in', { podSelector: { matchLabels: { app: 'api' } }, policyTypes: ['Ingress', 'Egress'],
    ingress: [{ from: [{ podSelector: { matchLabels: { app: 'ui' } } }, { ipBlock: { cidr: '198.19.0.0/16', except: ['198.19.9.0/24'] } }],
      ports: [{ port: 'http' }, { protocol: 'SCTP', port: 9 }] }],
    egress: [{ to: [{ ipBlock: { cidr: '::/0', except: ['2001:db8:ffff::/48'] } }, { ipBlock: { cidr: '0.0.0.0/0' } }] }] }), 'NetworkPolicy');
  return c;
}

export function newController(n: TestNetns, c: FakeCluster, b: Backend, opts: { exec?: NetpolExec; rejectPod?: (pod: Pod, message: string) => void } = {}) {
  const exec = recordingNetnsExec(n);
  const ipt = new IptablesApplier(opts.exec ?? exec, b.mode);
  const nft = new NftApplier(opts.exec ?? exec);
  const backend = b.kind === 'iptables' ? new IptablesSync(ipt) : new NftSync(nft);
  const removeOtherBackend = b.kind === 'iptables' ? async () => withMessage(await nft.removeAll(FAMILIES)) : () => ipt.removeAll(FAMILIES);
  const controller = new NetpolController({ source: c, backend, removeOtherBackend, syncPeriodMs: 60_000, reject: () => undefined,
    ...(opts.rejectPod ? { rejectPod: opts.rejectPod } : {}) });
  return { controller, exec };
}

/** Our iptables state of both families and every ipset, without timestamps or counters. */
export function iptablesSnapshot(n: TestNetns, mode: IptablesMode): string {
  const parts = FAMILIES.map((f) => n.exec(iptablesTool(mode, f, 'save'), ['-t', 'filter'])
    .split('\n').filter((l) => !l.startsWith('#')).map((l) => l.replace(/ \[\d+:\d+\]$/, '')).join('\n'));
  const sets = n.exec('ipset', ['save']).split('\n').map((l) => l.replace(/ initval 0x[0-9a-f]+/, '')).sort().join('\n');
  return [...parts, sets].join('\n---\n');
}

/**
 * Our nft tables, family by family, with their sets and chains sorted by name: the listing follows creation
 * order, which differs between a delta transaction and a full render of the same content.
 */
export function nftSnapshot(n: TestNetns): string {
  return FAMILIES.map((f) => {
    const blocks: string[][] = [];
    for (const line of n.exec('nft', ['list', 'table', f === 'ipv4' ? 'ip' : 'ip6', nftTableName(f)]).split('\n')) {
      if (/^\t(set|chain) /.test(line) || blocks.length === 0) blocks.push([]);
      if (line.trim() !== '' && line !== '}') blocks[blocks.length - 1]?.push(line);
    }
    const [head, ...rest] = blocks;
    return [...(head ?? []), ...rest.map((b) => b.join('\n')).sort()].join('\n');
  }).join('\n');
}

/** Commands that write to the kernel. */
export const writes = (commands: readonly string[]): string[] =>
  commands.filter((c) => /-restore |^nft -f|^ipset -exist restore/.test(c));
