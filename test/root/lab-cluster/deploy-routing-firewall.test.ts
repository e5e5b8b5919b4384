// deploy/generic-routing-firewall.yaml installed as a user installs it: the image built by deploy/image/build.sh
// loaded into the lab, `up --no-kube-router`, `kubectl apply -f` of the manifest exactly as shipped (it needs no
// edit), `rollout status`. Then every node's kube-router is the image's, in that node's namespace; pods on
// different nodes reach each other over the routes it announces; a NetworkPolicy admits and drops real
// connections; and a ClusterRole without its Events rule makes the lab answer 403, which kube-router reports
// (its log names the refused Event) while it stays up and keeps routing and enforcing.
// The other variants, and a rolling upgrade under continuous probes, are in test/heavy/deploy-variants.test.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { isRoot } from '../../helpers/netns.ts';
import { hasKubectl, until } from './lab-cli.ts';
import { DeployLab, IMAGE, imageUnavailable, variantManifest } from './deploy-lab.ts';
import { assertAnswers, createEventAs, crossNodePairs, jsonLogLines, policyPairs, WEB_POLICY, withoutEventsRule, workload } from './deploy-checks.ts';

const PREFIX = 'krt-dp';
const hasUmoci = spawnSync('umoci', ['--version']).status === 0;
const preconditions = !isRoot ? 'needs root' : !hasKubectl() ? 'needs kubectl' : !hasUmoci ? 'needs umoci (apt-get install umoci)' : false;
const skip = preconditions || imageUnavailable();

describe('deploy/generic-routing-firewall.yaml from the image in the lab', { skip }, () => {
  const lab = new DeployLab(PREFIX, 2);
  let ips = new Map<string, string>();

  before(() => lab.up([IMAGE]));
  after(() => lab.close());

  test('kubectl apply as shipped: every node runs kube-router from the image; pods route across nodes', async () => {
    const pods = lab.applyAndRollOut(variantManifest('generic-routing-firewall'));
    lab.assertRunningFromImage(pods);
    for (const pod of pods) assert.match(lab.logs(pod, 'install-cni'), /cni-install: (installed|.* is up to date)/);
    ips = await workload(lab);
    assertAnswers(await lab.untilVerdicts('pods reach each other across nodes', crossNodePairs(ips)), ips);
  });

  test('a NetworkPolicy admits the allowed pods and drops the others, with real connections', async () => {
    lab.kc(['apply', '-f', '-'], WEB_POLICY);
    assertAnswers(await lab.untilVerdicts('the policy enforced', policyPairs(ips)), ips);
  });

  test('without the Events rule the lab answers 403; kube-router reports it and keeps working', async () => {
    lab.kc(['apply', '-f', '-'], withoutEventsRule(variantManifest('generic-routing-firewall')));
    const pods = lab.routerPodsNow();
    const n2 = pods.find((p) => p.spec.nodeName === lab.node(2))!;
    assert.equal(await createEventAs(lab, n2), 403, 'the ServiceAccount may no longer create Events');
    // A pod CIDR annotation that is not a CIDR: kube-router on node 2 rejects it with an Event on its Node.
    lab.kc(['annotate', 'node', lab.node(2), 'kube-router.io/pod-cidr=not-a-cidr']);
    const refused = await until('kube-router to report the refused Event', 30_000, async () =>
      jsonLogLines(lab.logs(n2)).find((l) => l.msg === 'could not create event' && l.reason === 'BadPodCidrAnnotation'));
    assert.equal(refused.error?.code, 403);
    const later = lab.routerPodsNow();
    assert.deepEqual(later.map((p) => p.metadata.uid).sort(), pods.map((p) => p.metadata.uid).sort(), 'no kube-router pod was replaced');
    const restarts = later.flatMap((p) => (p as { status?: { containerStatuses?: Array<{ restartCount: number }> } }).status?.containerStatuses ?? []);
    assert.ok(restarts.every((c) => c.restartCount === 0), `no container restarted: ${JSON.stringify(restarts)}`);
    lab.assertRunningFromImage(later);
    assertAnswers(await lab.untilVerdicts('routing and policy still in force', policyPairs(ips)), ips);
  });
});
