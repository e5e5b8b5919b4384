// Heavy (make test-heavy): the whole lab in the Debian-kernel VM through the CLI, `up --vm --nodes 2 -- <workload>`,
// with kube-router and its IPVS service proxy. The external client reaches a pod on node 2 over TCP, UDP and SCTP
// (SCTP exists only in the VM) and the pod reports the client's own address; a Service's ClusterIP and externalIP
// answer the external client through node 1, with the client address the endpoint saw.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { haveCommand } from '../helpers/netns.ts';

const CLI = fileURLToPath(new URL('../../bin/kube-router-lab.js', import.meta.url));
const EXTERNAL = '198.51.100.254';
const NODE1 = '198.51.100.11';

// Runs inside the VM against the lab `up --vm` brought up; prints one "RESULT <json>" line per probe.
const WORKLOAD = String.raw`
set -e
L="node ${CLI}"
K="kubectl --kubeconfig /tmp/kube-router-lab/api/kubeconfig"
ports='[{"containerPort":8080},{"containerPort":5353,"protocol":"UDP"},{"containerPort":7777,"protocol":"SCTP"}]'
pod() { echo "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"$1\",\"labels\":{\"app\":\"web\"}},\"spec\":{\"nodeName\":\"krl-$2\",\"containers\":[{\"name\":\"c\",\"image\":\"x\",\"ports\":$ports}]}}"; }
{ pod a n1; pod b n2; echo '{"apiVersion":"v1","kind":"Service","metadata":{"name":"web"},"spec":{"selector":{"app":"web"},"ports":[{"port":80,"targetPort":8080}],"externalIPs":["198.19.32.10"]}}'; } | $K apply -f - >/dev/null
if ! $K wait --for=condition=Ready pod/a pod/b --timeout=240s >/dev/null; then
  $K get pods -o jsonpath='{range .items[*]}{.metadata.name} {.status.phase} {.status.conditions}{"\n"}{end}'
  tail -20 /tmp/kube-router-lab/logs/supervisor.log; exit 1
fi
A=$($K get pod a -o jsonpath='{.status.podIP}')
B=$($K get pod b -o jsonpath='{.status.podIP}')
CIP=$($K get svc web -o jsonpath='{.spec.clusterIP}')
echo "PODS $A $B"
probes() {
  for p in "8080 tcp" "5353 udp" "7777 sctp"; do set -- $p; echo "{\"from\":\"external\",\"host\":\"$B\",\"port\":$1,\"protocol\":\"$2\"}"; done
  echo "{\"from\":\"default/a\",\"host\":\"$B\",\"port\":7777,\"protocol\":\"sctp\"}"
  for i in 1 2; do echo "{\"from\":\"external\",\"host\":\"$CIP\",\"port\":80,\"service\":true}"; echo "{\"from\":\"external\",\"host\":\"198.19.32.10\",\"port\":80,\"service\":true}"; done
}
# the proxy programs the Service a moment after the endpoints exist: retry until every probe connects
for try in 1 2 3 4 5 6 7 8 9 10; do
  if out=$(probes | $L probe --batch --timeout 5s); then break; fi
  sleep 3
done
echo "$out" | sed 's/^/RESULT /'
`;

interface Result { from: string; host: string; protocol?: string; service?: boolean; connected: boolean; answer?: string; client?: string; error?: string }

describe('the whole lab in the VM (up --vm): external client and client addresses', { skip: haveCommand('qemu-system-x86_64') ? false : 'qemu-system-x86_64 not installed' }, () => {
  let output = '';
  let code: number | null = null;

  before(async () => {
    const child = spawn(process.execPath, [CLI, 'up', '--vm', '--nodes', '2', '--', 'sh', '-c', WORKLOAD], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.setEncoding('utf8').on('data', (d: string) => { output += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { output += d; });
    code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  }, { timeout: 1_300_000 });

  test('probes from the external client and from pods carry the address each endpoint saw', () => {
    assert.equal(code, 0, output);
    const [, a, b] = /^PODS (\S+) (\S+)$/m.exec(output) ?? [];
    assert.ok(a && b, output);
    const results = [...output.matchAll(/^RESULT (.*)$/gm)].map((m) => JSON.parse(m[1]!) as Result);
    assert.equal(results.length, 8, output);
    const direct = results.filter((r) => !r.service).map((r) => [r.from, r.protocol, r.connected, r.answer, r.client]);
    assert.deepEqual(direct, [
      ['external', 'tcp', true, 'default/b', EXTERNAL],
      ['external', 'udp', true, 'default/b', EXTERNAL],
      ['external', 'sctp', true, 'default/b', EXTERNAL],
      ['default/a', 'sctp', true, 'default/b', a],
    ]);
    // through node 1's IPVS: an endpoint sees the external client itself, or node 1 where node 1 masqueraded
    for (const r of results.filter((r) => r.service)) {
      assert.equal(r.connected, true, `${r.host}: ${r.error ?? ''}`);
      assert.ok(['default/a', 'default/b'].includes(r.answer ?? ''), `${r.host} answered ${r.answer}`);
      assert.ok([EXTERNAL, NODE1].includes(r.client ?? ''), `${r.host} saw client ${r.client}`);
    }
  });
});
