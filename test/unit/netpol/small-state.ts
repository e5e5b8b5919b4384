// A small fixed cluster (two pods, one two-way policy with named port, ipBlock excepts and ::/0) planned
// for node-a with default-deny on: the input of the golden, round-trip and diff tests.
import { config, ns, policy, pod, viewFor, world } from './fixtures.ts';
import { plan } from '../../../src/controllers/netpol/plan.ts';
import type { DesiredState } from '../../../src/controllers/netpol/model.ts';

export function smallState(): DesiredState {
  const pods = [
    pod('shop', 'api', { ip: '198.18.1.10', ip6: '2001:db8:1::10', labels: { app: 'api' }, ports: [{ name: 'http', containerPort: 8080 }] }),
    pod('shop', 'ui', { ip: '198.18.1.11', ip6: '2001:db8:1::11', labels: { app: 'ui' } }),
  ];
  const policies = [policy('shop', 'api-in', { podSelector: { matchLabels: { app: 'api' } }, policyTypes: ['Ingress', 'Egress'],
    ingress: [{ from: [{ podSelector: { matchLabels: { app: 'ui' } } }, { ipBlock: { cidr: '198.19.0.0/16', except: ['198.19.9.0/24'] } }],
      ports: [{ port: 'http' }, { protocol: 'UDP', port: 53, endPort: 54 }] }],
    egress: [{ to: [{ ipBlock: { cidr: '::/0', except: ['2001:db8:ffff::/48'] } }] }] })];
  return plan(viewFor(world({ pods, namespaces: [ns('shop')], policies, config: config({ defaultDeny: true }) })));
}
