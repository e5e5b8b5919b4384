// What the lab kubelet reads from a pod spec and writes back as its status: pure functions, no I/O, no clock
// (the time is passed in), so the status shape is checked by unit tests.
import type { AgentPort, PortProtocol } from '../pods/agents.ts';
import type { KubeObject } from '../apiserver/resources.ts';

/** Annotation asking the lab for a fixed pod IP (passed to host-local as CNI_ARGS IP=...). */
export const REQUESTED_IP_ANNOTATION = 'lab.kube-router.io/ip';

interface ContainerView {
  name?: string;
  image?: string;
  ports?: { containerPort?: number; protocol?: string }[];
}

interface PodSpecView {
  nodeName?: string;
  hostNetwork?: boolean;
  containers?: ContainerView[];
  terminationGracePeriodSeconds?: number;
}

export function podSpecOf(pod: KubeObject): PodSpecView {
  return (pod['spec'] ?? {}) as PodSpecView;
}

/** Every declared container port (TCP when the protocol is omitted), without duplicates. */
export function agentPortsOf(pod: KubeObject): AgentPort[] {
  const seen = new Set<string>();
  const ports: AgentPort[] = [];
  for (const c of podSpecOf(pod).containers ?? []) {
    for (const p of c.ports ?? []) {
      const protocol = (p.protocol ?? 'TCP').toUpperCase();
      if (!p.containerPort || !['TCP', 'UDP', 'SCTP'].includes(protocol)) continue;
      const key = `${protocol}/${p.containerPort}`;
      if (seen.has(key)) continue;
      seen.add(key);
      ports.push({ port: p.containerPort, protocol: protocol as PortProtocol });
    }
  }
  return ports;
}

export function requestedIpOf(pod: KubeObject): string | undefined {
  const ip = pod.metadata.annotations?.[REQUESTED_IP_ANNOTATION];
  return ip && ip.trim() !== '' ? ip.trim() : undefined;
}

const condition = (type: string, status: 'True' | 'False', at: string, reason?: string, message?: string): Record<string, unknown> => ({
  type, status, lastProbeTime: null, lastTransitionTime: at, ...(reason ? { reason } : {}), ...(message ? { message } : {}),
});

/** The status of a pod whose network and listeners are up: Running and Ready. */
export function runningStatus(pod: KubeObject, addr: { podIPs: string[]; hostIP: string }, at: string): Record<string, unknown> {
  const containerId = `lab://${pod.metadata.uid ?? ''}`;
  return {
    phase: 'Running',
    conditions: ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'].map((t) => condition(t, 'True', at)),
    hostIP: addr.hostIP,
    hostIPs: [{ ip: addr.hostIP }],
    ...(addr.podIPs[0] ? { podIP: addr.podIPs[0], podIPs: addr.podIPs.map((ip) => ({ ip })) } : {}),
    startTime: at,
    qosClass: 'BestEffort',
    containerStatuses: (podSpecOf(pod).containers ?? []).map((c) => ({
      name: c.name ?? '',
      image: c.image ?? '',
      imageID: '',
      containerID: containerId,
      ready: true,
      started: true,
      restartCount: 0,
      state: { running: { startedAt: at } },
    })),
  };
}

/** The status of a pod the lab could not start (CNI or agent failure): Pending, not Ready, with the reason. */
export function failedStartStatus(pod: KubeObject, hostIP: string, message: string, at: string): Record<string, unknown> {
  return {
    phase: 'Pending',
    conditions: [
      condition('PodScheduled', 'True', at),
      condition('Initialized', 'True', at),
      condition('Ready', 'False', at, 'ContainersNotReady', message),
      condition('ContainersReady', 'False', at, 'ContainersNotReady', message),
    ],
    hostIP,
    hostIPs: [{ ip: hostIP }],
    startTime: at,
    containerStatuses: (podSpecOf(pod).containers ?? []).map((c) => ({
      name: c.name ?? '', image: c.image ?? '', imageID: '', ready: false, started: false, restartCount: 0,
      state: { waiting: { reason: 'CreateContainerError', message } },
    })),
  };
}
