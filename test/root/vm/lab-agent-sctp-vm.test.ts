// Host side of the lab agent SCTP test: the host kernel has no SCTP, so this boots the Debian-kernel test VM and runs
// test/vm/lab-agent-sctp.test.ts there.
import { vmTestSuite } from '../../helpers/vm-test.ts';

vmTestSuite('lab pod agent and SCTP in the test VM', 'test/vm/lab-agent-sctp.test.ts', 120_000,
  'in the VM, a lab pod whose SCTP listeners are refused during the module autoload retries and listens on all of them');
