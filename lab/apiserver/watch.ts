// The watch verb: a chunked stream of JSON events (ADDED/MODIFIED/DELETED/BOOKMARK/ERROR) with selectors,
// resume from a resourceVersion (410 Expired once it left the event window), bookmarks and timeouts.
import type { ServerResponse } from 'node:http';
import type { LabApi } from './api.ts';
import type { StoreEvent } from './store.ts';
import { storageKey, type KubeObject, type ResourceType } from './resources.ts';
import { filterMatches, type ObjectFilter } from './selectors.ts';
import { gone, statusBody } from './status-errors.ts';
import { toTable } from './table.ts';
import { logger } from '../../src/observe/log.ts';

const log = logger('lab-apiserver');

export interface WatchRequest {
  type: ResourceType;
  filter: ObjectFilter;
  resourceVersion: string | undefined;
  allowBookmarks: boolean;
  timeoutSeconds: number;
  /** Send each object as a one-row Table (kubectl get -w). */
  asTable: boolean;
  includeObject: string;
}

export interface WatchSettings {
  bookmarkIntervalMs: number;
  /** Bytes a watch response may hold unsent before its client counts as too slow and the watch is dropped. */
  maxBufferedBytes: number;
}

type WireType = 'ADDED' | 'MODIFIED' | 'DELETED';

/**
 * Encoded event lines shared by every watch of the same resource version and wire type: with N watchers an event
 * is serialised once, not N times. Keyed weakly by the store event, so lines go when the event leaves the window.
 */
const encodedLines = new WeakMap<StoreEvent, Map<string, string>>();

function encodedLine(event: StoreEvent, key: string, encode: () => string): string {
  let lines = encodedLines.get(event);
  if (!lines) { lines = new Map(); encodedLines.set(event, lines); }
  let line = lines.get(key);
  if (line === undefined) { line = encode(); lines.set(key, line); }
  return line;
}

/** How one store event looks to a watcher with this filter: objects leaving the selection are DELETED. */
export function translateEvent(filter: ObjectFilter, event: StoreEvent): WireType | undefined {
  const now = event.type !== 'DELETED' && filterMatches(filter, event.object);
  const before = event.previous !== undefined && filterMatches(filter, event.previous);
  if (event.type === 'DELETED') return before ? 'DELETED' : undefined;
  if (now && before) return 'MODIFIED';
  if (now) return 'ADDED';
  if (before) return 'DELETED';
  return undefined;
}

/**
 * Streams one watch. The stream is unsubscribed from the store the moment it ends, whatever ends it (timeout,
 * the client going away, a write error, a client too slow to keep up): nothing is ever written to a response
 * that has ended, and a failing write ends only this stream, never the store change that caused it.
 */
export function serveWatch(api: LabApi, settings: WatchSettings, res: ServerResponse, watch: WatchRequest): void {
  const resource = storageKey(watch.type);
  const present = (object: KubeObject): KubeObject | Record<string, unknown> => {
    const copy = { ...object, apiVersion: watch.type.group ? `${watch.type.group}/${watch.type.version}` : 'v1', kind: watch.type.kind };
    return watch.asTable ? toTable(watch.type.kind, [copy], { resourceVersion: object.metadata.resourceVersion }, watch.includeObject) : copy;
  };
  let open = true;
  let unsubscribe: (() => void) | undefined;
  let bookmarks: NodeJS.Timeout | undefined;
  let timeout: NodeJS.Timeout | undefined;
  const stop = (): void => {
    if (!open) return;
    open = false;
    unsubscribe?.();
    clearInterval(bookmarks);
    clearTimeout(timeout);
  };
  /** Ends the stream: cleanly when the response can still be ended, else by dropping the connection. */
  const finish = (how: 'end' | 'destroy'): void => {
    stop();
    if (res.destroyed || res.writableEnded) return;
    if (how === 'end') res.end();
    else res.destroy();
  };
  const send = (type: string, object: unknown, line?: string): void => {
    if (!open || res.destroyed || res.writableEnded) { stop(); return; }
    try {
      res.write(line ?? JSON.stringify({ type, object }) + '\n');
    } catch (error) {
      log.warn({ err: error, resource }, 'watch write failed; ending the watch');
      finish('destroy');
      return;
    }
    // A client that does not read would make the server buffer every later event: as upstream, a watcher that
    // cannot keep up is dropped (its client re-lists or resumes from its last resourceVersion). Checked on live
    // events only: the initial burst of a large list is written at once, whatever the client's pace.
    if (unsubscribe && res.writableLength > settings.maxBufferedBytes) {
      log.warn({ resource, buffered: res.writableLength }, 'watch client too slow; dropping the watch');
      finish('destroy');
    }
  };
  // the response ends or fails: no later event may reach it (its 'error' must not become an uncaught exception)
  res.on('close', stop);
  res.on('finish', stop);
  res.on('error', (error) => { log.debug({ err: error, resource }, 'watch response failed'); stop(); });

  res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache, private' });
  res.flushHeaders();
  const fromRv = watch.resourceVersion && watch.resourceVersion !== '0' ? Number(watch.resourceVersion) : undefined;
  if (fromRv !== undefined) {
    const backlog = Number.isFinite(fromRv) ? api.objects.eventsSince(fromRv) : undefined;
    if (!backlog) {
      send('ERROR', statusBody(gone(`too old resource version: ${watch.resourceVersion} (${api.objects.oldestResumableRv})`)));
      finish('end');
      return;
    }
    for (const event of backlog) deliver(event);
  } else {
    for (const object of api.listShared(watch.type, watch.filter.namespace)) {
      if (filterMatches(watch.filter, object)) send('ADDED', present(object));
    }
  }

  function deliver(event: StoreEvent): void {
    if (!open || event.resource !== resource) return;
    try {
      const wire = translateEvent(watch.filter, event);
      if (!wire) return;
      if (watch.asTable) { send(wire, present(event.object)); return; }
      send(wire, undefined, encodedLine(event, `${wire} ${watch.type.group}/${watch.type.version}/${watch.type.kind}`,
        () => JSON.stringify({ type: wire, object: present(event.object) }) + '\n'));
    } catch (error) {
      // an event this watch cannot render: end it (its client resumes) rather than skip the event silently
      log.warn({ err: error, resource }, 'watch event could not be sent; ending the watch');
      finish('destroy');
    }
  }

  // the client may have gone (or been dropped as too slow) while the initial events were written
  if (!open || res.destroyed) { stop(); return; }
  unsubscribe = api.subscribe(deliver);
  if (watch.allowBookmarks) {
    bookmarks = setInterval(() => {
      send('BOOKMARK', { kind: watch.type.kind, apiVersion: watch.type.group ? `${watch.type.group}/${watch.type.version}` : 'v1',
        metadata: { resourceVersion: String(api.objects.resourceVersion) } });
    }, settings.bookmarkIntervalMs);
  }
  timeout = setTimeout(() => finish('end'), watch.timeoutSeconds * 1000);
}
