// Run as a child process by gobgpd-lifetime.test.ts: a stand-in for kube-router's routes controller. Starts a
// supervised gobgpd in namespace argv[2] with API socket argv[3], peers it with B (graceful restart on),
// advertises 198.18.1.0/24, prints {"pid": <gobgpd pid>} and then runs until it is killed.
import { GobgpdSupervisor } from '../../../src/bgp/gobgpd-supervisor.ts';
import { connectGobgp } from '../../../src/bgp/gobgp-client.ts';
import type { BgpResult } from '../../../src/bgp/speaker.ts';
import { ADDR } from './bgp-lab.ts';

const [netns = '', socketPath = ''] = process.argv.slice(2);
const must = <T>(r: BgpResult<T>): T => {
  if (!r.ok) throw r.error;
  return r.value;
};

const supervisor = new GobgpdSupervisor({ socketPath, adminPort: 0, netns });
const started = await supervisor.start();
if (!started.ok) throw new Error(started.error);
const speaker = connectGobgp({ target: supervisor.apiTarget });
if (!speaker.ok) throw new Error(String(speaker.error));
const A = speaker.value;
const gracefulRestart = { restartTimeSec: 120 };
must(await A.start({ asn: 64512, routerId: ADDR.aToB, listenAddresses: [ADDR.aToB], listenPort: 179, gracefulRestart }));
must(await A.addPeer({
  neighborAddress: ADDR.bToA, peerAsn: 64512, localAddress: ADDR.aToB, families: ['ipv4'], holdTimeSec: 9, keepaliveSec: 3, connectRetrySec: 1, gracefulRestart,
}));
must(await A.addPath({ prefix: '198.18.1.0/24', nextHop: ADDR.aToB, family: 'ipv4', origin: 'igp' }));
console.log(JSON.stringify({ pid: supervisor.pid }));
setInterval(() => undefined, 1 << 30);
