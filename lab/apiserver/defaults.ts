// Field defaulting the real API server applies to the lab's types (Service, Pod, NetworkPolicy, Namespace, EndpointSlice).
import type { KubeObject } from './resources.ts';

type Json = Record<string, unknown>;

function obj(parent: Json, field: string): Json {
  const value = parent[field];
  if (value && typeof value === 'object' && !Array.isArray(value)) return value as Json;
  const created: Json = {};
  parent[field] = created;
  return created;
}

function list(parent: Json, field: string): Json[] {
  const value = parent[field];
  return Array.isArray(value) ? (value as Json[]) : [];
}

function setDefault(target: Json, field: string, value: unknown): void {
  if (target[field] === undefined || target[field] === null) target[field] = value;
}

function defaultService(service: KubeObject): void {
  const spec = obj(service, 'spec');
  setDefault(spec, 'type', 'ClusterIP');
  setDefault(spec, 'sessionAffinity', 'None');
  for (const port of list(spec, 'ports')) {
    setDefault(port, 'protocol', 'TCP');
    setDefault(port, 'targetPort', port['port']);
  }
  const type = spec['type'];
  if (type !== 'ExternalName') setDefault(spec, 'internalTrafficPolicy', 'Cluster');
  if (type === 'NodePort' || type === 'LoadBalancer') setDefault(spec, 'externalTrafficPolicy', 'Cluster');
  if (type === 'LoadBalancer') setDefault(spec, 'allocateLoadBalancerNodePorts', true);
  if (spec['sessionAffinity'] === 'ClientIP') {
    setDefault(obj(obj(spec, 'sessionAffinityConfig'), 'clientIP'), 'timeoutSeconds', 10800);
  }
  const status = obj(service, 'status');
  setDefault(status, 'loadBalancer', {});
}

function defaultContainer(container: Json): void {
  for (const port of list(container, 'ports')) setDefault(port, 'protocol', 'TCP');
  setDefault(container, 'terminationMessagePath', '/dev/termination-log');
  setDefault(container, 'terminationMessagePolicy', 'File');
  const image = String(container['image'] ?? '');
  const tag = image.includes('@') ? 'digest' : (image.split('/').pop() ?? '').split(':')[1];
  setDefault(container, 'imagePullPolicy', tag === undefined || tag === 'latest' ? 'Always' : 'IfNotPresent');
  setDefault(container, 'resources', {});
}

function defaultPod(pod: KubeObject, withStatus = true): void {
  const spec = obj(pod, 'spec');
  for (const c of [...list(spec, 'containers'), ...list(spec, 'initContainers')]) defaultContainer(c);
  setDefault(spec, 'restartPolicy', 'Always');
  setDefault(spec, 'dnsPolicy', 'ClusterFirst');
  setDefault(spec, 'terminationGracePeriodSeconds', 30);
  setDefault(spec, 'schedulerName', 'default-scheduler');
  setDefault(spec, 'securityContext', {});
  setDefault(spec, 'enableServiceLinks', true);
  setDefault(spec, 'priority', 0);
  setDefault(spec, 'preemptionPolicy', 'PreemptLowerPriority');
  setDefault(spec, 'serviceAccountName', 'default');
  setDefault(spec, 'serviceAccount', spec['serviceAccountName']);
  if (!withStatus) return;
  const status = obj(pod, 'status');
  setDefault(status, 'phase', 'Pending');
  setDefault(status, 'qosClass', 'BestEffort');
}

/** As upstream: RollingUpdate with maxUnavailable 1, history 10, and the pod template defaulted like a pod. */
function defaultDaemonSet(ds: KubeObject): void {
  const spec = obj(ds, 'spec');
  setDefault(spec, 'revisionHistoryLimit', 10);
  const strategy = obj(spec, 'updateStrategy');
  setDefault(strategy, 'type', 'RollingUpdate');
  if (strategy['type'] === 'RollingUpdate') {
    const rolling = obj(strategy, 'rollingUpdate');
    setDefault(rolling, 'maxUnavailable', 1);
    setDefault(rolling, 'maxSurge', 0);
  }
  // a template is defaulted like a pod, without the pod's status
  defaultPod(obj(spec, 'template') as KubeObject, false);
  const status = obj(ds, 'status');
  for (const field of ['currentNumberScheduled', 'numberMisscheduled', 'desiredNumberScheduled', 'numberReady']) setDefault(status, field, 0);
}

function defaultNetworkPolicy(policy: KubeObject): void {
  const spec = obj(policy, 'spec');
  setDefault(spec, 'podSelector', {});
  const ingress = list(spec, 'ingress');
  const egress = list(spec, 'egress');
  for (const rule of [...ingress, ...egress]) {
    for (const port of list(rule, 'ports')) setDefault(port, 'protocol', 'TCP');
  }
  if (!Array.isArray(spec['policyTypes']) || spec['policyTypes'].length === 0) {
    spec['policyTypes'] = Array.isArray(spec['egress']) && egress.length > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
  }
}

function defaultNamespace(namespace: KubeObject): void {
  const name = namespace.metadata.name ?? '';
  namespace.metadata.labels = { ...namespace.metadata.labels, 'kubernetes.io/metadata.name': name };
  setDefault(obj(namespace, 'spec'), 'finalizers', ['kubernetes']);
  setDefault(obj(namespace, 'status'), 'phase', 'Active');
}

function defaultEndpointSlice(slice: KubeObject): void {
  for (const port of list(slice, 'ports')) setDefault(port, 'protocol', 'TCP');
}

/** Fills in defaulted fields in place, the way the API server does before validation. */
export function applyDefaults(object: KubeObject): void {
  switch (object.kind) {
    case 'Service': return defaultService(object);
    case 'Pod': return defaultPod(object);
    case 'DaemonSet': return defaultDaemonSet(object);
    case 'NetworkPolicy': return defaultNetworkPolicy(object);
    case 'Namespace': return defaultNamespace(object);
    case 'EndpointSlice': return defaultEndpointSlice(object);
    default: return;
  }
}
