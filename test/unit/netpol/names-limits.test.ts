// Every name and comment the planner generates fits the tools' limits for any valid object: the longest
// namespaces (63), pod and policy names (253), label values (63) and named ports (15), on both backends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NetworkPolicy } from 'kubernetes-types/networking/v1.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { config, ns, policy, pod, viewFor, world } from './fixtures.ts';
import { diff } from '../../../src/controllers/netpol/diff.ts';
import { IPV6_SET_PREFIX } from '../../../src/controllers/netpol/model.ts';
import { NAME_LIMITS, podChainName, podJumpComment, policyChainName, RULE_COMMENT_MAX, shortHash } from '../../../src/controllers/netpol/names.ts';
import { plan } from '../../../src/controllers/netpol/plan.ts';
import { renderIpsetRestore } from '../../../src/controllers/netpol/render-ipset.ts';
import { renderIptablesRestore } from '../../../src/controllers/netpol/render-iptables.ts';
import { renderNft } from '../../../src/controllers/netpol/render-nft.ts';

/** xorshift: a failure can be replayed from its seed. */
function rng(seed: number): (n: number) => number {
  let s = seed || 1;
  return (n) => {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    return Math.abs(s) % n;
  };
}

const ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** A DNS label of exactly `len` characters (alphanumeric ends, dashes inside). */
function label(r: (n: number) => number, len: number): string {
  let out = '';
  for (let i = 0; i < len; i++) out += i === 0 || i === len - 1 || r(4) > 0 ? ALNUM[r(ALNUM.length)] : '-';
  return out;
}

/** A DNS subdomain of exactly `len` characters. */
function subdomain(r: (n: number) => number, len: number): string {
  const parts: string[] = [];
  let left = len;
  while (left > 0) {
    const take = left <= 63 ? left : Math.min(63, left - 2);
    parts.push(label(r, take));
    left -= take + 1;
  }
  return parts.join('.');
}

function maximalCluster(seed: number): { pods: Pod[]; policies: NetworkPolicy[]; namespaces: string[] } {
  const r = rng(seed);
  const namespaces = [label(r, 63), label(r, 63)];
  const pods: Pod[] = [];
  const longLabel = label(r, 63);
  for (let i = 0; i < 6; i++) {
    const namespace = namespaces[i % 2] as string;
    // Pods 0/2/4 and 1/3/5 share their first 252 characters: a cut-short name would collide.
    const name = subdomain(rng(seed * 31 + (i % 2)), 252) + ALNUM[i];
    pods.push(pod(namespace, name, {
      ip: `198.18.1.${10 + i}`, ip6: `2001:db8:1::${10 + i}`, node: i < 4 ? 'node-a' : 'node-b',
      labels: { [`${label(r, 63)}.example/${label(r, 63)}`]: longLabel, app: longLabel },
      ports: [{ name: label(r, 15), containerPort: 8000 + i }],
    }));
  }
  const portName = pods[0]?.spec?.containers[0]?.ports?.[0]?.name ?? '';
  const policies = namespaces.flatMap((namespace) => [
    policy(namespace, subdomain(r, 253), { podSelector: { matchLabels: { app: longLabel } }, policyTypes: ['Ingress', 'Egress'],
      ingress: [{ from: [{ podSelector: { matchLabels: { app: longLabel } } }, { ipBlock: { cidr: '198.19.0.0/16', except: ['198.19.9.0/24'] } }],
        ports: [{ port: portName }, { port: 80, endPort: 90 }] }],
      egress: [{ to: [{ namespaceSelector: {} }, { ipBlock: { cidr: '::/0', except: ['2001:db8:ffff::/48'] } }], ports: [{ port: portName, protocol: 'UDP' }] }] }),
    policy(namespace, subdomain(r, 253), { podSelector: {} }),
  ]);
  return { pods, policies, namespaces };
}

const utf8Bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

test('names, set names and comments of objects with maximal names fit nft, iptables and ipset', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const c = maximalCluster(seed);
    const desired = plan(viewFor(world({ pods: c.pods, namespaces: c.namespaces.map((n) => ns(n)), policies: c.policies, config: config({ defaultDeny: true }) })));
    let comments = 0;
    for (const fam of desired.families) {
      for (const chain of fam.chains) assert.ok(chain.name.length <= NAME_LIMITS.iptablesChain, chain.name);
      for (const set of fam.sets) assert.ok(set.name.length <= NAME_LIMITS.ipsetSet, set.name);
      const nft = renderNft(fam);
      for (const m of nft.matchAll(/comment "([^"]*)"/g)) {
        assert.ok(utf8Bytes(m[1] ?? '') <= NAME_LIMITS.nftComment, `seed ${seed}: nft comment ${m[1]}`);
        comments++;
      }
      for (const m of nft.matchAll(/^add (?:set|chain) \S+ \S+ (\S+)/gm)) assert.ok((m[1] ?? '').length <= NAME_LIMITS.nftName);
    }
    for (const ch of diff(desired, {})) {
      const ipt = renderIptablesRestore(ch.iptables);
      for (const m of ipt.matchAll(/--comment ("(?:[^"\\]|\\.)*"|\S+)/g)) {
        assert.ok(utf8Bytes(m[1] ?? '') - 2 <= NAME_LIMITS.iptablesComment, `seed ${seed}: iptables comment ${m[1]}`);
      }
      // Every set ipset is told about, the temporary swap sets included.
      for (const m of renderIpsetRestore({ ...ch.ipset, replace: ch.ipset.create }).matchAll(/^(?:create|swap) (\S+)/gm)) {
        assert.ok((m[1] ?? '').length <= NAME_LIMITS.ipsetSet, m[1]);
      }
    }
    assert.ok(comments >= 8, `seed ${seed}: the local pods' jumps carry comments`);
  }
});

test('pod jump comments keep the readable key when short and never collide when long', () => {
  assert.equal(podJumpComment('shop/api'), 'pod shop/api');
  const r = rng(7);
  const namespace = label(r, 63);
  const seen = new Map<string, string>();
  for (let i = 0; i < 200; i++) {
    const key = `${namespace}/${subdomain(rng(99), 240)}${label(r, 13)}`;
    const comment = podJumpComment(key);
    assert.ok(comment.length <= RULE_COMMENT_MAX, comment);
    assert.ok(comment.startsWith(`pod ${namespace}/`), 'the namespace stays readable');
    assert.equal(seen.get(comment) ?? key, key, `two keys share ${comment}`);
    seen.set(comment, key);
  }
  // Not a valid name, but never a comment the tools would refuse or mangle.
  for (const odd of ['ns/\u00e9\u00e9', 'ns/a"b', 'ns/a\\b']) {
    const comment = podJumpComment(odd);
    assert.match(comment, /^[ -~]+$/);
    assert.doesNotMatch(comment, /["\\]/);
  }
});

test('no label value or selector text goes into a comment: only pod keys and fixed texts do', () => {
  const c = maximalCluster(3);
  const desired = plan(viewFor(world({ pods: c.pods, namespaces: c.namespaces.map((n) => ns(n)), policies: c.policies, config: config() })));
  const labelValues = new Set(c.pods.flatMap((p) => Object.values(p.metadata?.labels ?? {})));
  for (const fam of desired.families) {
    for (const chain of fam.chains) {
      for (const rule of chain.rules) {
        const comment = rule.match.comment;
        if (comment === undefined) continue;
        assert.match(comment, /^pod /);
        for (const v of labelValues) assert.ok(!comment.includes(v), comment);
      }
    }
    assert.ok(fam.sets.every((s) => !s.name.startsWith(IPV6_SET_PREFIX) || fam.family === 'ipv6'));
  }
});

test('names stay what earlier versions wrote (a restart adopts the kernel state by name)', () => {
  assert.equal(policyChainName('default', 'web', 'ipv4', 'ingress'), 'KUBE-NWPLCY-QAPWOXUJQPRL4YC7');
  assert.equal(podChainName('a', 'b'), 'KUBE-POD-FW-YFGN3QBT6ZFZ32UA');
  assert.equal(shortHash('x'), 'FVYRMQVXE2YEIALC');
});
