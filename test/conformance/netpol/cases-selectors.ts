// Cases: default deny / allow all in both directions, pod and namespace selectors, one peer with both
// selectors (AND) vs two peers (OR), matchExpressions (In, NotIn, Exists, DoesNotExist), stacked policies
// (union) and the independence of ingress and egress.
import { TCP80, UDP80, UDP81, TCP81, inNs, isPod, type Expectation, type PodRef, type PortProbe } from './model.ts';
import {
  ALL, allowAllEgress, allowAllIngress, denyAllEgress, denyAllIngress, ingressTo, nsSel, podSel, policy, type ConformanceCase,
} from './policies.ts';

/** Traffic to pods matching `isTarget` needs `allowed`; everything else connects. */
export const guardIngress = (isTarget: (to: PodRef) => boolean, allowed: (from: PodRef, probe: PortProbe) => boolean): Expectation =>
  (from, to, probe) => !isTarget(to) || allowed(from, probe);
/** Traffic from pods matching `isSource` needs `allowed`; everything else connects. */
export const guardEgress = (isSource: (from: PodRef) => boolean, allowed: (to: PodRef, probe: PortProbe) => boolean): Expectation =>
  (from, to, probe) => !isSource(from) || allowed(to, probe);
export const both = (...all: Expectation[]): Expectation => (f, t, p) => all.every((e) => e(f, t, p));
export const never = (): boolean => false;

const xa = isPod('x/a');

export const selectorCases: ConformanceCase[] = [
  {
    name: 'default-deny ingress in x blocks every connection into x (TCP and UDP), nothing else',
    steps: [{ what: 'deny-all ingress in x', apply: [denyAllIngress('x')], probes: [TCP80, UDP81], expect: guardIngress(inNs('x'), never) }],
  },
  {
    name: 'default-deny egress in x blocks every connection out of x (TCP and UDP), nothing else',
    steps: [{ what: 'deny-all egress in x', apply: [denyAllEgress('x')], probes: [TCP81, UDP80], expect: guardEgress(inNs('x'), never) }],
  },
  {
    name: 'allow-all ingress and allow-all egress policies override default deny in the same namespace',
    steps: [
      { what: 'deny-all ingress + egress in x', apply: [denyAllIngress('x'), denyAllEgress('x')], probes: [TCP80], expect: both(guardIngress(inNs('x'), never), guardEgress(inNs('x'), never)) },
      { what: '+ allow-all ingress in x', apply: [allowAllIngress('x')], probes: [TCP80], expect: guardEgress(inNs('x'), never) },
      { what: '+ allow-all egress in x', apply: [allowAllEgress('x')], probes: [TCP80, UDP80], expect: () => true },
    ],
  },
  {
    name: 'podSelector peer allows only the matching pods of the policy\'s own namespace',
    steps: [{ what: 'x/a from pod=b', apply: [ingressTo('x', 'a', [{ podSelector: podSel({ pod: 'b' }) }])], probes: [TCP80], expect: guardIngress(xa, isPod('x/b')) }],
  },
  {
    name: 'namespaceSelector peer allows every pod of the matching namespaces',
    steps: [{ what: 'x/a from ns=y', apply: [ingressTo('x', 'a', [{ namespaceSelector: nsSel({ ns: 'y' }) }])], probes: [TCP80], expect: guardIngress(xa, inNs('y')) }],
  },
  {
    name: 'namespaceSelector via kubernetes.io/metadata.name selects that namespace',
    steps: [{
      what: 'x/a from metadata.name=z', apply: [ingressTo('x', 'a', [{ namespaceSelector: nsSel({ 'kubernetes.io/metadata.name': 'z' }) }])],
      probes: [TCP80], expect: guardIngress(xa, inNs('z')),
    }],
  },
  {
    name: 'podSelector and namespaceSelector in one peer are ANDed',
    steps: [{
      what: 'x/a from {ns=y AND pod=b}', apply: [ingressTo('x', 'a', [{ namespaceSelector: nsSel({ ns: 'y' }), podSelector: podSel({ pod: 'b' }) }])],
      probes: [TCP80], expect: guardIngress(xa, isPod('y/b')),
    }],
  },
  {
    name: 'podSelector and namespaceSelector as two peers are ORed',
    steps: [{
      what: 'x/a from {ns=y} OR {pod=b}', apply: [ingressTo('x', 'a', [{ namespaceSelector: nsSel({ ns: 'y' }) }, { podSelector: podSel({ pod: 'b' }) }])],
      probes: [TCP80], expect: guardIngress(xa, (f) => inNs('y')(f) || isPod('x/b')(f)),
    }],
  },
  {
    name: 'matchExpressions In on a namespaceSelector and NotIn on a podSelector',
    steps: [
      {
        what: 'x/a from ns In (y, z)', apply: [ingressTo('x', 'a', [{ namespaceSelector: { matchExpressions: [{ key: 'ns', operator: 'In', values: ['y', 'z'] }] } }])],
        probes: [TCP80], expect: guardIngress(xa, inNs('y', 'z')),
      },
      {
        what: 'x/a from pod NotIn (a, b) in x (replaces the In policy)',
        apply: [ingressTo('x', 'a', [{ podSelector: { matchExpressions: [{ key: 'pod', operator: 'NotIn', values: ['a', 'b'] }] } }])],
        probes: [TCP80], expect: guardIngress(xa, isPod('x/c')),
      },
    ],
  },
  {
    name: 'matchExpressions Exists selects targets, DoesNotExist excludes a labelled peer in any namespace',
    steps: [{
      what: 'x pods with label pod, from any pod without label quarantine (y/b has it)',
      podLabels: [{ pod: { namespace: 'y', name: 'b' }, labels: { pod: 'b', quarantine: 'yes' } }],
      apply: [policy('x', 'exists-doesnotexist', {
        podSelector: { matchExpressions: [{ key: 'pod', operator: 'Exists' }] }, policyTypes: ['Ingress'],
        ingress: [{ from: [{ namespaceSelector: ALL, podSelector: { matchExpressions: [{ key: 'quarantine', operator: 'DoesNotExist' }] } }] }],
      })],
      probes: [TCP80], expect: guardIngress(inNs('x'), (f) => !isPod('y/b')(f)),
    }],
  },
  {
    name: 'two policies selecting the same pod allow the union of their peers',
    steps: [{
      what: 'x/a from pod=b (policy 1) and from ns=z (policy 2)',
      apply: [ingressTo('x', 'a', [{ podSelector: podSel({ pod: 'b' }) }], undefined, 'p1'), ingressTo('x', 'a', [{ namespaceSelector: nsSel({ ns: 'z' }) }], undefined, 'p2')],
      probes: [TCP80], expect: guardIngress(xa, (f) => isPod('x/b')(f) || inNs('z')(f)),
    }],
  },
  {
    name: 'ingress and egress are independent: an egress allow does not open ingress, an ingress allow does not open egress',
    steps: [
      {
        what: 'x: ingress from nothing, egress to x only (one policy, both types)',
        apply: [policy('x', 'both-directions', { podSelector: ALL, policyTypes: ['Ingress', 'Egress'], egress: [{ to: [{ podSelector: ALL }] }] })],
        probes: [TCP80], expect: both(guardIngress(inNs('x'), never), guardEgress(inNs('x'), inNs('x'))),
      },
      {
        what: 'y: egress denied, ingress from x allowed — x cannot reach y (its egress) and y cannot reach out',
        apply: [policy('y', 'both-directions', { podSelector: ALL, policyTypes: ['Ingress', 'Egress'], ingress: [{ from: [{ namespaceSelector: nsSel({ ns: 'x' }) }] }] })],
        probes: [UDP80], expect: both(guardIngress(inNs('x'), never), guardEgress(inNs('x'), inNs('x')), guardEgress(inNs('y'), never), guardIngress(inNs('y'), inNs('x'))),
      },
    ],
  },
  {
    name: 'a policy in another namespace (z) applies to z\'s pods only',
    steps: [{ what: 'z/c from pod=a in z', apply: [ingressTo('z', 'c', [{ podSelector: podSel({ pod: 'a' }) }])], probes: [TCP80], expect: guardIngress(isPod('z/c'), isPod('z/a')) }],
  },
];
