// Runs INSIDE the test VM (lab/vm): the real `Ipvs` (generic netlink, opened in a test namespace) programs services
// with every scheduler kube-router offers, destinations of each forwarding method, weights and timeouts, checked
// step by step against `ipvsadm -Ln`; a service ipvsadm added is left alone; the shared cases hold FakeIpvs to the
// kernel's answers; and a 1,000-service x 10-destination batch is timed against `ipvsadm -R` of the same table.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  IPVS_SVC_F_PERSISTENT, IPVS_SVC_F_SCHED_MH_FALLBACK, IPVS_SVC_F_SCHED_MH_PORT, IPVS_SVC_F_SCHED_SH_FALLBACK,
  IPVS_SVC_F_SCHED_SH_PORT, ipvsDestination, ipvsService, openIpvs, type Ipvs, type IpvsOp, type IpvsServiceKey,
  type IpvsServiceSpec,
} from '../../src/kernel/ipvs.ts';
import { IPVS_CASES, runIpvsCase } from '../helpers/ipvs-cases.ts';
import { TestNetns } from '../helpers/netns.ts';

const IN_VM = process.env['KUBE_ROUTER_IN_VM'] === '1';

/** `ipvsadm -Ln [extra]` in the namespace without its 3 header lines, runs of spaces collapsed. */
function table(ns: TestNetns, ...extra: string[]): string[] {
  return ns.exec('ipvsadm', ['-Ln', ...extra]).split('\n').slice(3).map((l) => l.trim().replace(/\s+/g, ' ')).filter(Boolean);
}

/** The table as "service line -> its destination lines", order-free (the kernel lists services in hash order). */
function grouped(lines: string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current: string[] = [];
  for (const l of lines) {
    if (l.startsWith('->')) current.push(l);
    else out.set(l, (current = []));
  }
  for (const dests of out.values()) dests.sort();
  return out;
}

async function open(ns: TestNetns): Promise<Ipvs> {
  const r = await openIpvs({ netns: ns.path });
  assert.ok(r.ok, `openIpvs: ${JSON.stringify(!r.ok && r.error)}`);
  return r.value;
}

async function must<T>(p: Promise<{ ok: true; value: T } | { ok: false; error: { code: string } }>): Promise<T> {
  const r = await p;
  assert.ok(r.ok, `refused: ${!r.ok && r.error.code}`);
  return r.value;
}

const TCP4: IpvsServiceKey = { family: 4, protocol: 'tcp', address: '198.51.100.1', port: 80 };
const UDP4: IpvsServiceKey = { family: 4, protocol: 'udp', address: '198.51.100.1', port: 53 };
const SCTP4: IpvsServiceKey = { family: 4, protocol: 'sctp', address: '198.51.100.2', port: 3868 };
const TCP6: IpvsServiceKey = { family: 6, protocol: 'tcp', address: '2001:db8::1', port: 443 };
const MARK4: IpvsServiceKey = { family: 4, fwmark: 100 };
const MARK6: IpvsServiceKey = { family: 6, fwmark: 101 };

describe('the Ipvs handle against the VM kernel', { skip: IN_VM ? false : 'runs inside the test VM: see test/root/vm/ipvs-codec-vm.test.ts' }, () => {
  const namespaces: TestNetns[] = [];
  let ns: TestNetns;
  let ipvs: Ipvs;
  const FOREIGN = ['-A -t 198.51.100.99:80 -s wrr', '-a -t 198.51.100.99:80 -r 198.18.0.99:80 -m -w 4'];

  before(async () => {
    ns = new TestNetns('krt-ipvs');
    namespaces.push(ns);
    ns.exec('ipvsadm', ['-R'], FOREIGN.join('\n') + '\n');
    ipvs = await open(ns);
  });

  after(async () => {
    await ipvs?.close();
    for (const n of namespaces) n.delete();
  });

  test('info and timeouts: version 1.2.1; timeouts set over netlink are what ipvsadm reads', async () => {
    assert.equal((await must(ipvs.info())).version, 0x010201);
    await must(ipvs.setTimeouts({ tcp: 3600, tcpFin: 30, udp: 60 }));
    assert.equal(ns.exec('ipvsadm', ['-Ln', '--timeout']).trim(), 'Timeout (tcp tcpfin udp): 3600 30 60');
    await must(ipvs.setTimeouts({ udp: 45 }));
    assert.deepEqual(await must(ipvs.getTimeouts()), { tcp: 3600, tcpFin: 30, udp: 45 });
  });

  const services: IpvsServiceSpec[] = [
    ipvsService({ ...TCP4, scheduler: 'rr' }),
    ipvsService({ ...UDP4, scheduler: 'lc' }),
    ipvsService({ ...SCTP4, scheduler: 'wrr', flags: IPVS_SVC_F_PERSISTENT, timeout: 30 }),
    ipvsService({ ...TCP6, scheduler: 'dh', flags: IPVS_SVC_F_PERSISTENT, timeout: 10800, netmask: 64 }),
    ipvsService({ ...MARK4, scheduler: 'sh', flags: IPVS_SVC_F_SCHED_SH_FALLBACK | IPVS_SVC_F_SCHED_SH_PORT }),
    ipvsService({ ...MARK6, scheduler: 'mh', flags: IPVS_SVC_F_SCHED_MH_FALLBACK | IPVS_SVC_F_SCHED_MH_PORT }),
  ];

  test('v4, v6 and fwmark services with rr, lc, wrr, dh, sh and mh (and its flags) are what ipvsadm lists', async () => {
    for (const s of services) await must(ipvs.addService(s));
    assert.deepEqual([...grouped(table(ns)).keys()].sort(), [
      'FWM 100 sh (sh-fallback,sh-port)',
      'FWM 101 IPv6 mh (mh-fallback,mh-port)',
      'SCTP 198.51.100.2:3868 wrr persistent 30',
      'TCP 198.51.100.1:80 rr',
      'TCP 198.51.100.99:80 wrr',
      'TCP [2001:db8::1]:443 dh persistent 10800 mask 64',
      'UDP 198.51.100.1:53 lc',
    ]);
    for (const s of services) {
      const { stats, ...read } = await must(ipvs.getService(s));
      assert.deepEqual(read, s);
      assert.equal(stats?.connections, 0);
    }
    const listed = await must(ipvs.listServices());
    assert.equal(listed.length, services.length + 1, 'ours and the foreign one');
  });

  test('destinations of each forwarding method (and a v4 tunnel behind a v6 service) are what ipvsadm lists', async () => {
    const ops: IpvsOp[] = [
      ...[1, 2, 3].map((n): IpvsOp => ({ op: 'add-destination', service: TCP4, destination: ipvsDestination({ address: `198.18.0.${n}`, port: 8080, weight: n }) })),
      { op: 'add-destination', service: UDP4, destination: ipvsDestination({ address: '198.18.0.4', port: 53, forward: 'route', upperThreshold: 100, lowerThreshold: 10 }) },
      { op: 'add-destination', service: TCP6, destination: ipvsDestination({ address: '2001:db8::10', port: 8443 }) },
      { op: 'add-destination', service: TCP6, destination: ipvsDestination({ address: '198.18.0.6', port: 443, forward: 'tunnel' }) },
      { op: 'add-destination', service: MARK4, destination: ipvsDestination({ address: '198.18.0.5', port: 0, forward: 'tunnel', tunnel: { type: 'gue', port: 6080, flags: 1 } }) },
      { op: 'add-destination', service: MARK6, destination: ipvsDestination({ address: '2001:db8::11', port: 0, forward: 'tunnel', weight: 2 }) },
    ];
    const r = await must(ipvs.apply(ops));
    assert.deepEqual(r, { applied: ops.length, failures: [] });
    const t = grouped(table(ns));
    assert.deepEqual(t.get('TCP 198.51.100.1:80 rr'), ['-> 198.18.0.1:8080 Masq 1 0 0', '-> 198.18.0.2:8080 Masq 2 0 0', '-> 198.18.0.3:8080 Masq 3 0 0']);
    assert.deepEqual(t.get('UDP 198.51.100.1:53 lc'), ['-> 198.18.0.4:53 Route 1 0 0']);
    assert.deepEqual(t.get('FWM 101 IPv6 mh (mh-fallback,mh-port)'), ['-> [2001:db8::11]:0 Tunnel 2 0 0']);
    const tun = grouped(table(ns, '--tun-info'));
    assert.deepEqual(tun.get('FWM 100 sh (sh-fallback,sh-port)'), ['-> 198.18.0.5:0 Tunnel gue:6080:+c 1 0 0']);
    const thresholds = grouped(table(ns, '--thresholds'));
    assert.deepEqual(thresholds.get('UDP 198.51.100.1:53 lc'), ['-> 198.18.0.4:53 100 10 0 0']);
    // ipvsadm cannot print a destination of the other family; our own dump can
    const v6dests = await must(ipvs.listDestinations(TCP6));
    assert.deepEqual(v6dests.map((d) => [d.family, d.address, d.port, d.forward]).sort(), [[4, '198.18.0.6', 443, 'tunnel'], [6, '2001:db8::10', 8443, 'masq']]);
  });

  test('a weight change and a scheduler/flags change are applied in place', async () => {
    await must(ipvs.updateDestination(TCP4, ipvsDestination({ address: '198.18.0.1', port: 8080, weight: 5 })));
    await must(ipvs.updateService(ipvsService({ ...TCP4, scheduler: 'mh', flags: IPVS_SVC_F_SCHED_MH_PORT })));
    const t = grouped(table(ns));
    assert.deepEqual(t.get('TCP 198.51.100.1:80 mh (mh-port)'), ['-> 198.18.0.1:8080 Masq 5 0 0', '-> 198.18.0.2:8080 Masq 2 0 0', '-> 198.18.0.3:8080 Masq 3 0 0']);
  });

  test('deleting a destination and the services removes exactly them; the foreign service is untouched', async () => {
    await must(ipvs.deleteDestination(TCP4, { address: '198.18.0.2', port: 8080 }));
    assert.deepEqual(grouped(table(ns)).get('TCP 198.51.100.1:80 mh (mh-port)'), ['-> 198.18.0.1:8080 Masq 5 0 0', '-> 198.18.0.3:8080 Masq 3 0 0']);
    const r = await must(ipvs.apply(services.map((s): IpvsOp => ({ op: 'delete-service', service: s }))));
    assert.equal(r.applied, services.length);
    assert.deepEqual(ns.exec('ipvsadm', ['-Sn']).trim().split('\n'), FOREIGN);
    const gone = await ipvs.getService(TCP4);
    assert.ok(!gone.ok && gone.error.code === 'ESRCH');
  });

  describe('the kernel gives the answers FakeIpvs gives', () => {
    let semantics: Ipvs;
    let semNs: TestNetns;
    before(async () => {
      semNs = new TestNetns('krt-ipvs');
      namespaces.push(semNs);
      semantics = await open(semNs);
    });
    after(() => semantics?.close());
    for (const c of IPVS_CASES) {
      test(c.name, async () => {
        try {
          await runIpvsCase(semantics, c);
        } finally {
          // the namespace is this test's own: start each case from an empty table
          const left = await must(semantics.listServices());
          await must(semantics.apply(left.map((s): IpvsOp => ({ op: 'delete-service', service: s }))));
        }
      });
    }
  });

  test('1,000 services x 10 destinations in one batch, timed against ipvsadm -R of the same table', async (t) => {
    const specs = Array.from({ length: 1000 }, (_, i) => ipvsService({
      family: 4, protocol: 'tcp', address: `198.18.${100 + Math.floor(i / 250)}.${i % 250}`, port: 80, scheduler: 'rr',
    }));
    const dests = (i: number) => Array.from({ length: 10 }, (_, j) => ipvsDestination({ address: `198.19.${i % 250}.${j + 1}`, port: 8080 }));
    const ops: IpvsOp[] = specs.flatMap((s, i) => [
      { op: 'add-service', service: s } as IpvsOp,
      ...dests(i).map((d): IpvsOp => ({ op: 'add-destination', service: s, destination: d })),
    ]);
    const restore = specs.flatMap((s, i) => {
      const vip = `${(s as { address: string }).address}:80`;
      return [`-A -t ${vip} -s rr`, ...dests(i).map((d) => `-a -t ${vip} -r ${d.address}:8080 -m -w 1`)];
    }).join('\n') + '\n';

    const oursNs = new TestNetns('krt-ipvs');
    const toolNs = new TestNetns('krt-ipvs');
    namespaces.push(oursNs, toolNs);
    const ours = await open(oursNs);
    try {
      const t0 = performance.now();
      const r = await must(ours.apply(ops));
      const oursMs = performance.now() - t0;
      assert.deepEqual(r, { applied: 11_000, failures: [] });
      const t1 = performance.now();
      toolNs.exec('ipvsadm', ['-R'], restore);
      const toolMs = performance.now() - t1;
      const summary = `ipvs batch: 1000 services x 10 destinations: Ipvs.apply ${oursMs.toFixed(0)} ms, ipvsadm -R ${toolMs.toFixed(0)} ms (ratio ${(oursMs / toolMs).toFixed(2)})`;
      t.diagnostic(summary);
      console.log(summary);
      // both tables are the same
      const a = oursNs.exec('ipvsadm', ['-Sn']).trim().split('\n').sort();
      const b = toolNs.exec('ipvsadm', ['-Sn']).trim().split('\n').sort();
      assert.equal(a.length, 11_000);
      assert.deepEqual(a, b);
      const t2 = performance.now();
      const listed = await must(ours.listServices());
      console.log(`ipvs dump: ${listed.length} services listed in ${(performance.now() - t2).toFixed(0)} ms`);
      assert.equal(listed.length, 1000);
      // generous: a hang or one round trip per change under TCG would blow far past this
      assert.ok(oursMs < 60_000, `batch took ${oursMs} ms`);
    } finally {
      await ours.close();
    }
  });
});
