// ProxyState: per-Service plans merged into the node's desired state, with deltas that touch only what changed,
// and a state built by any sequence of updates equal to one built from the final plans.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProxyState } from '../../../src/controllers/proxy/plan-state.ts';
import { planService } from '../../../src/controllers/proxy/plan-service.ts';
import type { ServicePlan } from '../../../src/controllers/proxy/model.ts';
import { CONFIG, NODE, service, slice } from './fixtures.ts';

const plan = (name: string, spec: object, eps: string[] = []) =>
  planService(service(name, spec), eps.length ? [slice(name, 'IPv4', eps.map((ip) => ({ ip })))] : [], NODE, CONFIG);

function snapshot(s: ProxyState): unknown {
  return {
    vs: [...s.virtualServices()].map((v) => JSON.stringify(v)).sort(),
    addresses: s.addresses().sort(),
    hairpin: s.hairpinRules().map((h) => JSON.stringify(h)).sort(),
  };
}

describe('proxy desired state', () => {
  it('an endpoint change re-plans one virtual service and touches nothing else', () => {
    const s = new ProxyState();
    s.set('default/a', plan('a', { clusterIP: '10.96.0.1', clusterIPs: ['10.96.0.1'] }, ['198.18.1.1']));
    s.set('default/b', plan('b', { clusterIP: '10.96.0.2', clusterIPs: ['10.96.0.2'] }, ['198.18.1.2']));
    const d = s.set('default/a', plan('a', { clusterIP: '10.96.0.1', clusterIPs: ['10.96.0.1'] }, ['198.18.1.1', '198.18.1.3']));
    assert.deepEqual(d.upsert.map((v) => v.key), ['TCP/10.96.0.1:80']);
    assert.deepEqual([d.remove, d.addAddresses, d.removeAddresses, d.hairpinChanged], [[], [], [], false]);
    const same = s.set('default/a', plan('a', { clusterIP: '10.96.0.1', clusterIPs: ['10.96.0.1'] }, ['198.18.1.3', '198.18.1.1']));
    assert.deepEqual(same.upsert, [], 'the same endpoints in another order change nothing');
  });

  it('a shared externalIP stays on the dummy link until its last Service is gone', () => {
    const s = new ProxyState();
    const withExt = (name: string, ip: string, port: number) => planService(service(name, { clusterIP: ip, clusterIPs: [ip], externalIPs: ['198.18.10.5'], ports: [{ name: 'http', protocol: 'TCP', port }] }), [], NODE, CONFIG);
    assert.deepEqual(s.set('default/a', withExt('a', '10.96.0.1', 80)).addAddresses.sort(), ['10.96.0.1', '198.18.10.5']);
    assert.deepEqual(s.set('default/b', withExt('b', '10.96.0.2', 443)).addAddresses, ['10.96.0.2']);
    assert.deepEqual(s.set('default/a', undefined).removeAddresses, ['10.96.0.1']);
    const last = s.set('default/b', undefined);
    assert.deepEqual(last.removeAddresses.sort(), ['10.96.0.2', '198.18.10.5']);
    assert.deepEqual(last.remove.sort(), ['TCP/10.96.0.2:443', 'TCP/198.18.10.5:443']);
  });

  it('two Services claiming the same address and port: one owns it, the other is told, and takes over when the first goes', () => {
    const s = new ProxyState();
    const ext = (name: string, ip: string) => planService(service(name, { clusterIP: ip, clusterIPs: [ip], externalIPs: ['198.18.10.5'] }), [slice(name, 'IPv4', [{ ip: ip === '10.96.0.1' ? '198.18.1.1' : '198.18.1.2' }])], NODE, CONFIG);
    s.set('default/b', ext('b', '10.96.0.2'));
    const d = s.set('default/a', ext('a', '10.96.0.1'));
    assert.deepEqual(d.problems, []);
    assert.equal(s.virtualService('TCP/198.18.10.5:80')?.service, 'default/a', 'the smallest key owns it, whatever the order of events');
    assert.deepEqual(d.upsert.map((v) => v.key).sort(), ['TCP/10.96.0.1:80', 'TCP/198.18.10.5:80']);
    const again = s.set('default/b', ext('b', '10.96.0.2'));
    assert.deepEqual(again.problems.map((p) => p.reason), ['VirtualServiceConflict']);
    const gone = s.set('default/a', undefined);
    assert.equal(s.virtualService('TCP/198.18.10.5:80')?.service, 'default/b');
    assert.ok(gone.upsert.some((v) => v.key === 'TCP/198.18.10.5:80' && v.destinations[0]?.address === '198.18.1.2'));
  });

  it('any order of updates ends in the same state as planning the final Services at once', () => {
    const variants: Record<string, ServicePlan[]> = {};
    const ips = ['10.96.0.1', '10.96.0.2', '10.96.0.3'];
    for (const [i, ip] of ips.entries()) {
      const name = `s${i}`;
      variants[`default/${name}`] = [
        plan(name, { clusterIP: ip, clusterIPs: [ip], externalIPs: ['198.18.10.5'] }, ['198.18.1.1']),
        plan(name, { clusterIP: ip, clusterIPs: [ip], externalIPs: ['198.18.10.6'], ports: [{ name: 'http', protocol: 'TCP', port: 80 + i }] }, ['198.18.1.2', '198.18.1.3']),
        plan(name, { clusterIP: ip, clusterIPs: [ip], type: 'NodePort', ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 30000 + i }] }, []),
      ];
    }
    let seed = 7;
    const rand = (n: number) => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
    for (let round = 0; round < 50; round++) {
      const s = new ProxyState();
      const final = new Map<string, ServicePlan | undefined>();
      for (let step = 0; step < 12; step++) {
        const key = Object.keys(variants)[rand(3)]!;
        const choice = rand(4);
        const next = choice === 3 ? undefined : variants[key]![choice];
        s.set(key, next);
        final.set(key, next);
      }
      const fresh = new ProxyState();
      for (const [key, p] of [...final].sort(() => rand(3) - 1)) fresh.set(key, p);
      assert.deepEqual(snapshot(s), snapshot(fresh), `round ${round}`);
    }
  });
});
