// Pod egress masquerading (--enable-pod-egress): the ipsets kube-router-pod-subnets (hash:net, every node's pod
// CIDRs) and kube-router-node-ips (hash:ip, every node IP), swapped in atomically with one `ipset restore` that
// names only our sets, and the nat POSTROUTING MASQUERADE rule that uses them (removed when egress is disabled).
import type { Exec } from '../../kernel/exec.ts';
import { iptablesRestore, ruleExists, type RuleArgs } from '../../kernel/iptables.ts';
import { familySetName, ipsetRestore, renderIpsetScript, type IpsetOp, type IpsetSpec } from '../../kernel/ipset.ts';
import { familyOf } from '../../net/cidr.ts';

export const POD_SUBNETS_SET = 'kube-router-pod-subnets';
export const NODE_IPS_SET = 'kube-router-node-ips';

export interface EgressSets {
  podSubnets: string[];
  nodeIps: string[];
}

// Options as upstream's (timeout 0 included), so sets an upstream kube-router created are taken over as they are.
const SET_OPTIONS = ['hashsize', '1024', 'maxelem', '65536', 'timeout', '0'];

function egressSetSpecs(family: 4 | 6): [IpsetSpec, (sets: EgressSets) => string[]][] {
  return [
    [{ name: familySetName(POD_SUBNETS_SET, family), type: 'hash:net', family, options: SET_OPTIONS }, (s) => s.podSubnets],
    [{ name: familySetName(NODE_IPS_SET, family), type: 'hash:ip', family, options: SET_OPTIONS }, (s) => s.nodeIps],
  ];
}

/** Per set: created when missing, then its content replaced whole (through a temporary set and swap). */
export function egressIpsetOps(sets: EgressSets, families: Array<4 | 6>): IpsetOp[] {
  const ops: IpsetOp[] = [];
  for (const family of families) {
    for (const [spec, membersOf] of egressSetSpecs(family)) {
      const members = [...new Set(membersOf(sets).filter((m) => familyOf(m) === family))].sort();
      ops.push({ op: 'create', set: spec }, { op: 'replace', set: spec, members: members.map((entry) => ({ entry })) });
    }
  }
  return ops;
}

/** The `ipset restore` script of egressIpsetOps. */
export const renderEgressIpsets = (sets: EgressSets, families: Array<4 | 6>): string => renderIpsetScript(egressIpsetOps(sets, families));

export function masqueradeRule(family: 4 | 6): RuleArgs {
  return [
    '-m', 'set', '--match-set', familySetName(POD_SUBNETS_SET, family), 'src',
    '-m', 'set', '!', '--match-set', familySetName(POD_SUBNETS_SET, family), 'dst',
    '-m', 'set', '!', '--match-set', familySetName(NODE_IPS_SET, family), 'dst',
    '-j', 'MASQUERADE', '--random-fully',
  ];
}

export async function syncEgressIpsets(exec: Exec, sets: EgressSets, families: Array<4 | 6>): Promise<string[]> {
  const r = await ipsetRestore(exec, egressIpsetOps(sets, families));
  return r.ok ? [] : [r.error.message];
}

/** --cleanup-config: removes the MASQUERADE rule and destroys our two sets (and leftover temporaries); nothing else. */
export async function cleanupEgress(exec: Exec, families: Array<4 | 6>): Promise<string[]> {
  const errors = await applyEgressRule(exec, false, families);
  const ours = families.flatMap((f) => egressSetSpecs(f).map(([spec]): IpsetOp => ({ op: 'destroy', set: spec.name })));
  const r = await ipsetRestore(exec, ours);
  return r.ok ? errors : [...errors, r.error.message];
}

/** Appends the MASQUERADE rule when missing (enabled) or deletes every copy of it (disabled). */
export async function applyEgressRule(exec: Exec, enabled: boolean, families: Array<4 | 6>): Promise<string[]> {
  const errors: string[] = [];
  for (const family of families) {
    const rule = masqueradeRule(family);
    const target = { family };
    // Another tool may have added copies: delete until none is left (bounded, in case deleting keeps failing).
    for (let i = 0; i < (enabled ? 1 : 10); i++) {
      const present = await ruleExists(exec, target, 'nat', 'POSTROUTING', rule);
      if (!present.ok) {
        errors.push(present.error.message);
        break;
      }
      if (present.value === enabled) break;
      const edit = enabled ? { append: [{ chain: 'POSTROUTING', rule }] } : { delete: [{ chain: 'POSTROUTING', rule }] };
      const r = await iptablesRestore(exec, target, [{ table: 'nat', ...edit }]);
      if (!r.ok) {
        errors.push(r.error.message);
        break;
      }
    }
  }
  return errors;
}
