// The EndpointSlice control loop: keeps each selector Service's slices (label kubernetes.io/service-name,
// managed-by endpointslice-controller.k8s.io) equal to the plan computed from its Pods, reacting to
// Service, Pod and managed-slice changes in the store.
import type { Pod, Service } from 'kubernetes-types/core/v1.d.ts';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.d.ts';
import type { LabApi } from '../apiserver/api.ts';
import type { KubeObject } from '../apiserver/resources.ts';
import { planEndpointSlices, portSetKey, servicePlansSlices, serviceSelects, type DesiredSlice } from './endpointslice-plan.ts';
import { LabelIndex } from './label-index.ts';
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

/**
 * `batchMs`: how long changes collect before the dirty Services are reconciled (upstream's
 * --endpoint-updates-batch-period): while pods are created in bulk a Service's slice is written once per batch
 * rather than once per pod. 0: on the next turn of the event loop.
 */
export function startEndpointSliceController(api: LabApi, maxEndpointsPerSlice?: number, batchMs = 0): () => void {
  const services = api.type('', 'services');
  const pods = api.type('', 'pods');
  const slices = api.type('discovery.k8s.io', 'endpointslices');
  const dirty = new Set<string>();
  let scheduled = false;
  let stopped = false;
  // Indexes kept from the store's events, so the work per change is proportional to what it touches: the pods
  // a selector may match, the selector services a pod's labels may satisfy, the managed slices of a service.
  const podLabels = new LabelIndex();
  const serviceSelectors = new LabelIndex();
  const sliceNames = new Map<string, Set<string>>();
  const servicePairs = (o: KubeObject): Record<string, string> => {
    const service = asService(o);
    return servicePlansSlices(service) ? service.spec?.selector ?? {} : {};
  };
  const sliceOwner = (o: KubeObject): string | undefined => (o.metadata.labels?.[MANAGED_BY_LABEL] === MANAGED_BY
    ? `${o.metadata.namespace ?? ''}/${o.metadata.labels[SERVICE_NAME_LABEL] ?? ''}` : undefined);
  const indexSlice = (o: KubeObject, present: boolean): void => {
    const owner = sliceOwner(o);
    if (!owner) return;
    let names = sliceNames.get(owner);
    if (present) {
      if (!names) { names = new Set(); sliceNames.set(owner, names); }
      names.add(o.metadata.name ?? '');
    } else {
      names?.delete(o.metadata.name ?? '');
      if (names?.size === 0) sliceNames.delete(owner);
    }
  };

  const managedSlices = (namespace: string, name: string): KubeObject[] => [...sliceNames.get(`${namespace}/${name}`) ?? []]
    .flatMap((slice) => { const found = api.getShared(slices, namespace, slice); return found ? [found] : []; })
    .filter((s) => s.metadata.labels?.[SERVICE_NAME_LABEL] === name && s.metadata.labels?.[MANAGED_BY_LABEL] === MANAGED_BY);
  const selectedPods = (service: Service, namespace: string): Pod[] => podLabels.allOf(namespace, service.spec?.selector ?? {})
    .flatMap((pod) => { const found = api.getShared(pods, namespace, pod); return found ? [asPod(found)] : []; });

  const reconcile = (key: string): void => {
    const [namespace = '', name = ''] = key.split('/');
    const found = api.getShared(services, namespace, name);
    const service = found ? asService(found) : undefined;
    const desired = service && servicePlansSlices(service) ? planEndpointSlices(service, selectedPods(service, namespace), maxEndpointsPerSlice) : [];
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
    if (scheduled) return;
    scheduled = true;
    if (batchMs > 0) setTimeout(flush, batchMs).unref();
    else setImmediate(flush);
  };

  const podChanged = (namespace: string, pod: KubeObject | undefined): void => {
    if (!pod) return;
    for (const name of serviceSelectors.anyOf(namespace, pod.metadata.labels ?? {})) {
      const service = api.getShared(services, namespace, name);
      if (service && serviceSelects(asService(service), asPod(pod))) enqueue(namespace, name);
    }
  };
  const unsubscribe = api.subscribe((event) => {
    const meta = event.object.metadata;
    const namespace = meta.namespace ?? '';
    if (event.resource === '/services') {
      if (event.type === 'DELETED') serviceSelectors.delete(namespace, meta.name ?? '');
      else serviceSelectors.set(namespace, meta.name ?? '', servicePairs(event.object), true);
      enqueue(meta.namespace, meta.name);
    } else if (event.resource === '/pods') {
      if (event.type === 'DELETED') podLabels.delete(namespace, meta.name ?? '');
      else podLabels.set(namespace, meta.name ?? '', meta.labels ?? {});
      podChanged(namespace, event.previous);
      podChanged(namespace, event.object);
    } else if (event.resource === 'discovery.k8s.io/endpointslices') {
      if (event.previous) indexSlice(event.previous, false);
      indexSlice(event.object, event.type !== 'DELETED');
      if (meta.labels?.[MANAGED_BY_LABEL] === MANAGED_BY) enqueue(meta.namespace, meta.labels[SERVICE_NAME_LABEL]);
    }
  });
  for (const pod of api.listShared(pods)) podLabels.set(pod.metadata.namespace ?? '', pod.metadata.name ?? '', pod.metadata.labels ?? {});
  for (const slice of api.listShared(slices)) indexSlice(slice, true);
  for (const service of api.listShared(services)) {
    serviceSelectors.set(service.metadata.namespace ?? '', service.metadata.name ?? '', servicePairs(service), true);
    enqueue(service.metadata.namespace, service.metadata.name);
  }
  return () => { stopped = true; unsubscribe(); };
}
