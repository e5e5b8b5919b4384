// The full NetworkPolicy conformance suite on the nftables backend (--use-nftables-for-netpol), in a 3-node lab.
import { ALL_CASES } from './cases.ts';
import { describeBackend } from './suite.ts';

describeBackend('nftables', 'krt-cf-n', ALL_CASES);
