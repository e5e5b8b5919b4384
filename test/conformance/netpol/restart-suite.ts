// The restart test as a node:test suite for one backend, in a lab of its own (used by restart.test.ts).
import { after, before, describe, test } from 'node:test';
import { KubeRouterControl } from './kube-router-control.ts';
import { LabModel, type Backend } from './lab-model.ts';
import { restartTest, skipUnlessRoot } from './suite.ts';

export function describeRestart(backend: Backend, prefix: string): void {
  describe(`kube-router restart with policies in force (${backend})`, { skip: skipUnlessRoot }, () => {
    // firewall only: stopping kube-router also stops its BGP speaker, whose withdrawn routes are not under test here
    const model = new LabModel({ prefix, backend, firewallOnly: true });
    const control = new KubeRouterControl(model);
    before(async () => { await model.start(); });
    after(async () => {
      await control.stopAll();
      await model.stop();
    });

    test(`${backend}: allowed pairs never fail and denied pairs never connect while node 1's kube-router is stopped (SIGTERM) and restarted with the same arguments`,
      async () => restartTest(model, control));
  });
}
