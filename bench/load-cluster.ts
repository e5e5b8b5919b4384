// Loads a synthetic cluster into a lab API server through its HTTP API: labelled namespaces, fake nodes with pod
// CIDRs owning most pods (a few pods go to the lab's real nodes, whose kubelet runs them), NetworkPolicies mixing
// pod, namespace and ipBlock peers, and Services selecting N pods each (the lab's controller writes their
// EndpointSlices). Usable as a module (bench/scale.ts) or on its own:
//   node --import tsx bench/load-cluster.ts --kubeconfig <lab kubeconfig> --server <lab apiUrl> --pods 10000 ...
import { parseArgs } from 'node:util';
import { apiWriter, inParallel, type ApiWriter } from './api-writer.ts';
import { policyFor } from './netpol-cluster.ts';

export interface ClusterShape {
  pods: number;
  policies: number;
  services: number;
  endpointsPerService: number;
  namespaces: number;
  /** Real lab nodes that get `localPods` pods between them (their kubelet starts them and assigns the IPs). */
  realNodes: string[];
  localPods: number;
  concurrency: number;
}

export interface LoadReport { seconds: Record<string, number>; creates: number; createsPerSecond: number; fakeNodes: number }

/** Fake nodes get /24s from 198.18.16.0 up (the lab's allocator hands its real nodes the lowest ones). */
const FAKE_CIDR_BASE = 16;
const PODS_PER_FAKE_NODE = 250;
const fakeNodeCidr = (f: number): string => `198.18.${FAKE_CIDR_BASE + f}.0/24`;
/** Fake node addresses: in 198.19.64.0/18, never answered (kube-router's BGP sessions to them stay down). */
const fakeNodeIp = (f: number): string => `198.19.${64 + (f >> 8)}.${f & 255}`;

export const namespaceName = (n: number): string => `scale-${n}`;

async function must(writer: ApiWriter, method: string, path: string, body?: unknown): Promise<any> {
  const r = await writer.send(method, path, body);
  if (r.status >= 300) throw new Error(`${method} ${path}: HTTP ${r.status}: ${JSON.stringify(r.body).slice(0, 300)}`);
  return r.body;
}

/** Loads the cluster; resolves once every Service has its EndpointSlices and every local pod an IP. */
export async function loadCluster(writer: ApiWriter, shape: ClusterShape, log: (line: string) => void = () => undefined): Promise<LoadReport> {
  const seconds: Record<string, number> = {};
  let creates = 0;
  const phase = async (name: string, count: number, job: (i: number) => Promise<void>): Promise<void> => {
    const t = performance.now();
    await inParallel(count, shape.concurrency, job);
    seconds[name] = (performance.now() - t) / 1000;
    creates += count;
    log(`  ${name}: ${count} in ${seconds[name]!.toFixed(1)} s (${(count / Math.max(seconds[name]!, 1e-3)).toFixed(0)}/s)`);
  };
  const started = performance.now();
  const N = shape.namespaces;
  const remote = Math.max(0, shape.pods - shape.localPods);
  const fakeNodes = Math.max(1, Math.ceil(remote / PODS_PER_FAKE_NODE));
  if (fakeNodes > 240) throw new Error(`${shape.pods} pods need ${fakeNodes} fake /24s; at most 240 fit in 198.18.16.0-198.18.255.0`);

  await phase('namespaces', N, (n) => must(writer, 'POST', '/api/v1/namespaces', {
    apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespaceName(n), labels: { 'kubernetes.io/metadata.name': namespaceName(n), team: `t${n % 5}`, env: n % 2 ? 'prod' : 'dev' } },
  }));
  await phase('fake nodes', fakeNodes, (f) => must(writer, 'POST', '/api/v1/nodes', {
    apiVersion: 'v1', kind: 'Node', metadata: { name: `fake-${f}`, labels: { 'kubernetes.io/hostname': `fake-${f}` } },
    spec: { podCIDR: fakeNodeCidr(f), podCIDRs: [fakeNodeCidr(f)] },
  }).then(async (node) => {
    await must(writer, 'PUT', `/api/v1/nodes/fake-${f}/status`, { ...node, status: {
      addresses: [{ type: 'InternalIP', address: fakeNodeIp(f) }, { type: 'Hostname', address: `fake-${f}` }],
      conditions: [{ type: 'Ready', status: 'True' }] } });
    creates++;
  }));
  await phase('policies', shape.policies, (i) => {
    const n = i % N;
    const k = Math.floor(i / N);
    const policy = policyFor(namespaceName(n), n, k % 10);
    return must(writer, 'POST', `/apis/networking.k8s.io/v1/namespaces/${namespaceName(n)}/networkpolicies`,
      { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', ...policy, metadata: { ...policy.metadata, name: `pol-${k}` } });
  });

  // pod g: namespace g % N, index j = g / N in it; the first localPods pods go to the real nodes
  const podsPerNs = Math.ceil(shape.pods / N);
  const groupsPerNs = Math.max(1, Math.floor(podsPerNs / shape.endpointsPerService));
  await phase('pods (create + status)', shape.pods, async (g) => {
    const n = g % N;
    const j = Math.floor(g / N);
    const local = g < shape.localPods && shape.realNodes.length > 0;
    const r = g - shape.localPods;
    const f = r % fakeNodes;
    const nodeName = local ? shape.realNodes[g % shape.realNodes.length]! : `fake-${f}`;
    const labels = { app: `app-${j % 10}`, tier: j % 2 ? 'web' : 'db', group: `g-${Math.floor(j / shape.endpointsPerService) % groupsPerNs}` };
    const pod = await must(writer, 'POST', `/api/v1/namespaces/${namespaceName(n)}/pods`, {
      apiVersion: 'v1', kind: 'Pod', metadata: { name: `pod-${j}`, labels },
      spec: { nodeName, containers: [{ name: 'c', image: 'lab', ports: [{ name: 'http', containerPort: 8000 + (j % 3) }] }] },
    });
    if (local) return;
    const ip = `198.18.${FAKE_CIDR_BASE + f}.${Math.floor(r / fakeNodes) + 1}`;
    await must(writer, 'PUT', `/api/v1/namespaces/${namespaceName(n)}/pods/pod-${j}/status`, { ...pod, status: {
      phase: 'Running', hostIP: fakeNodeIp(f), podIP: ip, podIPs: [{ ip }], conditions: [{ type: 'Ready', status: 'True' }] } });
    creates++;
  });
  await phase('services', shape.services, (k) => {
    const n = k % N;
    const m = Math.floor(k / N);
    return must(writer, 'POST', `/api/v1/namespaces/${namespaceName(n)}/services`, {
      apiVersion: 'v1', kind: 'Service', metadata: { name: `svc-${m}` },
      spec: { selector: { group: `g-${m % groupsPerNs}` }, ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }] },
    });
  });

  let t = performance.now();
  for (;;) {
    const list = await must(writer, 'GET', '/apis/discovery.k8s.io/v1/endpointslices');
    if ((list.items as unknown[]).length >= shape.services) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  seconds['endpointslices settled'] = (performance.now() - t) / 1000;
  t = performance.now();
  const localCount = shape.realNodes.length > 0 ? Math.min(shape.localPods, shape.pods) : 0;
  for (let attempt = 0; localCount > 0; attempt++) {
    const running = (await Promise.all(shape.realNodes.map((node) => must(writer, 'GET', `/api/v1/pods?fieldSelector=spec.nodeName%3D${node}`))))
      .flatMap((l) => l.items as { status?: { podIP?: string } }[]).filter((p) => p.status?.podIP).length;
    if (running >= localCount) break;
    if (attempt > 600) throw new Error(`only ${running} of ${localCount} local pods got an IP in 5 minutes`);
    await new Promise((r) => setTimeout(r, 500));
  }
  seconds['local pods running'] = (performance.now() - t) / 1000;
  const total = (performance.now() - started) / 1000;
  seconds['total'] = total;
  return { seconds, creates, createsPerSecond: creates / total, fakeNodes };
}

/** pods/policies/services for a size name: 1k, 10k or 50k pods (1k policies; 1k Services, 10k at 50k pods). */
export function shapeFor(size: string, realNodes: string[], localPods = 20, concurrency = 32): ClusterShape {
  const pods = Number(size.replace(/k$/i, '')) * (/k$/i.test(size) ? 1000 : 1);
  if (!Number.isInteger(pods) || pods <= 0) throw new Error(`bad size ${size} (e.g. 1k, 10k, 50k)`);
  return {
    pods, policies: 1000, services: pods >= 50_000 ? 10_000 : 1000, endpointsPerService: 10,
    namespaces: 100, realNodes, localPods: Math.min(localPods, pods), concurrency,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: {
    kubeconfig: { type: 'string' }, server: { type: 'string' }, size: { type: 'string', default: '1k' },
    'real-nodes': { type: 'string', default: '' }, 'local-pods': { type: 'string', default: '20' },
    concurrency: { type: 'string', default: '32' }, policies: { type: 'string' }, services: { type: 'string' },
  } });
  if (!values.kubeconfig) throw new Error('--kubeconfig <path> is required (the lab prints it on `up`)');
  const realNodes = (values['real-nodes'] ?? '').split(',').filter(Boolean);
  const shape = shapeFor(values.size ?? '1k', realNodes, Number(values['local-pods']), Number(values.concurrency));
  if (values.policies) shape.policies = Number(values.policies);
  if (values.services) shape.services = Number(values.services);
  const writer = apiWriter({ kubeconfig: values.kubeconfig, ...(values.server ? { server: values.server } : {}) }, shape.concurrency);
  console.log(`loading ${shape.pods} pods, ${shape.policies} policies, ${shape.services} Services x ${shape.endpointsPerService} endpoints into ${writer.server}`);
  const report = await loadCluster(writer, shape, console.log);
  writer.close();
  console.log(`loaded: ${report.creates} writes in ${report.seconds['total']!.toFixed(1)} s (${report.createsPerSecond.toFixed(0)}/s)`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
