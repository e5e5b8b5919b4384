// The EndpointSlice control loop: keeps each selector Service's slices (label kubernetes.io/service-name,
// managed-by endpointslice-controller.k8s.io) equal to the plan computed from its Pods, reacting to
// Service, Pod and managed-slice changes in the store.
import type { Pod, Service } from 'kubernetes-types/core/v1.d.ts';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.d.ts';
import type { LabApi } from '../apiserver/api.ts';
import type { KubeObject } from '../apiserver/resources.ts';
import { planEndpointSlices, portSetKey, serviceSelects, type DesiredSlice } from './endpointslice-plan.ts';
import { logger } from '../../src/observe/log.ts';

const log = logger('lab-endpointslices');

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
export const MANAGED_BY = 'endpointslice-controller.k8s.io';

const asService = (o: KubeObject): Service => o as unknown as Service;
const asPod = (o: KubeObject): Pod => o as unknown as Pod;

function sliceLabels(service: Service): Record<string, string> {
  const labels: Record<string, string> = { ...service.metadata?.labels, [SERVICE_NAME_LABEL]: service.metadata?.name ?? '', [MANAGED_BY_LABEL]: MANAGED_BY };
  if (service.spec?.clusterIP === 'None') labels['service.kubernetes.io/headless'] = '';
  return labels;
}

function sliceBody(service: Service, desired: DesiredSlice, existing?: KubeObject): KubeObject {
  const name = service.metadata?.name ?? '';
  return {
    apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice',
    metadata: {
      ...(existing ? { name: existing.metadata.name, resourceVersion: existing.metadata.resourceVersion } : { generateName: `${name}-` }),
      namespace: service.metadata?.namespace ?? '',
      labels: sliceLabels(service),
      ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name, uid: service.metadata?.uid ?? '', controller: true, blockOwnerDeletion: true }],
    },
    addressType: desired.addressType,
    endpoints: desired.endpoints,
    ports: desired.ports,
  };
}

export function startEndpointSliceController(api: LabApi, maxEndpointsPerSlice?: number): () => void {
  const services = api.type('', 'services');
  const pods = api.type('', 'pods');
  const slices = api.type('discovery.k8s.io', 'endpointslices');
  const dirty = new Set<string>();
  let scheduled = false;
  let stopped = false;

  const managedSlices = (namespace: string, name: string): KubeObject[] => api.listShared(slices, namespace)
    .filter((s) => s.metadata.labels?.[SERVICE_NAME_LABEL] === name && s.metadata.labels?.[MANAGED_BY_LABEL] === MANAGED_BY);

  const reconcile = (key: string): void => {
    const [namespace = '', name = ''] = key.split('/');
    const found = api.get(services, namespace, name);
    const service = found.ok ? asService(found.value) : undefined;
    const desired = service ? planEndpointSlices(service, api.listShared(pods, namespace).map(asPod), maxEndpointsPerSlice) : [];
    const unmatched = managedSlices(namespace, name);
    const keyOf = (s: KubeObject): string => {
      const slice = s as unknown as EndpointSlice;
      return portSetKey(slice.addressType, slice.ports ?? []);
    };
    // slices with the same port set are updated in place; the rest reuse any leftover slice of their family
    // (as upstream does) so a port change does not churn slice names
    const exact = desired.map((want) => {
      const index = unmatched.findIndex((s) => keyOf(s) === portSetKey(want.addressType, want.ports));
      return index >= 0 ? unmatched.splice(index, 1)[0] : undefined;
    });
    desired.forEach((want, i) => {
      let existing = exact[i];
      if (!existing) {
        const index = unmatched.findIndex((s) => s['addressType'] === want.addressType);
        existing = index >= 0 ? unmatched.splice(index, 1)[0] : undefined;
      }
      const body = sliceBody(service as Service, want, existing);
      const result = existing ? api.update(slices, body) : api.create(slices, body);
      if (!result.ok) { log.warn({ service: key, error: result.error.message }, 'endpointslice write failed'); dirty.add(key); }
    });
    for (const stale of unmatched) api.delete(slices, namespace, stale.metadata.name ?? '');
  };

  const flush = (): void => {
    scheduled = false;
    if (stopped) return;
    const keys = [...dirty];
    dirty.clear();
    for (const key of keys) reconcile(key);
  };
  const enqueue = (namespace: string | undefined, name: string | undefined): void => {
    dirty.add(`${namespace ?? ''}/${name ?? ''}`);
    if (!scheduled) { scheduled = true; setImmediate(flush); }
  };

  const unsubscribe = api.subscribe((event) => {
    const meta = event.object.metadata;
    if (event.resource === '/services') enqueue(meta.namespace, meta.name);
    else if (event.resource === '/pods') {
      for (const service of api.listShared(services, meta.namespace).map(asService)) {
        const before = event.previous ? serviceSelects(service, asPod(event.previous)) : false;
        if (before || serviceSelects(service, asPod(event.object))) enqueue(meta.namespace, service.metadata?.name);
      }
    } else if (event.resource === 'discovery.k8s.io/endpointslices' && meta.labels?.[MANAGED_BY_LABEL] === MANAGED_BY) {
      enqueue(meta.namespace, meta.labels[SERVICE_NAME_LABEL]);
    }
  });
  for (const service of api.list(services)) enqueue(service.metadata.namespace, service.metadata.name);
  return () => { stopped = true; unsubscribe(); };
}
