// The ServiceAccount controller's one duty the lab needs: every namespace has a "default" ServiceAccount, the
// one pods run as unless they name another (the kubelet mounts its token).
import type { LabApi } from '../apiserver/api.ts';
import { storageKey, type KubeObject } from '../apiserver/resources.ts';

export function startDefaultServiceAccounts(api: LabApi): () => void {
  const namespaces = api.type('', 'namespaces');
  const accounts = api.type('', 'serviceaccounts');
  const ensure = (namespace: KubeObject): void => {
    const name = namespace.metadata.name ?? '';
    if (namespace.metadata.deletionTimestamp || api.get(accounts, name, 'default').ok) return;
    api.create(accounts, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: name } });
  };
  const unsubscribe = api.subscribe((event) => {
    // also after the default account was deleted: the controller recreates it, as upstream's does
    if (event.resource === storageKey(namespaces) && event.type !== 'DELETED') ensure(event.object);
    else if (event.resource === storageKey(accounts) && event.type === 'DELETED' && event.object.metadata.name === 'default') {
      const namespace = api.get(namespaces, undefined, event.object.metadata.namespace ?? '');
      if (namespace.ok) ensure(namespace.value);
    }
  });
  for (const namespace of api.list(namespaces)) ensure(namespace);
  return unsubscribe;
}
