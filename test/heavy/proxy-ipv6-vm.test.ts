// Heavy (make test-heavy, make test-proxy): the IPv6 / dual-stack service proxy test. The host kernel has no IPVS, so
// this boots the Debian-kernel test VM once and runs test/vm/proxy-ipv6.test.ts there (real TCP/UDP over IPv6 and
// both families through the proxy). Several minutes under emulation, hence not in `make test`.
import { vmTestSuite } from '../helpers/vm-test.ts';

vmTestSuite('service proxy over IPv6 and dual-stack in the test VM', 'test/vm/proxy-ipv6.test.ts', 540_000,
  'in the VM, IPv6 and dual-stack Services answer from pods, the node and outside');
