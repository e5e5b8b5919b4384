// Records core/v1 Events on Kubernetes objects (what `kubectl describe` shows), folding repeats of the
// same object+reason+message into one Event's count. Fire-and-forget: rate-limited, failures only logged.
import type { Event, ObjectReference } from 'kubernetes-types/core/v1.js';
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import { logger } from './log.ts';
import { type KubeClient, resourcePath } from '../kube/client.ts';
import { apiVersionOf, EVENTS } from '../kube/api-access.ts';

export type EventType = 'Normal' | 'Warning';

/** Any API object the event is about. */
export interface EventSubject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
}

export interface EventRecorderOptions {
  client: KubeClient;
  /** The node name, reported as source.host. */
  host: string;
  component?: string;
  /** Token bucket: at most `burst` API writes at once, refilled at `refillPerSecond`. */
  burst?: number;
  refillPerSecond?: number;
  /** Pending events beyond this are dropped. */
  maxQueue?: number;
  /** How many distinct (object, reason, message) Events are remembered for aggregation. */
  maxRemembered?: number;
  now?: () => number;
}

interface Pending {
  key: string;
  subject: EventSubject;
  type: EventType;
  reason: string;
  message: string;
  at: number;
}

interface Remembered {
  namespace: string;
  name: string;
  count: number;
}

const MAX_MESSAGE = 1024;

function timestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export class EventRecorder {
  /** Events not sent because of the rate limit or a full queue. */
  dropped = 0;
  private readonly queue: Pending[] = [];
  private readonly remembered = new Map<string, Remembered>();
  private tokens: number;
  private lastRefill: number;
  private pumping: Promise<void> | undefined;
  private sequence = 0;
  private readonly opts: Required<EventRecorderOptions>;

  constructor(options: EventRecorderOptions) {
    this.opts = { component: 'kube-router', burst: 25, refillPerSecond: 1 / 5, maxQueue: 1000, maxRemembered: 4096, now: Date.now, ...options };
    this.tokens = this.opts.burst;
    this.lastRefill = this.opts.now();
  }

  /** Queues an Event about `subject`; never throws and never waits on the API. */
  record(subject: EventSubject, type: EventType, reason: string, message: string): void {
    const meta = subject.metadata ?? {};
    const key = [meta.uid ?? `${subject.kind}/${meta.namespace ?? ''}/${meta.name ?? ''}`, reason, message].join('\u0000');
    if (!this.takeToken() || this.queue.length >= this.opts.maxQueue) {
      this.dropped++;
      return;
    }
    this.queue.push({ key, subject, type, reason, message: message.slice(0, MAX_MESSAGE), at: this.opts.now() });
    this.pumping ??= this.pump().finally(() => (this.pumping = undefined));
  }

  /** Resolves once everything queued so far has been sent (or has failed). */
  async flush(): Promise<void> {
    while (this.pumping) await this.pumping;
  }

  private takeToken(): boolean {
    const now = this.opts.now();
    this.tokens = Math.min(this.opts.burst, this.tokens + ((now - this.lastRefill) / 1000) * this.opts.refillPerSecond);
    this.lastRefill = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private async pump(): Promise<void> {
    for (let next = this.queue.shift(); next; next = this.queue.shift()) {
      try {
        await this.send(next);
      } catch (error) {
        logger('events').error({ err: error, reason: next.reason }, 'event recording failed unexpectedly');
      }
    }
  }

  private async send(p: Pending): Promise<void> {
    const log = logger('events');
    const seen = this.remembered.get(p.key);
    if (seen) {
      const patch = { count: seen.count + 1, lastTimestamp: timestamp(p.at), message: p.message };
      const res = await this.opts.client.patch<Event>(resourcePath(apiVersionOf(EVENTS), EVENTS.resource, seen.namespace, seen.name), patch, 'merge');
      if (res.ok) {
        seen.count += 1;
        return;
      }
      // The Event expired (events have a TTL) or was deleted: start a new one.
      this.remembered.delete(p.key);
      if (res.error.code !== 404) {
        log.warn({ error: res.error, reason: p.reason }, 'could not update event count');
        return;
      }
    }
    const event = this.newEvent(p);
    const res = await this.opts.client.create<Event>(resourcePath(apiVersionOf(EVENTS), EVENTS.resource, event.metadata.namespace), event);
    if (!res.ok) {
      log.warn({ error: res.error, reason: p.reason, object: event.involvedObject.name }, 'could not create event');
      return;
    }
    this.remember(p.key, { namespace: event.metadata.namespace!, name: event.metadata.name!, count: 1 });
  }

  private remember(key: string, entry: Remembered): void {
    this.remembered.set(key, entry);
    if (this.remembered.size > this.opts.maxRemembered) {
      const oldest = this.remembered.keys().next().value;
      if (oldest !== undefined) this.remembered.delete(oldest);
    }
  }

  private newEvent(p: Pending): Event & { metadata: { namespace: string; name: string } } {
    const meta = p.subject.metadata ?? {};
    const involvedObject: ObjectReference = { kind: p.subject.kind, apiVersion: p.subject.apiVersion, name: meta.name };
    if (meta.namespace) involvedObject.namespace = meta.namespace;
    if (meta.uid) involvedObject.uid = meta.uid;
    if (meta.resourceVersion) involvedObject.resourceVersion = meta.resourceVersion;
    // Like client-go: `<object name>.<unique hex>`; cluster-scoped objects' events live in "default".
    const unique = (BigInt(p.at) * 1_000_000n + BigInt(this.sequence++ % 1_000_000)).toString(16);
    const ts = timestamp(p.at);
    return {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${meta.name ?? 'unknown'}.${unique}`, namespace: meta.namespace || 'default' },
      involvedObject,
      reason: p.reason,
      message: p.message,
      type: p.type,
      source: { component: this.opts.component, host: this.opts.host },
      firstTimestamp: ts,
      lastTimestamp: ts,
      count: 1,
      reportingComponent: this.opts.component,
      reportingInstance: this.opts.host,
    };
  }
}
