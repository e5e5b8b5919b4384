// What the cache keeps of a Pod: only the fields a controller reads (the firewall: labels, node, addresses,
// phase, hostNetwork, named container ports; events about a pod: its identity). A Pod from the API server carries
// far more (status conditions and container statuses, volumes, env, images, managedFields, other annotations),
// and the cache holds one per pod of the cluster: at 50k pods that is most of the daemon's heap.
import type { Container, Pod } from 'kubernetes-types/core/v1.js';

/** Annotations a controller may read: kube-router's own. */
const KEPT_ANNOTATION = /^kube-router\.io\//;

function slimContainer(c: Container): Container {
  return { name: c.name, ...(c.ports ? { ports: c.ports } : {}), ...(c.restartPolicy ? { restartPolicy: c.restartPolicy } : {}) };
}

export function slimPod(pod: Pod): Pod {
  const m = pod.metadata ?? {};
  const annotations = Object.entries(m.annotations ?? {}).filter(([k]) => KEPT_ANNOTATION.test(k));
  const spec = pod.spec;
  const status = pod.status;
  const defined = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
  return defined({
    apiVersion: pod.apiVersion, kind: pod.kind,
    metadata: defined({
      name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion, generation: m.generation,
      labels: m.labels, deletionTimestamp: m.deletionTimestamp,
      annotations: annotations.length > 0 ? Object.fromEntries(annotations) : undefined,
    }),
    spec: spec ? defined({
      nodeName: spec.nodeName, hostNetwork: spec.hostNetwork,
      containers: spec.containers?.map(slimContainer) ?? [],
      initContainers: spec.initContainers?.map(slimContainer),
    }) : undefined,
    status: status ? defined({ phase: status.phase, podIP: status.podIP, podIPs: status.podIPs, hostIP: status.hostIP }) : undefined,
  });
}
