// The kube-router.io/service.* annotations the proxy reads, parsed once per Service with upstream's meaning.
// A bad value is reported (Event + metric through the caller) and replaced by the default for that setting
// only; everything else about the Service is still programmed.
import { SCHEDULER_FLAGS, SCHEDULERS, type Scheduler, type SchedulerFlag } from './model.ts';

export const ANNOTATION = {
  scheduler: 'kube-router.io/service.scheduler',
  schedulerFlags: 'kube-router.io/service.schedflags',
  local: 'kube-router.io/service.local',
  skipLoadBalancerIps: 'kube-router.io/service.skiplbips',
  hairpin: 'kube-router.io/service.hairpin',
  hairpinExternalIps: 'kube-router.io/service.hairpin.externalips',
  dsr: 'kube-router.io/service.dsr',
} as const;

export interface ServiceAnnotations {
  scheduler: Scheduler;
  /** Only with the mh scheduler, as upstream (the kernel ignores them elsewhere). */
  schedulerFlags: SchedulerFlag[];
  /** Forces externalTrafficPolicy Local for NodePort/external/LB frontends (internal stays Cluster, as upstream). */
  local: boolean;
  skipLoadBalancerIps: boolean;
  hairpin: boolean;
  hairpinExternalIps: boolean;
}

export type AnnotationProblem = (reason: string, message: string) => void;

export function readServiceAnnotations(annotations: Record<string, string>, report: AnnotationProblem): ServiceAnnotations {
  let scheduler: Scheduler = 'rr';
  const schedText = annotations[ANNOTATION.scheduler];
  if (schedText !== undefined) {
    const wanted = schedText.trim();
    if ((SCHEDULERS as readonly string[]).includes(wanted)) scheduler = wanted as Scheduler;
    else report('InvalidScheduler', `${ANNOTATION.scheduler}: "${schedText}" is not one of ${SCHEDULERS.join(', ')}; using rr`);
  }
  const schedulerFlags: SchedulerFlag[] = [];
  const flagsText = annotations[ANNOTATION.schedulerFlags];
  if (flagsText !== undefined && flagsText.trim() !== '') {
    const bad: string[] = [];
    for (const part of flagsText.split(',')) {
      const flag = part.trim();
      if ((SCHEDULER_FLAGS as readonly string[]).includes(flag)) {
        if (!schedulerFlags.includes(flag as SchedulerFlag)) schedulerFlags.push(flag as SchedulerFlag);
      } else bad.push(part);
    }
    if (bad.length > 0) {
      report('InvalidSchedulerFlags', `${ANNOTATION.schedulerFlags}: unknown flag(s) ${bad.map((b) => `"${b}"`).join(', ')} ignored (allowed: ${SCHEDULER_FLAGS.join(', ')})`);
    }
    if (scheduler !== 'mh' && schedulerFlags.length > 0) {
      report('SchedulerFlagsIgnored', `${ANNOTATION.schedulerFlags} applies only to the mh scheduler; ignored with ${scheduler}`);
    }
  }
  schedulerFlags.sort();
  const localText = annotations[ANNOTATION.local];
  if (localText !== undefined && localText !== 'true' && localText !== 'false') {
    report('InvalidServiceLocal', `${ANNOTATION.local}: "${localText}" is not "true" or "false"; treated as false`);
  }
  if (annotations[ANNOTATION.dsr] !== undefined) {
    report('DSRNotSupported', `${ANNOTATION.dsr}: direct server return is not supported by this build yet; the Service is proxied with NAT`);
  }
  return {
    scheduler,
    schedulerFlags: scheduler === 'mh' ? schedulerFlags : [],
    local: localText === 'true',
    skipLoadBalancerIps: annotations[ANNOTATION.skipLoadBalancerIps] !== undefined,
    hairpin: annotations[ANNOTATION.hairpin] !== undefined,
    hairpinExternalIps: annotations[ANNOTATION.hairpinExternalIps] !== undefined,
  };
}
