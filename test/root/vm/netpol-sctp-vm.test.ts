// Host side of the netpol SCTP test: the host kernel has no SCTP, so this boots the Debian-kernel test VM once
// and runs test/vm/netpol-sctp.test.ts there (both controller backends); passes iff it passed in the VM.
import { vmTestSuite } from '../../helpers/vm-test.ts';

vmTestSuite('netpol controller and SCTP in the test VM', 'test/vm/netpol-sctp.test.ts', 240_000,
  'in the VM, SCTP port rules admit only SCTP and TCP port rules only TCP, on iptables and nftables');
