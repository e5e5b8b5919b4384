// Host side of the service proxy test: the host kernel has no IPVS, so this boots the Debian-kernel test VM once
// and runs test/vm/proxy.test.ts there (real TCP/UDP/SCTP through the proxy's IPVS, addresses and rules).
import { vmTestSuite } from '../../helpers/vm-test.ts';

vmTestSuite('service proxy in the test VM', 'test/vm/proxy.test.ts', 420_000,
  'in the VM, Services answer from pods, the node and outside as Kubernetes promises');
