// Parses `iptables-save -t filter` output into what the diff needs: our chains with their rules as structured
// data, and the rules in INPUT/FORWARD/OUTPUT that jump to our chains. Everything else is ignored.
import { formatCidr } from '../../net/cidr.ts';
import { parseNetMember } from './addresses.ts';
import { isOwnedChain, type BuiltinChain, type Rule, type RuleMatch } from './model.ts';

export interface ObservedBuiltinJump {
  builtin: BuiltinChain;
  target: string;
  /** Exact argument text after `-A BUILTIN`, usable with `-D BUILTIN <args>`. */
  args: string;
  /** null when the rule has options we do not generate. */
  rule: Rule | null;
  /** 0-based position among all rules of the builtin chain (ours must be first: nothing may accept before us). */
  position: number;
}

export interface ObservedIptables {
  /** Our chains; a null rule marks a rule we could not read (the chain is then rewritten). */
  chains: Map<string, (Rule | null)[]>;
  builtinJumps: ObservedBuiltinJump[];
}

/** Splits an iptables-save argument list, honouring double quotes and backslash escapes. */
export function tokenize(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < line.length) {
    if (line[i] === ' ') { i++; continue; }
    let tok = '';
    if (line[i] === '"') {
      i++;
      while (i < line.length && line[i] !== '"') {
        if (line[i] === '\\' && i + 1 < line.length) i++;
        tok += line[i++];
      }
      i++;
    } else {
      while (i < line.length && line[i] !== ' ') tok += line[i++];
    }
    out.push(tok);
  }
  return out;
}

const cidrText = (t: string | undefined): string | undefined => {
  if (t === undefined) return undefined;
  const p = parseNetMember(t);
  return p.ok ? formatCidr(p.value) : undefined;
};

const num = (t: string | undefined): number | undefined => (t !== undefined && /^(0x[0-9a-f]+|\d+)$/i.test(t) ? Number(t) : undefined);

function pair(t: string | undefined): { value: number; mask: number } | undefined {
  const [v, m] = (t ?? '').split('/');
  const value = num(v);
  const mask = m === undefined ? 0xffffffff : num(m);
  return value === undefined || mask === undefined ? undefined : { value, mask };
}

/** Reads the arguments of one rule into the structured form, or null if it uses anything we never write. */
export function parseRuleArgs(tokens: string[]): Rule | null {
  const match: RuleMatch = {};
  let action: Rule['action'] | undefined;
  let negate = false;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    const next = (): string | undefined => tokens[++i];
    if (t === '!') { negate = true; continue; }
    const neg = negate;
    negate = false;
    switch (t) {
      case '-s': case '-d': {
        const c = cidrText(next());
        if (neg || c === undefined) return null;
        if (t === '-s') match.src = c; else match.dst = c;
        break;
      }
      case '-p': {
        const p = next();
        if (neg) return null;
        if (p === 'tcp' || p === 'udp' || p === 'sctp' || p === 'icmp') match.proto = p;
        else if (p === 'ipv6-icmp' || p === 'icmpv6') match.proto = 'icmpv6';
        else return null;
        break;
      }
      case '-m': next(); break;
      case '--match-set': {
        const set = next();
        const dir = next();
        if (set === undefined || (dir !== 'src' && dir !== 'dst')) return null;
        (match.sets ??= []).push(neg ? { set, dir, negate: true } : { set, dir });
        break;
      }
      case '--dport': {
        const [a, b] = (next() ?? '').split(':');
        const from = num(a);
        const to = b === undefined ? from : num(b);
        if (neg || from === undefined || to === undefined) return null;
        match.dport = { from, to };
        break;
      }
      case '--icmp-type': case '--icmpv6-type': {
        const n = num(next());
        if (neg || n === undefined) return null;
        match.icmpType = n;
        break;
      }
      case '--src-type': case '--dst-type':
        if (neg || next() !== 'LOCAL') return null;
        if (t === '--src-type') match.srcTypeLocal = true; else match.dstTypeLocal = true;
        break;
      case '--ctstate': {
        const s = next();
        if (neg || (s !== 'INVALID' && s !== 'RELATED,ESTABLISHED')) return null;
        match.ctstate = s;
        break;
      }
      case '--mark': {
        const p = pair(next());
        if (!p) return null;
        match.mark = neg ? { ...p, negate: true } : p;
        break;
      }
      case '--limit': {
        const m = /^(\d+)\/min$/.exec(next() ?? '');
        if (!m) return null;
        match.limit = { perMinute: Number(m[1]), burst: match.limit?.burst ?? 5 };
        break;
      }
      case '--limit-burst': {
        const b = num(next());
        if (b === undefined || !match.limit) return null;
        match.limit.burst = b;
        break;
      }
      case '--comment': {
        const c = next();
        if (c === undefined) return null;
        match.comment = c;
        break;
      }
      case '-j': {
        const target = next() ?? '';
        if (target === 'ACCEPT') action = { kind: 'accept' };
        else if (target === 'DROP') action = { kind: 'drop' };
        else if (target === 'RETURN') action = { kind: 'return' };
        else if (target === 'REJECT') action = { kind: 'reject' };
        else if (target === 'MARK') action = { kind: 'mark', value: 0, mask: 0 };
        else if (target === 'NFLOG') action = { kind: 'nflog', group: 0 };
        else if (/^[A-Z][-A-Z0-9]*$/.test(target)) action = { kind: 'jump', chain: target };
        else return null;
        break;
      }
      case '--reject-with': {
        const w = next();
        if (action?.kind !== 'reject' || (w !== 'icmp-port-unreachable' && w !== 'icmp6-port-unreachable')) return null;
        break;
      }
      case '--set-xmark': {
        const p = pair(next());
        if (action?.kind !== 'mark' || !p) return null;
        action = { kind: 'mark', ...p };
        break;
      }
      case '--nflog-group': {
        const g = num(next());
        if (action?.kind !== 'nflog' || g === undefined) return null;
        action = { kind: 'nflog', group: g };
        break;
      }
      default:
        return null;
    }
  }
  return action ? { match, action } : null;
}

export function parseIptablesSave(text: string): ObservedIptables {
  const chains = new Map<string, (Rule | null)[]>();
  const builtinJumps: ObservedBuiltinJump[] = [];
  const builtinRuleCount = new Map<string, number>();
  let inFilter = false;
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (line.startsWith('*')) { inFilter = line === '*filter'; continue; }
    if (!inFilter || line === '' || line.startsWith('#') || line === 'COMMIT') continue;
    if (line.startsWith(':')) {
      const name = line.slice(1).split(' ')[0] ?? '';
      if (isOwnedChain(name) && !chains.has(name)) chains.set(name, []);
      continue;
    }
    const m = /^-A (\S+) (.*)$/.exec(line);
    if (!m) continue;
    const chain = m[1] as string;
    const args = m[2] as string;
    const tokens = tokenize(args);
    if (isOwnedChain(chain)) {
      (chains.get(chain) ?? chains.set(chain, []).get(chain))?.push(parseRuleArgs(tokens));
    } else if (chain === 'INPUT' || chain === 'FORWARD' || chain === 'OUTPUT') {
      const position = builtinRuleCount.get(chain) ?? 0;
      builtinRuleCount.set(chain, position + 1);
      const j = tokens.indexOf('-j');
      const target = j >= 0 ? tokens[j + 1] : undefined;
      if (target !== undefined && isOwnedChain(target)) {
        builtinJumps.push({ builtin: chain, target, args, rule: parseRuleArgs(tokens), position });
      }
    }
  }
  return { chains, builtinJumps };
}
