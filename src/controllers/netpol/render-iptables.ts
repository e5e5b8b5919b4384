// Renders planned rules as iptables arguments and a set of chain changes as one `iptables-restore --noflush`
// transaction that touches only chains this controller owns (plus its own jumps in INPUT/FORWARD/OUTPUT).
import { inChunks } from '../../kernel/exec.ts';
import type { Family, Rule, RuleAction } from './model.ts';

const hex = (n: number): string => `0x${n.toString(16)}`;

/** Quotes an argument the way iptables-save does when it contains spaces or quotes. */
function quote(text: string): string {
  return /[\s"\\]/.test(text) ? `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : text;
}

function actionArgs(action: RuleAction, family: Family): string[] {
  switch (action.kind) {
    case 'jump': return ['-j', action.chain];
    case 'accept': return ['-j', 'ACCEPT'];
    case 'drop': return ['-j', 'DROP'];
    case 'return': return ['-j', 'RETURN'];
    case 'reject': return ['-j', 'REJECT', '--reject-with', family === 'ipv4' ? 'icmp-port-unreachable' : 'icmp6-port-unreachable'];
    case 'mark': return ['-j', 'MARK', '--set-xmark', `${hex(action.value)}/${hex(action.mask)}`];
    case 'nflog': return ['-j', 'NFLOG', '--nflog-group', String(action.group)];
  }
}

/** The rule's arguments after `-A CHAIN`, in iptables-save's canonical order. */
export function ruleArgs(rule: Rule, family: Family): string {
  const m = rule.match;
  const out: string[] = [];
  if (m.src !== undefined) out.push('-s', m.src);
  if (m.dst !== undefined) out.push('-d', m.dst);
  if (m.proto !== undefined) out.push('-p', m.proto === 'icmpv6' ? 'ipv6-icmp' : m.proto);
  for (const s of m.sets ?? []) out.push('-m', 'set', ...(s.negate ? ['!'] : []), '--match-set', s.set, s.dir);
  if (m.dport !== undefined && m.proto !== undefined) {
    out.push('-m', m.proto, '--dport', m.dport.from === m.dport.to ? String(m.dport.from) : `${m.dport.from}:${m.dport.to}`);
  }
  if (m.icmpType !== undefined) {
    out.push(...(family === 'ipv4' ? ['-m', 'icmp', '--icmp-type'] : ['-m', 'icmp6', '--icmpv6-type']), String(m.icmpType));
  }
  if (m.srcTypeLocal) out.push('-m', 'addrtype', '--src-type', 'LOCAL');
  if (m.dstTypeLocal) out.push('-m', 'addrtype', '--dst-type', 'LOCAL');
  if (m.ctstate !== undefined) out.push('-m', 'conntrack', '--ctstate', m.ctstate);
  if (m.mark !== undefined) out.push('-m', 'mark', ...(m.mark.negate ? ['!'] : []), '--mark', `${hex(m.mark.value)}/${hex(m.mark.mask)}`);
  if (m.limit !== undefined) out.push('-m', 'limit', '--limit', `${m.limit.perMinute}/min`, '--limit-burst', String(m.limit.burst));
  if (m.comment !== undefined) out.push('-m', 'comment', '--comment', quote(m.comment));
  out.push(...actionArgs(rule.action, family));
  return out.join(' ');
}

/** What one iptables-restore transaction must do for one family. */
export interface IptablesChanges {
  family: Family;
  /** Chains to (re)create with exactly these rules: flushed, then refilled. */
  refill: { name: string; rules: Rule[]; exists: boolean }[];
  /** Builtin-chain rules of ours to delete, by their exact argument text (one line per copy). */
  deleteBuiltin: { builtin: string; args: string }[];
  /** Builtin jumps to insert at position 1. */
  insertBuiltin: { builtin: string; rule: Rule }[];
  /** Stale chains of ours: flushed and deleted after every reference to them is gone. */
  remove: string[];
}

export function isEmptyChange(c: IptablesChanges): boolean {
  return c.refill.length === 0 && c.deleteBuiltin.length === 0 && c.insertBuiltin.length === 0 && c.remove.length === 0;
}

/**
 * One `iptables-restore --noflush` (or ip6tables-restore) input. Declaring a chain flushes it, so only the
 * chains being rewritten or removed are declared; everything else in the table is left as it is.
 */
export function renderIptablesRestore(c: IptablesChanges): string {
  return [...inChunks(iptablesRestoreLines(c))].join('');
}

/**
 * The same input line by line, produced lazily (a rule's text only when the tool is ready for it). `opened`:
 * the transaction's start (and some chains) went to the tool already (stream-rules.ts).
 */
export function* iptablesRestoreLines(c: IptablesChanges, opened = false): Generator<string> {
  if (!opened) yield '*filter';
  for (const chain of c.refill) yield `:${chain.name} - [0:0]`;
  for (const name of c.remove) yield `:${name} - [0:0]`;
  for (const chain of c.refill) if (chain.exists) yield `-F ${chain.name}`;
  for (const d of c.deleteBuiltin) yield `-D ${d.builtin} ${d.args}`;
  for (const chain of c.refill) for (const rule of chain.rules) yield `-A ${chain.name} ${ruleArgs(rule, c.family)}`;
  for (const ins of c.insertBuiltin) yield `-I ${ins.builtin} 1 ${ruleArgs(ins.rule, c.family)}`;
  for (const name of c.remove) yield `-X ${name}`;
  yield 'COMMIT';
}

/** One chain rewritten whole within a transaction: declared, flushed when it exists, refilled. */
export function chainRefillLines(chain: IptablesChanges['refill'][number], family: Family): string[] {
  const lines = [`:${chain.name} - [0:0]`];
  if (chain.exists) lines.push(`-F ${chain.name}`);
  for (const rule of chain.rules) lines.push(`-A ${chain.name} ${ruleArgs(rule, family)}`);
  return lines;
}
