// What the cache keeps of each object: only the fields a controller reads. Objects from the API server carry far
// more (a Pod's status conditions, container statuses, volumes, env, images; a Node's image list and conditions;
// an EndpointSlice endpoint's targetRef, zone and hints; annotations such as last-applied-configuration), and the
// cache holds one per object of the cluster: at 50k pods and 10k Services that is most of the daemon's heap.
// A controller that starts reading a new field adds it here (test/unit/kube/slim.test.ts lists what is kept).
//
// Each kept object is one literal with a fixed set of keys (absent fields are undefined, which JSON and every
// reader treat as missing): V8 then stores the fields inside the object and gives all of one kind a single
// shape, where building them key by key cost a separate property array per object and ~0.7 s of CPU at 50k pods.
// Values that repeat across objects (namespaces, node names, label maps, port tables) are kept once
// (shared-values.ts): shared parts are frozen, like everything stored is immutable.
import type { Container, ContainerPort, Node, Pod, PodIP, Service } from 'kubernetes-types/core/v1.js';
import type { Endpoint, EndpointConditions, EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import { sharedLabels, sharedString, sharedStructure } from './shared-values.ts';

/** Annotations a controller may read: kube-router's own, and the leader-election record routing skips slices by. */
const KEPT_ANNOTATION = /^kube-router\.io\/|^control-plane\.alpha\.kubernetes\.io\/leader$/;

function keptAnnotations(all: Record<string, string> | undefined): Record<string, string> | undefined {
  if (!all) return undefined;
  let kept: Record<string, string> | undefined;
  for (const [k, v] of Object.entries(all)) if (KEPT_ANNOTATION.test(k)) (kept ??= {})[k] = v;
  return kept;
}

/**
 * Identity (names, uid for Events, resourceVersion for the reflector's relist), labels and the kept annotations.
 * Not generation nor deletionTimestamp: no controller reads them of these kinds (NetworkPolicies, which are
 * stored whole, keep theirs).
 */
function slimMeta(m: ObjectMeta | undefined, keepUid = true): ObjectMeta {
  return {
    name: m?.name, namespace: sharedString(m?.namespace), uid: keepUid ? m?.uid : undefined, resourceVersion: m?.resourceVersion,
    labels: sharedLabels(m?.labels), annotations: keptAnnotations(m?.annotations),
  };
}

const slimPort = (p: ContainerPort): ContainerPort => ({ name: p.name, containerPort: p.containerPort, protocol: p.protocol });

function slimContainer(c: Container): Container {
  return { name: c.name, ports: c.ports?.map(slimPort), restartPolicy: c.restartPolicy };
}

/** Replicas declare the same containers: one shared table per distinct list. */
function slimContainers(cs: Container[] | undefined): Container[] | undefined {
  return cs === undefined ? undefined : sharedStructure(cs.map(slimContainer));
}

/**
 * podIPs' first entry is podIP (the API guarantees it): a single-stack pod's podIPs, only that, is not kept
 * (80 bytes a pod); read the addresses with podIPsOf.
 */
function slimPodIps(ips: PodIP[] | undefined, podIP: string | undefined): PodIP[] | undefined {
  if (ips === undefined || (ips.length === 1 && ips[0]!.ip === podIP)) return undefined;
  return ips.map((p) => ({ ip: p.ip === podIP ? podIP : p.ip }));
}

/** A cached pod's addresses: podIP, then the other podIPs (dual-stack); empty before it has one. */
export function podIPsOf(pod: Pod): string[] {
  const out: string[] = [];
  const primary = pod.status?.podIP;
  if (primary) out.push(primary);
  for (const p of pod.status?.podIPs ?? []) if (p.ip && p.ip !== primary) out.push(p.ip);
  return out;
}

/** The firewall reads labels, node, addresses, phase, hostNetwork and named container ports; Events the identity. */
export function slimPod(pod: Pod): Pod {
  const spec = pod.spec;
  const status = pod.status;
  return {
    apiVersion: sharedString(pod.apiVersion), kind: sharedString(pod.kind), metadata: slimMeta(pod.metadata),
    spec: spec && {
      nodeName: sharedString(spec.nodeName), hostNetwork: spec.hostNetwork,
      containers: slimContainers(spec.containers) ?? [], initContainers: slimContainers(spec.initContainers),
    },
    status: status && {
      phase: sharedString(status.phase), podIP: status.podIP, podIPs: slimPodIps(status.podIPs, status.podIP), hostIP: sharedString(status.hostIP),
    },
  };
}

/**
 * Routing and the proxy read the whole spec (types, IPs, ports, traffic policies, affinity) and the load balancer
 * ingress; not the selector (EndpointSlices say which pods back a Service) nor status conditions.
 */
export function slimService(svc: Service): Service {
  let spec: Service['spec'];
  if (svc.spec) {
    const { selector: _selector, ...rest } = svc.spec;
    spec = rest;
  }
  const ingress = svc.status?.loadBalancer?.ingress;
  return {
    apiVersion: sharedString(svc.apiVersion), kind: sharedString(svc.kind), metadata: slimMeta(svc.metadata), spec,
    status: svc.status && { loadBalancer: { ingress } },
  };
}

// Nearly every endpoint is ready and serving: one frozen conditions object serves them all.
const READY: EndpointConditions = Object.freeze({ ready: true, serving: true, terminating: false });

function slimConditions(c: EndpointConditions | undefined): EndpointConditions | undefined {
  if (c === undefined) return undefined;
  if (c.ready === true && c.serving === true && c.terminating === false) return READY;
  return { ready: c.ready, serving: c.serving, terminating: c.terminating };
}

/** An endpoint keeps its addresses, readiness and node: not targetRef, hostname, zone or hints. */
function slimEndpoint(e: Endpoint): Endpoint {
  return { addresses: e.addresses, conditions: slimConditions(e.conditions), nodeName: sharedString(e.nodeName) };
}

export function slimEndpointSlice(slice: EndpointSlice): EndpointSlice {
  return {
    // no uid: Events about a slice name it by namespace and name (there are three slices per Service or so)
    apiVersion: sharedString(slice.apiVersion), kind: sharedString(slice.kind), metadata: slimMeta(slice.metadata, false), addressType: sharedString(slice.addressType),
    ports: sharedStructure(slice.ports?.map((p) => ({ name: p.name, protocol: p.protocol, port: p.port }))),
    endpoints: slice.endpoints?.map(slimEndpoint) ?? [],
  };
}

/** Routing, the proxy and the firewall read a Node's addresses, pod CIDRs and kube-router annotations. */
export function slimNode(node: Node): Node {
  return {
    apiVersion: sharedString(node.apiVersion), kind: sharedString(node.kind), metadata: slimMeta(node.metadata),
    spec: node.spec && { podCIDR: node.spec.podCIDR, podCIDRs: node.spec.podCIDRs },
    status: node.status && { addresses: node.status.addresses },
  };
}
