// Cases: ipBlock with except (built from the lab's real pod IPs), numeric ports, named ports (resolved on the
// destination pod, ingress and egress), endPort ranges, protocol-only ports (UDP must not allow TCP), and
// rules with an empty from / to.
import { TCP80, TCP81, UDP80, UDP81, inNs, isPod, type PortProbe } from './model.ts';
import { both, guardEgress, guardIngress } from './cases-selectors.ts';
import { egressFrom, ingressTo, policy, podSel, type ConformanceCase } from './policies.ts';

const xa = isPod('x/a');
const port = (n: number, protocol?: 'tcp' | 'udp') => (_f: unknown, p: PortProbe): boolean => p.port === n && (protocol === undefined || p.protocol === protocol);

export const portCases: ConformanceCase[] = [
  {
    name: 'ingress ipBlock with except: the pod CIDR range minus one pod\'s /32',
    steps: [{
      what: 'x/a from 198.18.0.0/16 except y/b',
      apply: (m) => [ingressTo('x', 'a', [{ ipBlock: { cidr: '198.18.0.0/16', except: [`${m.ipOf({ namespace: 'y', name: 'b' })}/32`] } }])],
      probes: [TCP80], expect: guardIngress(xa, (f) => !isPod('y/b')(f)),
    }],
  },
  {
    name: 'egress ipBlock: a /32 of one pod and a range with an except holding another',
    steps: [{
      what: 'x/a to z/c/32, and to 198.18.0.0/16 except that range\'s y/* pods on port 81 only',
      apply: (m) => [policy('x', 'egress-ipblock', {
        podSelector: podSel({ pod: 'a' }), policyTypes: ['Egress'],
        egress: [
          { to: [{ ipBlock: { cidr: `${m.ipOf({ namespace: 'z', name: 'c' })}/32` } }] },
          { to: [{ ipBlock: { cidr: '198.18.0.0/16', except: ['y/a', 'y/b', 'y/c'].map((k) => `${m.ipOf({ namespace: 'y', name: k.slice(2) })}/32`) } }], ports: [{ port: 81 }] },
        ],
      })],
      probes: [TCP80, TCP81], expect: guardEgress(xa, (t, p) => isPod('z/c')(t) || (p.port === 81 && !inNs('y')(t))),
    }],
  },
  {
    name: 'a numeric port allows that port only (TCP default protocol)',
    steps: [{ what: 'x/a port 81', apply: [ingressTo('x', 'a', undefined, [{ port: 81 }])], probes: [TCP80, TCP81, UDP81], expect: guardIngress(xa, port(81, 'tcp')) }],
  },
  {
    name: 'a named ingress port is resolved on the target pod (serve-81-tcp → 81/TCP only)',
    steps: [{ what: 'x/a port serve-81-tcp', apply: [ingressTo('x', 'a', undefined, [{ port: 'serve-81-tcp' }])], probes: [TCP80, TCP81, UDP81], expect: guardIngress(xa, port(81, 'tcp')) }],
  },
  {
    name: 'a named egress port is resolved on the destination pods (serve-80-udp → 80/UDP only)',
    steps: [{
      what: 'x/a egress port serve-80-udp/UDP', apply: [egressFrom('x', 'a', undefined, [{ port: 'serve-80-udp', protocol: 'UDP' }])],
      probes: [UDP80, UDP81, TCP80], expect: guardEgress(xa, (_t, p) => p.port === 80 && p.protocol === 'udp'),
    }],
  },
  {
    name: 'endPort allows a port range; updating the range re-programs it',
    steps: [
      { what: 'x/a TCP 80-81', apply: [ingressTo('x', 'a', undefined, [{ protocol: 'TCP', port: 80, endPort: 81 }])], probes: [TCP80, TCP81, UDP80], expect: guardIngress(xa, (_f, p) => p.protocol === 'tcp') },
      { what: 'x/a TCP 81-90', apply: [ingressTo('x', 'a', undefined, [{ protocol: 'TCP', port: 81, endPort: 90 }])], probes: [TCP80, TCP81], expect: guardIngress(xa, port(81, 'tcp')) },
    ],
  },
  {
    name: 'a protocol-only UDP port allows every UDP port and no TCP',
    steps: [{ what: 'x/a protocol UDP', apply: [ingressTo('x', 'a', undefined, [{ protocol: 'UDP' }])], probes: [TCP80, UDP80, UDP81], expect: guardIngress(xa, (_f, p) => p.protocol === 'udp') }],
  },
  {
    name: 'an empty from and an empty to mean every peer (restricted by the rule\'s ports)',
    steps: [{
      what: 'x/a from [] on 80/TCP; x/b to [] on 81/TCP',
      apply: [
        policy('x', 'empty-from', { podSelector: podSel({ pod: 'a' }), policyTypes: ['Ingress'], ingress: [{ from: [], ports: [{ port: 80, protocol: 'TCP' }] }] }),
        policy('x', 'empty-to', { podSelector: podSel({ pod: 'b' }), policyTypes: ['Egress'], egress: [{ to: [], ports: [{ port: 81, protocol: 'TCP' }] }] }),
      ],
      probes: [TCP80, TCP81], expect: both(guardIngress(xa, port(80)), guardEgress(isPod('x/b'), (_t, p) => p.port === 81)),
    }],
  },
];
