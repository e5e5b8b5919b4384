// Stable names for the chains and ipsets the planner creates: prefix + first 16 base32 characters of a
// SHA-256 over a key. Keys hold no sync version, so a name changes only when the object it stands for does.
import { hash } from 'node:crypto';
import {
  IPV6_SET_PREFIX, LOCAL_PODS_SET, POD_CHAIN_PREFIX, POLICY_CHAIN_PREFIX, type Family,
} from './model.ts';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32[(buffer << (5 - bits)) & 31];
  return out;
}

// Every plan asks for the same few thousand names again; hashing them once is enough.
const hashes = new Map<string, string>();
const HASH_MEMO_LIMIT = 200_000;

/** First 16 base32 characters of sha256(key). */
export function shortHash(key: string): string {
  let h = hashes.get(key);
  if (h === undefined) {
    // 16 base32 characters are exactly the digest's first 10 bytes; the one-shot hash makes no Hash object
    // (a 50k-pod first sync names a few thousand sets and chains: ~40 ms with createHash, a third of it so).
    h = base32(hash('sha256', key, 'buffer').subarray(0, 10));
    if (hashes.size >= HASH_MEMO_LIMIT) hashes.clear();
    hashes.set(key, h);
  }
  return h;
}

/** Upstream spells the family this way inside hash keys. */
const familyKey = (family: Family): string => (family === 'ipv4' ? 'IPv4' : 'IPv6');

// Parts are joined with "/", which neither a namespace nor an object name may contain, so two different
// (namespace, name) pairs never produce the same key (plain concatenation would: "a"+"bc" = "ab"+"c").
const key = (...parts: (string | number)[]): string => parts.join('/');

export function policyChainName(namespace: string, name: string, family: Family, direction: 'ingress' | 'egress'): string {
  return POLICY_CHAIN_PREFIX + shortHash(key(namespace, name, familyKey(family), direction));
}

export function podChainName(namespace: string, name: string): string {
  return POD_CHAIN_PREFIX + shortHash(key(namespace, name));
}

function setName(prefix: 'KUBE-SRC-' | 'KUBE-DST-', family: Family, hashKey: string): string {
  const base = prefix + shortHash(hashKey);
  return family === 'ipv6' ? IPV6_SET_PREFIX + base : base;
}

// Policy sets are named by what decides their members (a "definition"), not by the policy and rule that use
// them: every rule with the same definition shares one set, and since equal definitions always have equal
// members, a shared set never has to split when pods change. The kind tag keeps kinds apart.

/** Local pods selected by a pod selector in a namespace: DST for ingress (matched on destination), SRC for egress. */
export function targetSetName(definition: string, family: Family, direction: 'ingress' | 'egress'): string {
  return setName(direction === 'ingress' ? 'KUBE-DST-' : 'KUBE-SRC-', family, key('target', definition, familyKey(family)));
}

/** Pods selected by a rule's selector peers (SRC for ingress, DST for egress). */
export function peerPodSetName(definition: string, family: Family, direction: 'ingress' | 'egress'): string {
  return setName(direction === 'ingress' ? 'KUBE-SRC-' : 'KUBE-DST-', family, key('pods', definition, familyKey(family)));
}

/** One ipBlock peer (cidr plus nomatch excepts): its definition is its content. */
export function ipBlockSetName(definition: string, family: Family, direction: 'ingress' | 'egress'): string {
  return setName(direction === 'ingress' ? 'KUBE-SRC-' : 'KUBE-DST-', family, key('ipblock', definition, familyKey(family)));
}

/** Destination pods among a candidate definition on which a named port resolves to `portNumber`. */
export function namedPortSetName(definition: string, family: Family, portNumber: number): string {
  return setName('KUBE-DST-', family, key('namedport', definition, familyKey(family), portNumber));
}

export function localPodsSetName(family: Family): string {
  return family === 'ipv6' ? IPV6_SET_PREFIX + LOCAL_PODS_SET : LOCAL_PODS_SET;
}

/**
 * The tools' limits on what we generate (bytes): nft keeps at most 128 bytes of a rule comment (nft 1.0 refuses
 * longer ones, failing the whole transaction); iptables' comment match holds 255 (longer ones are cut short,
 * so the rule never reads back as written); iptables chain names 28, ipset set names 31 (IPSET_MAXNAMELEN
 * 32 with the NUL). nft chain and set names may be 255 (NFT_NAME_MAXLEN 256).
 */
export const NAME_LIMITS = { nftComment: 128, iptablesComment: 255, iptablesChain: 28, ipsetSet: 31, nftName: 255 } as const;

/**
 * Longest comment the planner puts on a rule: the nft renderer appends ` #<12-character fingerprint>`, and
 * the total must stay within NAME_LIMITS.nftComment.
 */
export const RULE_COMMENT_MAX = 100;

// Printable ASCII except the quote and backslash (the renderers quote comments); one byte per character.
const UNSAFE_IN_COMMENT = /[^ -~]|["\\]/;
const UNSAFE_IN_COMMENT_ALL = new RegExp(UNSAFE_IN_COMMENT.source, 'g');

/**
 * Comment on the jumps from the top chains to a pod's firewall chain: `pod <namespace>/<name>` when that fits
 * RULE_COMMENT_MAX, else as much of it as fits followed by `~` and a hash of the whole key, so two long names
 * with the same beginning never share a comment. Names of valid objects are ASCII; anything else is hashed.
 */
export function podJumpComment(podKey: string): string {
  const full = `pod ${podKey}`;
  if (full.length <= RULE_COMMENT_MAX && !UNSAFE_IN_COMMENT.test(full)) return full;
  const hash = `~${shortHash(podKey)}`;
  return full.replace(UNSAFE_IN_COMMENT_ALL, '?').slice(0, RULE_COMMENT_MAX - hash.length) + hash;
}

/** The jump comment of a quarantined pod: nothing of the object but a hash of its key (see plan-state.ts). */
export function rejectedPodJumpComment(podKey: string): string {
  return `pod rejected ~${shortHash(podKey)}`;
}

/** Comment on the builtin-chain jump; part of the rule's identity, so it must never change. */
export function builtinJumpComment(builtin: string, target: string): string {
  return `kube-router netpol - ${shortHash(builtin + target)}`;
}
