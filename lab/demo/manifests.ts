// The objects the demo creates with kubectl: a client pod and three web pods spread over the nodes, a ClusterIP
// Service in front of the web pods (and a NodePort one), and the two NetworkPolicies (deny all ingress, then allow from the client).
import { stringify } from 'yaml';

export const DEMO_NAMESPACE = 'demo';

const pod = (name: string, node: string, labels: Record<string, string>): unknown => ({
  apiVersion: 'v1', kind: 'Pod',
  metadata: { name, namespace: DEMO_NAMESPACE, labels },
  spec: { nodeName: node, containers: [{ name: 'agent', image: 'kube-router-lab/agent', ports: [{ containerPort: 8080, protocol: 'TCP' }] }] },
});

/** Namespace, pods (client + web-1 on the first node, web-2/web-3 on the next ones) and the Service. */
export function workloadManifest(nodes: string[]): string {
  const on = (i: number): string => nodes[Math.min(i, nodes.length - 1)]!;
  const items = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: DEMO_NAMESPACE } },
    pod('client', on(0), { role: 'client' }),
    pod('web-1', on(0), { app: 'web' }),
    pod('web-2', on(1), { app: 'web' }),
    pod('web-3', on(2), { app: 'web' }),
    {
      apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: DEMO_NAMESPACE },
      spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] },
    },
  ];
  // a YAML stream, not a v1 List: kubectl validates a List client-side against /openapi/v2, which the lab lacks
  return items.map((item) => stringify(item)).join('---\n');
}

export function denyAllIngressManifest(): string {
  return JSON.stringify({
    apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy',
    metadata: { name: 'web-deny-all', namespace: DEMO_NAMESPACE },
    spec: { podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Ingress'] },
  });
}

export function allowFromClientManifest(): string {
  return JSON.stringify({
    apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy',
    metadata: { name: 'web-allow-client', namespace: DEMO_NAMESPACE },
    spec: {
      podSelector: { matchLabels: { app: 'web' } }, policyTypes: ['Ingress'],
      ingress: [{ from: [{ podSelector: { matchLabels: { role: 'client' } } }], ports: [{ port: 8080, protocol: 'TCP' }] }],
    },
  });
}

/** A second Service in front of the web pods, of type NodePort (the lab API server allocates the port). */
export function nodePortServiceManifest(): string {
  return JSON.stringify({
    apiVersion: 'v1', kind: 'Service', metadata: { name: 'web-nodeport', namespace: DEMO_NAMESPACE },
    spec: { type: 'NodePort', selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] },
  });
}
