// NetworkPolicy objects for the cases, built as plain data, and the shape of a case: ordered steps, each some
// changes (policies applied or deleted, labels changed) followed by the reachability expected afterwards.
import type { KubeObject } from '../../../lab/apiserver/resources.ts';
import type { LabModel } from './lab-model.ts';
import type { StepProbes } from './probe-runner.ts';

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}

export interface Peer {
  podSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  ipBlock?: { cidr: string; except?: string[] };
}

export interface PolicyPort {
  protocol?: 'TCP' | 'UDP' | 'SCTP';
  port?: number | string;
  endPort?: number;
}

export interface PolicySpec {
  podSelector: LabelSelector;
  policyTypes?: ('Ingress' | 'Egress')[];
  ingress?: { from?: Peer[]; ports?: PolicyPort[] }[];
  egress?: { to?: Peer[]; ports?: PolicyPort[] }[];
}

export function policy(namespace: string, name: string, spec: PolicySpec): KubeObject {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { namespace, name }, spec: structuredClone(spec) };
}

export const podSel = (labels: Record<string, string>): LabelSelector => ({ matchLabels: labels });
export const nsSel = (labels: Record<string, string>): LabelSelector => ({ matchLabels: labels });
export const ALL: LabelSelector = {};

export const denyAllIngress = (ns: string, name = 'deny-all-ingress'): KubeObject =>
  policy(ns, name, { podSelector: ALL, policyTypes: ['Ingress'] });
export const denyAllEgress = (ns: string, name = 'deny-all-egress'): KubeObject =>
  policy(ns, name, { podSelector: ALL, policyTypes: ['Egress'] });
export const allowAllIngress = (ns: string, name = 'allow-all-ingress'): KubeObject =>
  policy(ns, name, { podSelector: ALL, policyTypes: ['Ingress'], ingress: [{}] });
export const allowAllEgress = (ns: string, name = 'allow-all-egress'): KubeObject =>
  policy(ns, name, { podSelector: ALL, policyTypes: ['Egress'], egress: [{}] });

/** Ingress to pods `pod=<target>` of `ns` from the given peers (and ports). */
export const ingressTo = (ns: string, target: string, from: Peer[] | undefined, ports?: PolicyPort[], name = `ingress-${target}`): KubeObject =>
  policy(ns, name, { podSelector: podSel({ pod: target }), policyTypes: ['Ingress'], ingress: [{ ...(from ? { from } : {}), ...(ports ? { ports } : {}) }] });

/** Egress from pods `pod=<source>` of `ns` to the given peers (and ports). */
export const egressFrom = (ns: string, source: string, to: Peer[] | undefined, ports?: PolicyPort[], name = `egress-${source}`): KubeObject =>
  policy(ns, name, { podSelector: podSel({ pod: source }), policyTypes: ['Egress'], egress: [{ ...(to ? { to } : {}), ...(ports ? { ports } : {}) }] });

/** What a step changes before its reachability is checked. */
export interface StepChange {
  apply?: KubeObject[] | ((m: LabModel) => KubeObject[]);
  deletePolicies?: { namespace: string; name: string }[];
  podLabels?: { pod: { namespace: string; name: string }; labels: Record<string, string> }[];
  namespaceLabels?: { namespace: string; labels: Record<string, string> }[];
}

export interface CaseStep extends StepChange, StepProbes {
  /** What this step shows, for the report. */
  what: string;
}

export interface ConformanceCase {
  name: string;
  steps: CaseStep[];
}

export function applyChange(model: LabModel, change: StepChange): void {
  const policies = typeof change.apply === 'function' ? change.apply(model) : change.apply ?? [];
  for (const p of policies) model.applyPolicy(p);
  for (const d of change.deletePolicies ?? []) model.deletePolicy(d.namespace, d.name);
  for (const l of change.podLabels ?? []) model.setPodLabels(l.pod, l.labels);
  for (const l of change.namespaceLabels ?? []) model.setNamespaceLabels(l.namespace, l.labels);
}
