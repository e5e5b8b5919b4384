// A representative slice of the NetworkPolicy conformance suite (test/conformance/netpol) with real traffic in a
// 3-node lab, small enough for `make test`: six cases on the iptables backend with the full daemon (BGP routing
// on), two cases and the kube-router restart test on the nftables backend with the firewall alone.
import { casesNamed } from '../../conformance/netpol/cases.ts';
import { describeBackend } from '../../conformance/netpol/suite.ts';

describeBackend('iptables', 'krt-cf-si', casesNamed(
  'default-deny ingress',
  'podSelector and namespaceSelector in one peer are ANDed',
  'ingress ipBlock with except',
  'a named ingress port',
  'a protocol-only UDP port',
  'pod label changes',
));

describeBackend('nftables', 'krt-cf-sn', casesNamed(
  'default-deny egress',
  'namespace label changes',
), { firewallOnly: true, restart: true });
