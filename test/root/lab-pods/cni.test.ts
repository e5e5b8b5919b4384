// The conflist runner against libcni semantics: per-plugin stdin and env, order, prevResult, DEL in reverse
// with the cached result, runtimeConfig only for declared capabilities, CHECK rules; and with the real plugins.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRoot, TestNetns } from '../../helpers/netns.ts';
import { execIn } from '../../../lab/netns/exec.ts';
import { createNetwork } from '../../../lab/netns/network.ts';
import { cniAdd, cniCheck, cniDel, pluginStdin, readConflist, type CniAttachment, type CniConflist } from '../../../lab/pods/cni.ts';
import { createPod, findPod, teardownLab } from '../../../lab/pods/runtime.ts';
import { probe } from '../../../lab/probe/probe.ts';

// A plugin that logs what it was given (command, netns it ran in, env, stdin) and answers like a chain member.
const RECORDER = `#!${process.execPath}
const fs = require('fs');
const conf = JSON.parse(fs.readFileSync(0, 'utf8'));
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('CNI_')));
const netns = fs.readlinkSync('/proc/self/ns/net');
fs.appendFileSync(process.env.RECORD_FILE, JSON.stringify({ conf, env, netns }) + '\\n');
if (env.CNI_COMMAND === 'ADD') {
  const prev = conf.prevResult || { cniVersion: conf.cniVersion, interfaces: [], ips: [] };
  prev.ips = [...(prev.ips || []), { address: '198.18.9.' + (prev.ips.length + 2) + '/24', version: '4' }];
  process.stdout.write(JSON.stringify(prev));
}
`;

describe('CNI conflist runner', { skip: !isRoot && 'needs root' }, () => {
  let dir: string;
  let node: TestNetns;
  let pod: TestNetns;
  const record = (): { conf: Record<string, unknown>; env: Record<string, string>; netns: string }[] =>
    readFileSync(join(dir, 'calls.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as never);

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'krt-lp-cni-'));
    writeFileSync(join(dir, 'recorder'), RECORDER);
    chmodSync(join(dir, 'recorder'), 0o755);
    process.env['RECORD_FILE'] = join(dir, 'calls.jsonl');
    node = new TestNetns('krt-lp');
    pod = new TestNetns('krt-lp');
  });
  after(() => {
    node.delete();
    pod.delete();
    rmSync(dir, { recursive: true, force: true });
  });

  const list = (cniVersion: string): CniConflist => ({
    cniVersion,
    name: 'rec',
    plugins: [
      { type: 'recorder', tag: 'first', capabilities: { portMappings: true } },
      { type: 'recorder', tag: 'second', capabilities: { bandwidth: false } },
    ],
  });
  const att = (): CniAttachment => ({
    containerId: 'c1', netnsPath: pod.path, ifName: 'eth0',
    args: [['K8S_POD_NAMESPACE', 'ns'], ['K8S_POD_NAME', 'p'], ['IP', '198.18.9.9']],
    capabilityArgs: { portMappings: [{ hostPort: 1, containerPort: 2, protocol: 'tcp' }], bandwidth: { ingressRate: 1 } },
  });

  it('runs ADD in order inside the node namespace, chaining prevResult, with kubelet-style env', async () => {
    rmSync(join(dir, 'calls.jsonl'), { force: true });
    const env = { execNetns: node.name, cniPath: ['/nonexistent', dir], cacheDir: dir };
    const r = await cniAdd(list('0.4.0'), att(), env);
    assert.ok(r.ok);
    assert.deepEqual(r.value.ips!.map((ip) => ip.address), ['198.18.9.2/24', '198.18.9.3/24']);
    const calls = record();
    assert.deepEqual(calls.map((c) => c.conf['tag']), ['first', 'second']);
    const nodeNs = (await execIn(node.name, ['readlink', '/proc/self/ns/net'])).stdout.trim();
    for (const c of calls) {
      assert.equal(c.netns, nodeNs);
      assert.deepEqual([c.conf['name'], c.conf['cniVersion']], ['rec', '0.4.0']);
      assert.deepEqual(c.env, {
        CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_NETNS: pod.path, CNI_IFNAME: 'eth0', CNI_PATH: `/nonexistent:${dir}`,
        CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;IP=198.18.9.9',
      });
    }
    assert.equal(calls[0]!.conf['prevResult'], undefined);
    assert.deepEqual((calls[1]!.conf['prevResult'] as { ips: { address: string }[] }).ips.map((i) => i.address), ['198.18.9.2/24']);
    // runtimeConfig carries only capabilities the plugin declares true
    assert.deepEqual(calls[0]!.conf['runtimeConfig'], { portMappings: [{ hostPort: 1, containerPort: 2, protocol: 'tcp' }] });
    assert.equal(calls[1]!.conf['runtimeConfig'], undefined);
  });

  it('runs CHECK with the cached result and DEL in reverse with it as prevResult (cniVersion 0.4.0)', async () => {
    const env = { execNetns: node.name, cniPath: [dir], cacheDir: dir };
    rmSync(join(dir, 'calls.jsonl'), { force: true });
    assert.ok((await cniCheck(list('0.4.0'), att(), env)).ok);
    assert.ok((await cniDel(list('0.4.0'), att(), env)).ok);
    const calls = record();
    assert.deepEqual(calls.map((c) => `${c.env['CNI_COMMAND']}:${String(c.conf['tag'])}`), ['CHECK:first', 'CHECK:second', 'DEL:second', 'DEL:first']);
    for (const c of calls) assert.equal((c.conf['prevResult'] as { ips: unknown[] }).ips.length, 2);
    // the cache is gone after DEL: a second CHECK has nothing to check against
    assert.equal((await cniCheck(list('0.4.0'), att(), env)).ok, false);
  });

  it('refuses CHECK below 0.4.0 and sends no prevResult on DEL there', async () => {
    const env = { execNetns: node.name, cniPath: [dir], cacheDir: dir };
    assert.ok((await cniAdd(list('0.3.1'), att(), env)).ok);
    rmSync(join(dir, 'calls.jsonl'), { force: true });
    const check = await cniCheck(list('0.3.1'), att(), env);
    assert.equal(check.ok, false);
    assert.ok((await cniDel(list('0.3.1'), att(), env)).ok);
    assert.deepEqual(record().map((c) => [c.env['CNI_COMMAND'], c.conf['prevResult']]), [['DEL', undefined], ['DEL', undefined]]);
  });

  it('reports a missing plugin and a plugin error with its code and message', async () => {
    const env = { execNetns: node.name, cniPath: [dir], cacheDir: dir };
    const missing = await cniAdd({ cniVersion: '0.4.0', name: 'x', plugins: [{ type: 'nope' }] }, att(), env);
    assert.deepEqual(missing.ok ? undefined : [missing.error.plugin, /failed to find plugin/.test(missing.error.msg)], ['nope', true]);
    // host-local run as a plugin of its own has no "ipam" section to read
    const bad = await cniAdd({ cniVersion: '0.4.0', name: 'x', plugins: [{ type: 'host-local' }] }, att(), { ...env, cniPath: ['/usr/lib/cni'] });
    assert.equal(bad.ok, false);
    if (!bad.ok) assert.deepEqual([bad.error.plugin, bad.error.code > 0, bad.error.msg.length > 0], ['host-local', true, true]);
  });

  it('builds plugin stdin from the list name and version, overriding the plugin\'s own', () => {
    const conf = pluginStdin({ cniVersion: '1.0.0', name: 'net', plugins: [] }, { type: 't', name: 'other', cniVersion: '0.1.0' }, att());
    assert.deepEqual([conf['name'], conf['cniVersion'], conf['type']], ['net', '1.0.0', 't']);
  });
});

describe('pods wired with a given conflist and the real plugins', { skip: !isRoot && 'needs root' }, () => {
  const lab = { prefix: `krt-lp-c${process.pid}` };
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'krt-lp-conf-'));
    await createNetwork({ prefix: lab.prefix, nodes: 1 });
  });
  after(async () => {
    await teardownLab(lab);
    rmSync(dir, { recursive: true, force: true });
  });

  it('uses the node\'s conflist file (kube-router style, 0.3.0), and CHECK of a default-conflist pod catches a broken eth0', async () => {
    const file = join(dir, '10-kuberouter.conflist');
    writeFileSync(file, JSON.stringify({
      cniVersion: '0.3.0', name: 'mynet',
      plugins: [
        { name: 'kubernetes', type: 'bridge', bridge: 'kr-br', isDefaultGateway: true, ipam: { type: 'host-local', subnet: '198.18.7.0/24', dataDir: join(dir, 'ipam') } },
        { type: 'portmap', capabilities: { snat: true, portMappings: true } },
      ],
    }));
    const given = await createPod(lab, { node: `${lab.prefix}-n1`, namespace: 'd', name: 'given', uid: 'g', conflistFile: file, ports: [{ port: 80, protocol: 'TCP' }] });
    assert.equal(given.podIPs[0], '198.18.7.2');
    assert.match((await execIn(`${lab.prefix}-n1`, ['ip', '-o', 'addr', 'show', 'dev', 'kr-br'])).stdout, /198\.18\.7\.1\/24/);
    const dflt = await createPod(lab, { node: `${lab.prefix}-n1`, namespace: 'd', name: 'dflt', uid: 'd', ports: [{ port: 80, protocol: 'TCP' }] });
    // the node routes between its two bridges' subnets
    const r = await probe(lab, { from: given.netnsName, host: dflt.podIPs[0]!, port: 80, timeoutMs: 1000 });
    assert.deepEqual([r.connected, r.answer], [true, 'd/dflt']);

    const rec = findPod(lab, 'd', 'dflt')!;
    const conflist = readConflist(rec.conflistFile!);
    const attachment: CniAttachment = { containerId: rec.containerId, netnsPath: `/run/netns/${rec.netns}`, ifName: 'eth0', args: [] };
    const env = { execNetns: rec.node, cacheDir: `/run/krt-lab/${lab.prefix}/cni-cache` };
    assert.ok((await cniCheck(conflist, attachment, env)).ok);
    await execIn(rec.netns, ['ip', 'addr', 'flush', 'dev', 'eth0']);
    assert.equal((await cniCheck(conflist, attachment, env)).ok, false);
  });
});
