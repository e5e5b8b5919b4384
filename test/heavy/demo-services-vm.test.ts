// Heavy (make test-heavy, make test-proxy): the demo's Service part as `make demo` runs it on a host without IPVS —
// the same script in the Debian-kernel VM (`kube-router-lab vm-run`), which starts a 2-node lab there with the proxy
// on, creates the workload, the ClusterIP Service "web" and the NodePort Service "web-nodeport" with kubectl and
// narrates the probes. Every narrated line must report answers from the workload pods, with real packets.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { servicesInVmScript } from '../../lab/demo/in-vm.ts';
import { haveCommand } from '../helpers/netns.ts';

const CLI = fileURLToPath(new URL('../../bin/kube-router-lab.js', import.meta.url));
const NODE1 = '198.51.100.11';
const NODE2 = '198.51.100.12';
const EXTERNAL = '198.51.100.254';

/** "… answered by demo/web-1 ×2 (saw A and B), demo/web-2 ×3 (saw C)" -> the client addresses each pod reported. */
function answersOf(line: string): Map<string, string[]> {
  const answered = /answered by (.+)$/.exec(line)?.[1] ?? '';
  return new Map([...answered.matchAll(/(\S+) ×\d+(?: \(saw ([^)]+)\))?/g)].map((m) => [m[1]!, m[2]?.split(' and ') ?? []]));
}

describe('the demo\'s Service part in the VM: ClusterIP and NodePort answered by the workload', { skip: haveCommand('qemu-system-x86_64') ? false : 'qemu-system-x86_64 not installed' }, () => {
  let output = '';
  let code: number | null = null;

  before(async () => {
    const child = spawn(process.execPath, [CLI, 'vm-run', '--timeout', '1200s', '--', 'sh', '-c', servicesInVmScript('krdt', 4)], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.setEncoding('utf8').on('data', (d: string) => { output += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { output += d; });
    code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  }, { timeout: 1_300_000 });

  test('the ClusterIP, node-to-node and external NodePort lines name workload pods answering, each with the client address it must see', () => {
    assert.equal(code, 0, output);
    assert.match(output, /^4\. ClusterIP Service "web"/m, output);
    assert.match(output, /^5\. NodePort Service "web-nodeport" in front of web-1..3:/m, output);
    const lines = {
      clusterIp: /^ {3}ClusterIP: client on krdt-n1 -> .*$/m.exec(output)?.[0],
      fromNode: /^ {3}NodePort: node krdt-n2 \(198\.51\.100\.12\) -> krdt-n1 198\.51\.100\.11:\d+: .*$/m.exec(output)?.[0],
      fromExternal: /^ {3}NodePort: external client \(198\.51\.100\.254\) -> krdt-n1 198\.51\.100\.11:\d+: .*$/m.exec(output)?.[0],
    };
    const clientPod = /^ {2}client +1\/1 +Running +\d+ +\S+ +(\S+) /m.exec(output)?.[1];
    assert.ok(clientPod, output);
    // web-1 runs on node 1 (the probed node), web-2 and web-3 on node 2 (manifests.ts). A pod behind the ClusterIP
    // sees the client pod; behind the NodePort, web-1 sees the caller and the others node 1, which masqueraded.
    const saw = {
      clusterIp: { 'demo/web-1': clientPod, 'demo/web-2': clientPod, 'demo/web-3': clientPod },
      fromNode: { 'demo/web-1': NODE2, 'demo/web-2': NODE1, 'demo/web-3': NODE1 },
      fromExternal: { 'demo/web-1': EXTERNAL, 'demo/web-2': NODE1, 'demo/web-3': NODE1 },
    } as const;
    for (const [name, line] of Object.entries(lines) as [keyof typeof saw, string | undefined][]) {
      assert.ok(line, `no ${name} line in:\n${output}`);
      const answers = answersOf(line);
      assert.ok(answers.size > 0, `${name}: ${line}`);
      for (const [pod, clients] of answers) {
        const expected = (saw[name] as Record<string, string>)[pod];
        assert.ok(expected, `${name}: ${pod} is not a workload pod: ${line}`);
        assert.deepEqual(clients, [expected], `${name}: ${pod} saw ${clients.join(', ')}: ${line}`);
      }
    }
  });
});
