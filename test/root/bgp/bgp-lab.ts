// Test fixtures for the BGP root tests: a three-namespace topology (speaker A linked to speaker B and to a bird2
// router C by veth pairs), a bird2 process with its own config and control socket, and small polling helpers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BirdRouter } from '../../helpers/bird.ts';
import { eventually, sleep } from '../../helpers/eventually.ts';
import { TestNetns } from '../../helpers/netns.ts';

export const ADDR = {
  aToB: '198.51.100.1', bToA: '198.51.100.2', // link A–B, 198.51.100.0/29
  aToC: '198.51.100.9', cToA: '198.51.100.10', // link A–C, 198.51.100.8/29
} as const;

export class BgpTopology {
  readonly a = new TestNetns('krt-bgp');
  readonly b = new TestNetns('krt-bgp');
  readonly c = new TestNetns('krt-bgp');
  readonly dir = mkdtempSync(join(tmpdir(), 'krt-bgp-'));

  constructor() {
    const { a, b, c } = this;
    try {
      // both veth ends are created inside our namespaces: nothing touches the host's
      a.ip('link', 'add', 'ab', 'netns', a.name, 'type', 'veth', 'peer', 'name', 'ba', 'netns', b.name);
      a.ip('link', 'add', 'ac', 'netns', a.name, 'type', 'veth', 'peer', 'name', 'ca', 'netns', c.name);
      for (const [ns, dev, addr] of [[a, 'ab', `${ADDR.aToB}/29`], [b, 'ba', `${ADDR.bToA}/29`], [a, 'ac', `${ADDR.aToC}/29`], [c, 'ca', `${ADDR.cToA}/29`]] as const) {
        ns.ip('addr', 'add', addr, 'dev', dev);
        ns.ip('link', 'set', dev, 'up');
      }
    } catch (e) {
      this.destroy();
      throw e;
    }
  }

  destroy(): void {
    for (const ns of [this.a, this.b, this.c]) ns.delete();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A TcpExt counter of a namespace's kernel (e.g. TCPMD5Failure), read from its /proc/net/netstat. */
export function tcpExtCounter(ns: TestNetns, name: string): number {
  const lines = ns.exec('cat', ['/proc/net/netstat']).split('\n');
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const keys = lines[i]!.split(/\s+/);
    const values = lines[i + 1]!.split(/\s+/);
    if (keys[0] !== 'TcpExt:') continue;
    const idx = keys.indexOf(name);
    if (idx > 0) return Number(values[idx]);
  }
  throw new Error(`no TcpExt counter ${name}`);
}

export interface BirdOptions {
  password: string;
  /** Prefixes bird originates (as blackhole statics) and exports to A. */
  announce: string[];
}

/** bird2 in namespace C, iBGP AS 64512 with speaker A (`direct;`: same L2, pitfall 10), TCP MD5. */
export class Bird extends BirdRouter {
  constructor(ns: TestNetns, dir: string) {
    super(ns, dir, 'bird');
  }

  static config(opts: BirdOptions): string {
    return `router id ${ADDR.cToA};
protocol device { }
protocol direct { ipv4; interface "ca"; }
protocol static announced { ipv4; ${opts.announce.map((p) => `route ${p} blackhole;`).join(' ')} }
protocol bgp a {
  local ${ADDR.cToA} as 64512;
  neighbor ${ADDR.aToC} as 64512;
  direct;
  hold time 9; keepalive time 3; connect retry time 2; connect delay time 1;
  password "${opts.password}";
  ipv4 { import all; export where proto = "announced"; next hop self; };
}
`;
  }

  startWith(opts: BirdOptions): void {
    this.start(Bird.config(opts));
  }

  reconfigureWith(opts: BirdOptions): void {
    this.reconfigure(Bird.config(opts));
  }
}

export { eventually, sleep };
