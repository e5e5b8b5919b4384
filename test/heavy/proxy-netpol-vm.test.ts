// Heavy proxy + netpol VM test (make test-heavy, make test-proxy): the real service proxy and the real netpol
// controller on both backends, with real TCP through ClusterIPs and NodePorts (test/vm/proxy-netpol.test.ts). The host
// kernel has no IPVS, so this boots the Debian-kernel VM; it takes minutes under emulation, too long for `make test`.
import { vmTestSuite } from '../helpers/vm-test.ts';

// Measured on the shared 2-core host (load average 9-12): 174-282 s in the VM (boot ~6-14 s, topology and proxy
// ~60 s, 49 connections at 2-4 s each under TCG). The timeout catches hangs, not load.
vmTestSuite('NetworkPolicy on Service traffic in the test VM', 'test/vm/proxy-netpol.test.ts', 480_000,
  'in the VM, policies decide Service traffic after IPVS DNAT on the iptables and nftables backends');
