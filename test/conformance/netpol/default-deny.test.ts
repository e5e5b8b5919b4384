// --netpol-default-deny in the lab, both backends: a pod that starts on node 1 while its kube-router is down is
// rejected both ways (it is in the node's pod CIDR but not yet programmed), while the pods kube-router programmed
// before it stopped keep their verdicts; once kube-router is back the new pod is programmed and reachable.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { probe } from '../../../lab/probe/probe.ts';
import { KubeRouterControl } from './kube-router-control.ts';
import { LabModel, type Backend } from './lab-model.ts';
import { skipUnlessRoot } from './suite.ts';

const LATE = { namespace: 'x', name: 'late' };

function describeDefaultDeny(backend: Backend, prefix: string): void {
  describe(`--netpol-default-deny (${backend})`, { skip: skipUnlessRoot }, () => {
    const model = new LabModel({ prefix, backend, firewallOnly: true, extraArgs: ['--netpol-default-deny'] });
    const control = new KubeRouterControl(model);
    before(async () => { await model.start(); });
    after(async () => {
      await control.stopAll();
      await model.stop();
    });

    test(`${backend}: a pod started while kube-router is down is rejected until kube-router programs it`, async () => {
      const connects = async (fromNetns: string, host: string): Promise<boolean> =>
        (await probe(model.lab, { from: fromNetns, host, port: 80, protocol: 'tcp', timeoutMs: 800 })).connected;
      const programmed = model.netnsOf({ namespace: 'x', name: 'a' }); // node 1
      const remote = { namespace: 'y', name: 'b' }; // node 2
      await control.stop(1);
      const pods = model.api.type('', 'pods');
      const created = model.api.create(pods, {
        apiVersion: 'v1', kind: 'Pod', metadata: { namespace: LATE.namespace, name: LATE.name, labels: { pod: 'late' } },
        spec: { nodeName: model.nodeName(1), containers: [{ name: 'serve', image: 'kube-router-lab/agent', ports: [{ containerPort: 80, protocol: 'TCP' }] }] },
      });
      assert.ok(created.ok, created.ok ? '' : created.error.message);
      let lateIp = '';
      for (let i = 0; i < 100 && !lateIp; i++) {
        const got = model.api.get(pods, LATE.namespace, LATE.name);
        const status = (got.ok ? got.value['status'] : undefined) as { podIP?: string; conditions?: { type: string; status: string }[] } | undefined;
        if (status?.podIP && status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) lateIp = status.podIP;
        else await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(lateIp, 'the late pod became Ready');
      const lateNetns = model.netnsOf(LATE);
      const remoteIp = model.ipOf(remote);
      assert.equal(await connects(lateNetns, remoteIp), false, 'an unprogrammed pod cannot send');
      assert.equal(await connects(model.netnsOf(remote), lateIp), false, 'nor be reached');
      assert.equal(await connects(programmed, remoteIp), true, 'a programmed pod on the same node keeps working');
      await control.start(1);
      const deadline = Date.now() + 20_000;
      while (!(await connects(lateNetns, remoteIp))) {
        assert.ok(Date.now() < deadline, 'the late pod was not programmed after kube-router came back');
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(await connects(model.netnsOf(remote), lateIp), true, 'and is reachable');
      model.api.delete(pods, LATE.namespace, LATE.name, { gracePeriodSeconds: 0 });
    });
  });
}

describeDefaultDeny('iptables', 'krt-cf-di');
describeDefaultDeny('nftables', 'krt-cf-dn');
