// Pod egress masquerading (--enable-pod-egress): the ipsets kube-router-pod-subnets (hash:net, every node's pod
// CIDRs) and kube-router-node-ips (hash:ip, every node IP), swapped in atomically with one `ipset restore` that
// names only our sets, and the nat POSTROUTING MASQUERADE rule that uses them (removed when egress is disabled).
import { createHash } from 'node:crypto';
import type { CommandRunner } from './apply-exec.ts';
import { familyOf } from '../../net/cidr.ts';

export const POD_SUBNETS_SET = 'kube-router-pod-subnets';
export const NODE_IPS_SET = 'kube-router-node-ips';

export interface EgressSets {
  podSubnets: string[];
  nodeIps: string[];
}

function setName(base: string, family: 4 | 6): string {
  return family === 4 ? base : `inet6:${base}`;
}

function tmpName(name: string): string {
  // ipset names are at most 31 characters; a hash keeps the temporary name unique per set.
  return `TMP-${createHash('sha256').update(name).digest('hex').slice(0, 16)}`;
}

/** Our temporary set names (a failed restore can leave them behind). */
export function egressTmpSetNames(families: Array<4 | 6>): string[] {
  return families.flatMap((f) => [tmpName(setName(POD_SUBNETS_SET, f)), tmpName(setName(NODE_IPS_SET, f))]);
}

/**
 * The `ipset restore` script: per set, fill a temporary set, swap it with the real one, destroy the temporary.
 * Options match upstream's (timeout 0 included) so sets an upstream kube-router created are taken over as they are.
 */
export function renderEgressIpsets(sets: EgressSets, families: Array<4 | 6>, leftoverTmpSets: string[] = []): string {
  const lines: string[] = leftoverTmpSets.map((name) => `destroy ${name}`);
  for (const family of families) {
    const inet = family === 4 ? 'inet' : 'inet6';
    for (const [base, type, members] of [[POD_SUBNETS_SET, 'hash:net', sets.podSubnets], [NODE_IPS_SET, 'hash:ip', sets.nodeIps]] as const) {
      const name = setName(base, family);
      const tmp = tmpName(name);
      lines.push(`create ${tmp} ${type} family ${inet} hashsize 1024 maxelem 65536 timeout 0 -exist`, `flush ${tmp}`);
      for (const member of [...new Set(members.filter((m) => familyOf(m) === family))].sort()) lines.push(`add ${tmp} ${member}`);
      lines.push(`create ${name} ${type} family ${inet} hashsize 1024 maxelem 65536 timeout 0 -exist`, `swap ${tmp} ${name}`, `destroy ${tmp}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export function masqueradeRule(family: 4 | 6): string[] {
  return [
    '-m', 'set', '--match-set', setName(POD_SUBNETS_SET, family), 'src',
    '-m', 'set', '!', '--match-set', setName(POD_SUBNETS_SET, family), 'dst',
    '-m', 'set', '!', '--match-set', setName(NODE_IPS_SET, family), 'dst',
    '-j', 'MASQUERADE', '--random-fully',
  ];
}

export async function syncEgressIpsets(runner: CommandRunner, sets: EgressSets, families: Array<4 | 6>): Promise<string[]> {
  const names = await runner.run('ipset', ['list', '-n']);
  if (!names.ok) return [names.error];
  const existing = new Set(names.value.split('\n'));
  const leftovers = egressTmpSetNames(families).filter((n) => existing.has(n));
  const r = await runner.run('ipset', ['restore'], renderEgressIpsets(sets, families, leftovers));
  return r.ok ? [] : [r.error];
}

/** --cleanup-config: removes the MASQUERADE rule and destroys our two sets (and leftover temporaries); nothing else. */
export async function cleanupEgress(runner: CommandRunner, families: Array<4 | 6>): Promise<string[]> {
  const errors = await applyEgressRule(runner, false, families);
  const names = await runner.run('ipset', ['list', '-n']);
  if (!names.ok) return [...errors, names.error];
  const existing = new Set(names.value.split('\n'));
  const ours = [...families.flatMap((f) => [setName(POD_SUBNETS_SET, f), setName(NODE_IPS_SET, f)]), ...egressTmpSetNames(families)];
  for (const name of ours.filter((n) => existing.has(n))) {
    const r = await runner.run('ipset', ['destroy', name]);
    if (!r.ok) errors.push(r.error);
  }
  return errors;
}

/** Appends the MASQUERADE rule when missing (enabled) or deletes every copy of it (disabled). */
export async function applyEgressRule(runner: CommandRunner, enabled: boolean, families: Array<4 | 6>): Promise<string[]> {
  const errors: string[] = [];
  for (const family of families) {
    const cmd = family === 4 ? 'iptables' : 'ip6tables';
    const rule = masqueradeRule(family);
    const present = async (): Promise<boolean> => (await runner.status(cmd, ['-w', '-t', 'nat', '-C', 'POSTROUTING', ...rule])) === 0;
    if (enabled) {
      if (await present()) continue;
      const r = await runner.run(cmd, ['-w', '-t', 'nat', '-A', 'POSTROUTING', ...rule]);
      if (!r.ok) errors.push(r.error);
    } else {
      for (let i = 0; i < 10 && (await present()); i++) {
        const r = await runner.run(cmd, ['-w', '-t', 'nat', '-D', 'POSTROUTING', ...rule]);
        if (!r.ok) {
          errors.push(r.error);
          break;
        }
      }
    }
  }
  return errors;
}
