// kube-router restart on a node with policies in force, on both backends (see restart-suite.ts).
import { describeRestart } from './restart-suite.ts';

describeRestart('iptables', 'krt-cf-ri');
describeRestart('nftables', 'krt-cf-rn');
