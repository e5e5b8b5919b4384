// What the deploy tests prove once kube-router runs from a manifest: pods on different nodes reach each other
// (routing), a NetworkPolicy admits the allowed pair and drops the denied one with real connections (firewall),
// and a ClusterRole without the Events rule gets a 403 that kube-router reports while it keeps working.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from 'undici';
import { allowOnlyFrom, type DeployLab, type ProbeLine } from './deploy-lab.ts';
import type { PodView } from './lab-cli.ts';

/**
 * Two nodes' worth of workload: `web-1`/`web-2` (app=web) on nodes 1 and 2, `client-1`/`client-2` (role=client)
 * and `other-1` (role=other) on node 1. Returns name -> pod IP.
 */
export async function workload(lab: DeployLab): Promise<Map<string, string>> {
  return lab.pods([
    { name: 'web-1', node: 1, labels: { app: 'web' } },
    { name: 'web-2', node: 2, labels: { app: 'web' } },
    { name: 'client-1', node: 1, labels: { role: 'client' } },
    { name: 'client-2', node: 2, labels: { role: 'client' } },
    { name: 'other-1', node: 1, labels: { role: 'other' } },
  ]);
}

/** Every pair crosses nodes except the last: pod traffic needs routes between nodes. */
export function crossNodePairs(ips: Map<string, string>): Array<Record<string, unknown> & { expect: boolean }> {
  const to = (from: string, pod: string): Record<string, unknown> & { expect: boolean } =>
    ({ from: `default/${from}`, host: ips.get(pod), port: 8080, pair: `${from}->${pod}`, expect: true });
  return [to('client-1', 'web-2'), to('client-2', 'web-1'), to('other-1', 'web-2'), to('web-2', 'other-1'), to('web-1', 'client-2')];
}

/** With `web` admitting only role=client: allowed and denied pairs, across nodes and on one node. */
export function policyPairs(ips: Map<string, string>): Array<Record<string, unknown> & { expect: boolean }> {
  const pair = (from: string, pod: string, expect: boolean): Record<string, unknown> & { expect: boolean } =>
    ({ from: `default/${from}`, host: ips.get(pod), port: 8080, pair: `${from}->${pod}`, expect });
  return [
    pair('client-1', 'web-2', true), pair('client-2', 'web-1', true), pair('client-1', 'web-1', true),
    pair('other-1', 'web-2', false), pair('other-1', 'web-1', false),
    pair('web-2', 'other-1', true), // no policy selects other-1
  ];
}

export const WEB_POLICY = allowOnlyFrom('web', 'client');

/** Answers of connected probes name the pod they reached (nothing in between answered instead). */
export function assertAnswers(lines: ProbeLine[], ips: Map<string, string>): void {
  const byIp = new Map([...ips].map(([name, ip]) => [ip, `default/${name}`]));
  for (const l of lines.filter((x) => x.connected)) assert.equal(l.answer, byIp.get(l.host), `${l.pair ?? l.host} answered by the pod itself`);
}

/** Status code of POST /api/v1/namespaces/default/events with the token the lab mounted into `pod`. */
export async function createEventAs(lab: DeployLab, pod: PodView): Promise<number> {
  const token = readFileSync(join(lab.stateDir, 'nodes', pod.spec.nodeName ?? '', 'pods', pod.metadata.uid, 'serviceaccount', 'token'), 'utf8');
  const dispatcher = new Agent({ connect: { ca: readFileSync(join(lab.stateDir, 'api', 'pki', 'ca.crt'), 'utf8') } });
  const event = { apiVersion: 'v1', kind: 'Event', metadata: { generateName: 'rbac-check-', namespace: 'default' },
    involvedObject: { kind: 'Node', name: pod.spec.nodeName }, reason: 'RbacCheck', message: 'test', type: 'Normal' };
  try {
    const response = await fetch(`${lab.apiServer}/api/v1/namespaces/default/events`,
      { method: 'POST', dispatcher, body: JSON.stringify(event), headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' } } as RequestInit);
    await response.text();
    return response.status;
  } finally {
    await dispatcher.close();
  }
}

interface LogLine { msg?: string; error?: { code?: number; reason?: string }; reason?: string }

/** kube-router's JSON log lines in `kubectl logs` (other lines, e.g. gobgpd's, are skipped). */
export function jsonLogLines(text: string): LogLine[] {
  const lines: LogLine[] = [];
  for (const raw of text.split('\n')) {
    if (!raw.startsWith('{')) continue;
    try { lines.push(JSON.parse(raw) as LogLine); } catch { /* not one of ours */ }
  }
  return lines;
}

/** The ClusterRole of a variant's manifest without its `events` rule (the rest of the manifest unchanged). */
export function withoutEventsRule(manifest: string): string {
  const rule = /\n {2}# Events on the objects[^\n]*\n {2}- apiGroups: \[""\]\n {4}resources: \[events\]\n {4}verbs: \[create, patch\]/;
  const edited = manifest.replace(rule, '');
  assert.notEqual(edited, manifest, 'the manifest has the events rule as expected');
  return edited;
}
