// Cases that change things mid-test (pod labels, namespace labels, a policy's spec, deleting a policy), and
// the hostNetwork and node rules: hostNetwork pods are neither targets nor peers, a node always reaches its own
// pods while other nodes are subject to the policy.
import { HOST_POD } from './lab-model.ts';
import { MODEL_PODS, TCP80, UDP80, inNs, isPod, namespaceLabels, nodeIndexOf, podKey, type PodRef, type PortProbe } from './model.ts';
import { guardIngress, never } from './cases-selectors.ts';
import { denyAllIngress, ingressTo, nsSel, podSel, type ConformanceCase } from './policies.ts';
import { nodeRow } from './probe-runner.ts';

const xa = isPod('x/a');
const NODE_ROWS = [nodeRow(1), nodeRow(2), nodeRow(3)];
const HOST_PORT_PROBE: PortProbe = { port: 9080, protocol: 'tcp' };

export const dynamicCases: ConformanceCase[] = [
  {
    name: 'pod label changes move pods in and out of peer and target sets',
    steps: [
      { what: 'x/a from pod=b', apply: [ingressTo('x', 'a', [{ podSelector: podSel({ pod: 'b' }) }])], probes: [TCP80], expect: guardIngress(xa, isPod('x/b')) },
      { what: 'x/c relabelled pod=b becomes a peer', podLabels: [{ pod: { namespace: 'x', name: 'c' }, labels: { pod: 'b' } }], probes: [TCP80], expect: guardIngress(xa, isPod('x/b', 'x/c')) },
      { what: 'x/b relabelled pod=gone stops being one', podLabels: [{ pod: { namespace: 'x', name: 'b' }, labels: { pod: 'gone' } }], probes: [TCP80], expect: guardIngress(xa, isPod('x/c')) },
      { what: 'x/a relabelled pod=free is no longer a target', podLabels: [{ pod: { namespace: 'x', name: 'a' }, labels: { pod: 'free' } }], probes: [TCP80], expect: () => true },
    ],
  },
  {
    name: 'namespace label changes move whole namespaces in and out of a namespaceSelector',
    steps: [
      { what: 'x/a from ns=y', apply: [ingressTo('x', 'a', [{ namespaceSelector: nsSel({ ns: 'y' }) }])], probes: [TCP80], expect: guardIngress(xa, inNs('y')) },
      { what: 'z labelled ns=y joins', namespaceLabels: [{ namespace: 'z', labels: { ...namespaceLabels('z'), ns: 'y' } }], probes: [TCP80], expect: guardIngress(xa, inNs('y', 'z')) },
      { what: 'y labelled ns=other leaves', namespaceLabels: [{ namespace: 'y', labels: { ...namespaceLabels('y'), ns: 'other' } }], probes: [TCP80], expect: guardIngress(xa, inNs('z')) },
    ],
  },
  {
    name: 'updating a policy\'s peers and type replaces what it allows',
    steps: [
      { what: 'x/a from pod=b', apply: [ingressTo('x', 'a', [{ podSelector: podSel({ pod: 'b' }) }], undefined, 'changing')], probes: [TCP80], expect: guardIngress(xa, isPod('x/b')) },
      { what: 'same policy now from pod=c', apply: [ingressTo('x', 'a', [{ podSelector: podSel({ pod: 'c' }) }], undefined, 'changing')], probes: [TCP80], expect: guardIngress(xa, isPod('x/c')) },
      { what: 'same policy now from ns=z on UDP only', apply: [ingressTo('x', 'a', [{ namespaceSelector: nsSel({ ns: 'z' }) }], [{ protocol: 'UDP' }], 'changing')], probes: [TCP80, UDP80], expect: guardIngress(xa, (f, p) => inNs('z')(f) && p.protocol === 'udp') },
    ],
  },
  {
    name: 'deleting policies restores traffic',
    steps: [
      { what: 'deny-all ingress in x and y', apply: [denyAllIngress('x'), denyAllIngress('y')], probes: [TCP80], expect: guardIngress(inNs('x', 'y'), never) },
      { what: 'x\'s policy deleted', deletePolicies: [{ namespace: 'x', name: 'deny-all-ingress' }], probes: [TCP80], expect: guardIngress(inNs('y'), never) },
      { what: 'y\'s policy deleted', deletePolicies: [{ namespace: 'y', name: 'deny-all-ingress' }], probes: [TCP80, UDP80], expect: () => true },
    ],
  },
  {
    name: 'a hostNetwork pod is not a target of its namespace\'s policies and not a podSelector peer',
    steps: [
      {
        what: 'deny-all ingress in x: the hostNetwork pod x/h (node 3) still answers every pod',
        apply: [denyAllIngress('x')], probes: [HOST_PORT_PROBE], to: [HOST_POD], expect: () => true,
      },
      {
        what: 'x/a from pod=h: x/h (node 3\'s address) is not let in; node 1 (local) still is',
        apply: [ingressTo('x', 'a', [{ podSelector: podSel({ pod: 'h' }) }])], probes: [TCP80],
        from: [HOST_POD, ...MODEL_PODS.filter((p) => podKey(p) !== 'x/a'), nodeRow(1), nodeRow(2)], to: [{ namespace: 'x', name: 'a' }],
        expect: (f) => podKey(f) === podKey(nodeRow(1)),
      },
    ],
  },
  {
    name: 'a node always reaches its own pods under default deny; other nodes do not',
    steps: [{
      what: 'deny-all ingress in x, probes from the three node namespaces',
      apply: [denyAllIngress('x')], probes: [TCP80, UDP80], from: NODE_ROWS,
      expect: (f: PodRef, t: PodRef) => !inNs('x')(t) || Number(f.name) === nodeIndexOf(t),
    }],
  },
];
