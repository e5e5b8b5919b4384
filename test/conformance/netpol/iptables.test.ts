// The full NetworkPolicy conformance suite on the default backend (iptables + ipset), in a 3-node lab.
import { ALL_CASES } from './cases.ts';
import { describeBackend } from './suite.ts';

describeBackend('iptables', 'krt-cf-i', ALL_CASES);
