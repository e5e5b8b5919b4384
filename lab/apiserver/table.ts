// Server-side printing: meta.k8s.io/v1 Table responses for `kubectl get` (columns with priority 1 show with -o wide).
import type { KubeObject } from './resources.ts';

type Json = Record<string, unknown>;
interface Column { name: string; type: string; priority?: number; format?: string }
type Printer = { columns: Column[]; cells: (o: KubeObject) => unknown[] };

const asObj = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const asList = (v: unknown): Json[] => (Array.isArray(v) ? (v as Json[]) : []);
const str = (v: unknown, fallback = '<none>'): string => (v === undefined || v === null || v === '' ? fallback : String(v));

/** kubectl's short age form: 45s, 3m20s, 5h, 2d3h, 40d. */
export function humanAge(timestamp: string | undefined, nowMs = Date.now()): string {
  if (!timestamp) return '<unknown>';
  const seconds = Math.max(0, Math.floor((nowMs - Date.parse(timestamp)) / 1000));
  const m = Math.floor(seconds / 60), h = Math.floor(m / 60), d = Math.floor(h / 24);
  if (seconds < 120) return `${seconds}s`;
  if (m < 10) return seconds % 60 ? `${m}m${seconds % 60}s` : `${m}m`;
  if (m < 180) return `${m}m`;
  if (h < 8) return m % 60 ? `${h}h${m % 60}m` : `${h}h`;
  if (h < 48) return `${h}h`;
  if (d < 8) return h % 24 ? `${d}d${h % 24}h` : `${d}d`;
  return `${d}d`;
}

const age = (o: KubeObject): string => humanAge(o.metadata.creationTimestamp);
const nameCol: Column = { name: 'Name', type: 'string', format: 'name' };
const ageCol: Column = { name: 'Age', type: 'string' };

function podCells(pod: KubeObject): unknown[] {
  const spec = asObj(pod['spec']);
  const status = asObj(pod['status']);
  const statuses = asList(status['containerStatuses']);
  const ready = statuses.filter((s) => s['ready'] === true).length;
  const restarts = statuses.reduce((n, s) => n + Number(s['restartCount'] ?? 0), 0);
  let phase = str(status['reason'], str(status['phase'], 'Unknown'));
  for (const s of statuses) {
    const waiting = asObj(asObj(s['state'])['waiting']);
    if (waiting['reason']) phase = String(waiting['reason']);
  }
  if (pod.metadata.deletionTimestamp) phase = 'Terminating';
  return [pod.metadata.name, `${ready}/${asList(spec['containers']).length}`, phase, restarts, age(pod),
    str(status['podIP']), str(spec['nodeName']), str(status['nominatedNodeName']), '<none>'];
}

function servicePorts(spec: Json): string {
  const ports = asList(spec['ports']).map((p) => `${String(p['port'])}${p['nodePort'] ? `:${String(p['nodePort'])}` : ''}/${str(p['protocol'], 'TCP')}`);
  return ports.length ? ports.join(',') : '<none>';
}

function serviceCells(svc: KubeObject): unknown[] {
  const spec = asObj(svc['spec']);
  const ingress = asList(asObj(asObj(svc['status'])['loadBalancer'])['ingress']).map((i) => i['ip'] ?? i['hostname']);
  const external = [...asList(spec['externalIPs']) as unknown[], ...ingress].map(String);
  const externalText = external.length ? external.join(',') : spec['type'] === 'LoadBalancer' ? '<pending>'
    : spec['type'] === 'ExternalName' ? str(spec['externalName']) : '<none>';
  const selector = Object.entries(asObj(spec['selector'])).map(([k, v]) => `${k}=${String(v)}`).join(',');
  return [svc.metadata.name, spec['type'], str(spec['clusterIP']), externalText, servicePorts(spec), age(svc), str(selector)];
}

function nodeCells(node: KubeObject): unknown[] {
  const status = asObj(node['status']);
  const ready = asList(status['conditions']).find((c) => c['type'] === 'Ready');
  let state = ready?.['status'] === 'True' ? 'Ready' : ready ? 'NotReady' : 'Unknown';
  if (asObj(node['spec'])['unschedulable']) state += ',SchedulingDisabled';
  const roles = Object.keys(node.metadata.labels ?? {}).filter((k) => k.startsWith('node-role.kubernetes.io/'))
    .map((k) => k.slice('node-role.kubernetes.io/'.length)).join(',');
  const address = (type: string): string => str(asList(status['addresses']).find((a) => a['type'] === type)?.['address']);
  const info = asObj(status['nodeInfo']);
  return [node.metadata.name, state, str(roles), age(node), str(info['kubeletVersion'], ''), address('InternalIP'),
    address('ExternalIP'), str(info['osImage'], '<unknown>'), str(info['kernelVersion'], '<unknown>'), str(info['containerRuntimeVersion'], '<unknown>')];
}

function sliceCells(slice: KubeObject): unknown[] {
  const ports = asList(slice['ports']).map((p) => String(p['port'] ?? '')).join(',');
  const addresses = asList(slice['endpoints']).flatMap((e) => asList(e['addresses']) as unknown[]).map(String);
  const shown = addresses.slice(0, 3).join(',') + (addresses.length > 3 ? ` + ${addresses.length - 3} more...` : '');
  return [slice.metadata.name, slice['addressType'], str(ports), str(shown), age(slice)];
}

const PRINTERS: Record<string, Printer> = {
  Pod: { columns: [nameCol, { name: 'Ready', type: 'string' }, { name: 'Status', type: 'string' }, { name: 'Restarts', type: 'string' }, ageCol,
    { name: 'IP', type: 'string', priority: 1 }, { name: 'Node', type: 'string', priority: 1 },
    { name: 'Nominated Node', type: 'string', priority: 1 }, { name: 'Readiness Gates', type: 'string', priority: 1 }], cells: podCells },
  Service: { columns: [nameCol, { name: 'Type', type: 'string' }, { name: 'Cluster-IP', type: 'string' }, { name: 'External-IP', type: 'string' },
    { name: 'Port(s)', type: 'string' }, ageCol, { name: 'Selector', type: 'string', priority: 1 }], cells: serviceCells },
  Node: { columns: [nameCol, { name: 'Status', type: 'string' }, { name: 'Roles', type: 'string' }, ageCol, { name: 'Version', type: 'string' },
    { name: 'Internal-IP', type: 'string', priority: 1 }, { name: 'External-IP', type: 'string', priority: 1 },
    { name: 'OS-Image', type: 'string', priority: 1 }, { name: 'Kernel-Version', type: 'string', priority: 1 },
    { name: 'Container-Runtime', type: 'string', priority: 1 }], cells: nodeCells },
  Namespace: { columns: [nameCol, { name: 'Status', type: 'string' }, ageCol],
    cells: (ns) => [ns.metadata.name, str(asObj(ns['status'])['phase']), age(ns)] },
  EndpointSlice: { columns: [nameCol, { name: 'AddressType', type: 'string' }, { name: 'Ports', type: 'string' },
    { name: 'Endpoints', type: 'string' }, ageCol], cells: sliceCells },
  NetworkPolicy: { columns: [nameCol, { name: 'Pod-Selector', type: 'string' }, ageCol], cells: (np) => {
    const labels = asObj(asObj(asObj(np['spec'])['podSelector'])['matchLabels']);
    return [np.metadata.name, str(Object.entries(labels).map(([k, v]) => `${k}=${String(v)}`).join(',')), age(np)];
  } },
  DaemonSet: { columns: [nameCol, ...['Desired', 'Current', 'Ready', 'Up-to-date', 'Available'].map((name) => ({ name, type: 'integer' })),
    { name: 'Node Selector', type: 'string' }, ageCol], cells: (ds) => {
    const status = asObj(ds['status']);
    const selector = asObj(asObj(asObj(asObj(ds['spec'])['template'])['spec'])['nodeSelector']);
    return [ds.metadata.name, ...['desiredNumberScheduled', 'currentNumberScheduled', 'numberReady', 'updatedNumberScheduled', 'numberAvailable'].map((f) => Number(status[f] ?? 0)),
      str(Object.entries(selector).map(([k, v]) => `${k}=${String(v)}`).join(',')), age(ds)];
  } },
  Lease: { columns: [nameCol, { name: 'Holder', type: 'string' }, ageCol],
    cells: (l) => [l.metadata.name, str(asObj(l['spec'])['holderIdentity'], ''), age(l)] },
  Event: { columns: [{ name: 'Last Seen', type: 'string' }, { name: 'Type', type: 'string' }, { name: 'Reason', type: 'string' },
    { name: 'Object', type: 'string' }, { name: 'Message', type: 'string' }], cells: (e) => {
    const involved = asObj(e['involvedObject'] ?? e['regarding']);
    const seen = e['lastTimestamp'] ?? e['eventTime'] ?? e.metadata.creationTimestamp;
    return [humanAge(typeof seen === 'string' ? seen : undefined), str(e['type'], ''), str(e['reason'], ''),
      `${String(involved['kind'] ?? '').toLowerCase()}/${String(involved['name'] ?? '')}`, str(e['message'] ?? e['note'], '')];
  } },
};

/** Whether an Accept header asks for a Table (kubectl get does, other clients do not). */
export function wantsTable(accept: string | undefined): boolean {
  return /as=Table/.test(accept ?? '') && /g=meta\.k8s\.io/.test(accept ?? '');
}

function rowObject(object: KubeObject, include: string): unknown {
  if (include === 'None') return undefined;
  if (include === 'Object') return object;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: object.metadata };
}

export function toTable(kind: string, objects: KubeObject[], listMeta: Json, include = 'Metadata'): Json {
  const printer = PRINTERS[kind] ?? { columns: [nameCol, ageCol], cells: (o: KubeObject) => [o.metadata.name, age(o)] };
  return {
    kind: 'Table', apiVersion: 'meta.k8s.io/v1', metadata: listMeta,
    columnDefinitions: printer.columns.map((c) => ({ name: c.name, type: c.type, format: c.format ?? '', description: c.name, priority: c.priority ?? 0 })),
    rows: objects.map((o) => ({ cells: printer.cells(o), object: rowObject(o, include) })),
  };
}
