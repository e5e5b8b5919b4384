// Validation of the lab's types, returning the field causes a 422 Invalid Status carries.
import type { KubeObject } from './resources.ts';
import type { StatusCause } from './status-errors.ts';
import { cidrContains, isCidr, parseCidr } from '../../src/net/cidr.ts';
import { isIp, parseIp } from '../../src/net/ip.ts';

type Json = Record<string, unknown>;

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const IANA_SVC_NAME = /^(?=.*[a-z])[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const PROTOCOLS = ['TCP', 'UDP', 'SCTP'];

class Causes {
  readonly list: StatusCause[] = [];
  required(field: string): void { this.list.push({ reason: 'FieldValueRequired', message: 'Required value', field }); }
  invalid(field: string, value: unknown, why: string): void {
    this.list.push({ reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(value)}: ${why}`, field });
  }
  unsupported(field: string, value: unknown, allowed: string[]): void {
    this.list.push({ reason: 'FieldValueNotSupported',
      message: `Unsupported value: ${JSON.stringify(value)}: supported values: ${allowed.map((a) => `"${a}"`).join(', ')}`, field });
  }
  duplicate(field: string, value: unknown): void {
    this.list.push({ reason: 'FieldValueDuplicate', message: `Duplicate value: ${JSON.stringify(value)}`, field });
  }
}

const asList = (v: unknown): Json[] => (Array.isArray(v) ? (v as Json[]) : []);
const asObj = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
const isPort = (v: unknown): boolean => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 65535;

function checkName(object: KubeObject, c: Causes): void {
  const name = object.metadata.name ?? '';
  const [pattern, max, what] = object.kind === 'Service' ? [DNS1035_LABEL, 63, 'a DNS-1035 label']
    : object.kind === 'Namespace' ? [DNS1123_LABEL, 63, 'a lowercase RFC 1123 label']
      : [DNS1123_SUBDOMAIN, 253, 'a lowercase RFC 1123 subdomain'];
  if (!name) c.required('metadata.name');
  // RBAC object names are path segments, not DNS names (e.g. system:kube-router)
  else if (object.kind !== 'Event' && !object.apiVersion.startsWith('rbac.authorization.k8s.io/') && (!pattern.test(name) || name.length > max)) {
    c.invalid('metadata.name', name, `must be ${what}`);
  }
  for (const [key, value] of Object.entries(object.metadata.labels ?? {})) {
    if (typeof value !== 'string' || value.length > 63 || !LABEL_VALUE.test(value)) {
      c.invalid(`metadata.labels`, value, `a valid label value must be 63 characters or less (key ${key})`);
    }
  }
}

function checkPortValue(field: string, value: unknown, c: Causes): void {
  if (typeof value === 'string') { if (!IANA_SVC_NAME.test(value)) c.invalid(field, value, 'must be a valid port name'); }
  else if (!isPort(value)) c.invalid(field, value, 'must be between 1 and 65535, inclusive');
}

function checkProtocol(field: string, value: unknown, c: Causes): void {
  if (value !== undefined && !PROTOCOLS.includes(String(value))) c.unsupported(field, value, PROTOCOLS);
}

function validatePod(pod: KubeObject, c: Causes): void {
  const spec = asObj(pod['spec']);
  const containers = asList(spec['containers']);
  if (containers.length === 0) c.required('spec.containers');
  const containerNames = new Set<string>();
  [...asList(spec['initContainers']), ...containers].forEach((container, i) => {
    const at = `spec.containers[${i}]`;
    const name = container['name'];
    if (typeof name !== 'string' || !name) c.required(`${at}.name`);
    else if (!DNS1123_LABEL.test(name)) c.invalid(`${at}.name`, name, 'must be a lowercase RFC 1123 label');
    else if (containerNames.has(name)) c.duplicate(`${at}.name`, name);
    else containerNames.add(name);
    if (!container['image']) c.required(`${at}.image`);
    const portNames = new Set<string>();
    asList(container['ports']).forEach((port, j) => {
      if (!isPort(port['containerPort'])) c.invalid(`${at}.ports[${j}].containerPort`, port['containerPort'], 'must be between 1 and 65535, inclusive');
      checkProtocol(`${at}.ports[${j}].protocol`, port['protocol'], c);
      const portName = port['name'];
      if (portName !== undefined) {
        if (typeof portName !== 'string' || !IANA_SVC_NAME.test(portName)) c.invalid(`${at}.ports[${j}].name`, portName, 'must be a valid port name');
        else if (portNames.has(portName)) c.duplicate(`${at}.ports[${j}].name`, portName);
        else portNames.add(portName);
      }
    });
  });
  const restart = spec['restartPolicy'];
  if (!['Always', 'OnFailure', 'Never'].includes(String(restart))) c.unsupported('spec.restartPolicy', restart, ['Always', 'OnFailure', 'Never']);
}

function validateService(service: KubeObject, c: Causes): void {
  const spec = asObj(service['spec']);
  const types = ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'];
  if (!types.includes(String(spec['type']))) c.unsupported('spec.type', spec['type'], types);
  const ports = asList(spec['ports']);
  if (spec['type'] === 'ExternalName') {
    if (!spec['externalName']) c.required('spec.externalName');
  } else if (ports.length === 0 && spec['clusterIP'] !== 'None') c.required('spec.ports');
  const seen = new Set<string>();
  ports.forEach((port, i) => {
    const at = `spec.ports[${i}]`;
    if (!isPort(port['port'])) c.invalid(`${at}.port`, port['port'], 'must be between 1 and 65535, inclusive');
    checkPortValue(`${at}.targetPort`, port['targetPort'], c);
    checkProtocol(`${at}.protocol`, port['protocol'], c);
    const name = port['name'];
    if (ports.length > 1 && !name) c.required(`${at}.name`);
    if (typeof name === 'string' && name) {
      if (!DNS1123_LABEL.test(name)) c.invalid(`${at}.name`, name, 'must be a lowercase RFC 1123 label');
      if (seen.has(name)) c.duplicate(`${at}.name`, name);
      seen.add(name);
    }
    if (port['nodePort'] !== undefined && !isPort(port['nodePort'])) c.invalid(`${at}.nodePort`, port['nodePort'], 'must be between 1 and 65535, inclusive');
  });
  for (const [field, value] of [['spec.clusterIP', spec['clusterIP']], ...asList(spec['externalIPs']).map((v, i) => [`spec.externalIPs[${i}]`, v])] as [string, unknown][]) {
    if (value !== undefined && value !== '' && value !== 'None' && !isIp(String(value))) c.invalid(field, value, 'must be a valid IP address');
  }
  const affinity = spec['sessionAffinity'];
  if (!['None', 'ClientIP'].includes(String(affinity))) c.unsupported('spec.sessionAffinity', affinity, ['None', 'ClientIP']);
}

function validateNetworkPolicy(policy: KubeObject, c: Causes): void {
  const spec = asObj(policy['spec']);
  for (const [direction, peersField] of [['ingress', 'from'], ['egress', 'to']] as const) {
    asList(spec[direction]).forEach((rule, i) => {
      asList(rule['ports']).forEach((port, j) => {
        const at = `spec.${direction}[${i}].ports[${j}]`;
        if (port['port'] !== undefined) checkPortValue(`${at}.port`, port['port'], c);
        checkProtocol(`${at}.protocol`, port['protocol'], c);
        if (port['endPort'] !== undefined && (typeof port['port'] !== 'number' || Number(port['endPort']) < port['port'])) {
          c.invalid(`${at}.endPort`, port['endPort'], 'must be greater than or equal to `port`');
        }
      });
      asList(rule[peersField]).forEach((peer, j) => {
        const block = peer['ipBlock'];
        if (block === undefined) return;
        const at = `spec.${direction}[${i}].${peersField}[${j}].ipBlock`;
        const parsed = parseCidr(String(asObj(block)['cidr'] ?? ''));
        const cidr = parsed.ok ? parsed.value : undefined;
        if (!cidr) { c.invalid(`${at}.cidr`, asObj(block)['cidr'], 'must be a valid CIDR'); return; }
        asList(asObj(block)['except']).forEach((ex, k) => {
          const inner = parseCidr(String(ex));
          if (!inner.ok || !cidrContains(cidr, inner.value) || inner.value.prefixLength === cidr.prefixLength) c.invalid(`${at}.except[${k}]`, ex, 'must be a strict subset of `cidr`');
        });
      });
    });
  }
  asList(spec['policyTypes']).forEach((t, i) => {
    if (t !== ('Ingress' as unknown) && t !== ('Egress' as unknown)) c.unsupported(`spec.policyTypes[${i}]`, t, ['Ingress', 'Egress']);
  });
}

function validateNode(node: KubeObject, c: Causes): void {
  const spec = asObj(node['spec']);
  const cidrs = [spec['podCIDR'], ...asList(spec['podCIDRs'])].filter((v) => v !== undefined && v !== '');
  for (const cidr of cidrs) if (!isCidr(String(cidr))) c.invalid('spec.podCIDRs', cidr, 'must be a valid CIDR');
}

function validateEndpointSlice(slice: KubeObject, c: Causes): void {
  const family = slice['addressType'];
  if (!['IPv4', 'IPv6', 'FQDN'].includes(String(family))) c.unsupported('addressType', family, ['IPv4', 'IPv6', 'FQDN']);
  asList(slice['endpoints']).forEach((endpoint, i) => {
    const addresses = asList(endpoint['addresses']) as unknown[];
    if (addresses.length === 0) c.required(`endpoints[${i}].addresses`);
    addresses.forEach((a, j) => {
      const ip = parseIp(String(a));
      if (family !== 'FQDN' && (!ip.ok || (ip.value.family === 4) !== (family === 'IPv4'))) c.invalid(`endpoints[${i}].addresses[${j}]`, a, `must be a valid ${String(family)} address`);
    });
  });
}

/** A DaemonSet needs a selector its pod template's labels match (else it would never own its pods). */
function validateDaemonSet(object: KubeObject, c: Causes): void {
  const spec = asObj(object['spec']);
  const selector = asObj(spec['selector']);
  const matchLabels = asObj(selector['matchLabels']);
  if (Object.keys(matchLabels).length === 0 && asList(selector['matchExpressions']).length === 0) { c.required('spec.selector'); return; }
  const labels = asObj(asObj(asObj(spec['template'])['metadata'])['labels']);
  if (Object.entries(matchLabels).some(([k, v]) => labels[k] !== v)) {
    c.invalid('spec.template.metadata.labels', labels, '`selector` does not match template `labels`');
  }
  if (asList(asObj(asObj(spec['template'])['spec'])['containers']).length === 0) c.required('spec.template.spec.containers');
}

/** Returns the causes that make the object invalid (empty when it is valid). */
export function validateObject(object: KubeObject): StatusCause[] {
  const c = new Causes();
  checkName(object, c);
  switch (object.kind) {
    case 'Pod': validatePod(object, c); break;
    case 'Service': validateService(object, c); break;
    case 'NetworkPolicy': validateNetworkPolicy(object, c); break;
    case 'Node': validateNode(object, c); break;
    case 'EndpointSlice': validateEndpointSlice(object, c); break;
    case 'DaemonSet': validateDaemonSet(object, c); break;
    default: break;
  }
  return c.list;
}

/** Pod spec fields an update may change (upstream allows images, deadline, added tolerations, grace period). */
function mutablePodSpecView(spec: Json): string {
  const view = structuredClone(spec);
  for (const list of ['containers', 'initContainers']) for (const c of asList(view[list])) delete c['image'];
  delete view['activeDeadlineSeconds'];
  delete view['tolerations'];
  delete view['terminationGracePeriodSeconds'];
  return JSON.stringify(view);
}

/** Causes for changes the real API forbids on update (pod spec beyond its mutable fields, slice addressType). */
export function validateUpdate(object: KubeObject, old: KubeObject): StatusCause[] {
  const c = new Causes();
  if (object.kind === 'Pod') {
    const spec = { ...asObj(object['spec']) };
    const oldSpec = asObj(old['spec']);
    // lab deviation: a pod created unscheduled may get its nodeName once (there is no pods/binding subresource)
    if (!oldSpec['nodeName'] && spec['nodeName']) spec['nodeName'] = undefined;
    if (mutablePodSpecView(JSON.parse(JSON.stringify(spec)) as Json) !== mutablePodSpecView(oldSpec)) {
      c.list.push({ reason: 'FieldValueForbidden', field: 'spec',
        message: 'Forbidden: pod updates may not change fields other than `spec.containers[*].image`, `spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing tolerations), `spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)' });
    }
  }
  if (object.kind === 'EndpointSlice' && object['addressType'] !== old['addressType']) {
    c.list.push({ reason: 'FieldValueInvalid', field: 'addressType', message: 'Invalid value: field is immutable' });
  }
  return c.list;
}
