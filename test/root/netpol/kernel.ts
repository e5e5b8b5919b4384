// Test-side stand-in for the future apply code: observes our iptables/ipset state in a namespace and
// applies diff output in the production order (sets, one iptables transaction per family, stale sets).
import type { TestNetns } from '../../helpers/netns.ts';
import type { FamilyChanges } from '../../../src/controllers/netpol/diff.ts';
import type { Family } from '../../../src/controllers/netpol/model.ts';
import { parseIpsetSave } from '../../../src/controllers/netpol/parse-ipset-save.ts';
import { parseIptablesSave } from '../../../src/controllers/netpol/parse-iptables-save.ts';
import { isEmptyChange, renderIptablesRestore } from '../../../src/controllers/netpol/render-iptables.ts';
import { renderIpsetDestroy, renderIpsetRestore } from '../../../src/controllers/netpol/render-ipset.ts';

export type Backend = 'nft' | 'legacy';
export const tool = (backend: Backend, family: Family, verb: 'save' | 'restore'): string =>
  `${family === 'ipv4' ? 'iptables' : 'ip6tables'}${backend === 'legacy' ? '-legacy' : ''}-${verb}`;

export function observe(n: TestNetns, backend: Backend, family: Family) {
  return {
    iptables: parseIptablesSave(n.exec(tool(backend, family, 'save'), ['-t', 'filter'])),
    sets: parseIpsetSave(n.exec('ipset', ['save'])),
  };
}

export function observeAll(n: TestNetns, backend: Backend) {
  return { ipv4: observe(n, backend, 'ipv4'), ipv6: observe(n, backend, 'ipv6') };
}

/** The apply order: sets first, then one iptables transaction per family, then stale sets. */
export function apply(n: TestNetns, backend: Backend, changes: FamilyChanges[]): void {
  for (const c of changes) {
    const text = renderIpsetRestore(c.ipset);
    if (text) n.exec('ipset', ['-exist', 'restore'], text);
  }
  for (const c of changes) {
    if (!isEmptyChange(c.iptables)) n.exec(tool(backend, c.family, 'restore'), ['--noflush'], renderIptablesRestore(c.iptables));
  }
  for (const c of changes) {
    const text = renderIpsetDestroy(c.ipset);
    if (text) n.exec('ipset', ['-exist', 'restore'], text);
  }
}
