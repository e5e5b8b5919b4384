// The watch verb: a chunked stream of JSON events (ADDED/MODIFIED/DELETED/BOOKMARK/ERROR) with selectors,
// resume from a resourceVersion (410 Expired once it left the event window), bookmarks and timeouts.
import type { ServerResponse } from 'node:http';
import type { LabApi } from './api.ts';
import type { StoreEvent } from './store.ts';
import { storageKey, type KubeObject, type ResourceType } from './resources.ts';
import { filterMatches, type ObjectFilter } from './selectors.ts';
import { gone, statusBody } from './status-errors.ts';
import { toTable } from './table.ts';

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

export interface WatchSettings { bookmarkIntervalMs: number }

type WireType = 'ADDED' | 'MODIFIED' | 'DELETED';

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

export function serveWatch(api: LabApi, settings: WatchSettings, res: ServerResponse, watch: WatchRequest): void {
  const resource = storageKey(watch.type);
  const present = (object: KubeObject): KubeObject | Record<string, unknown> => {
    const copy = { ...object, apiVersion: watch.type.group ? `${watch.type.group}/${watch.type.version}` : 'v1', kind: watch.type.kind };
    return watch.asTable ? toTable(watch.type.kind, [copy], { resourceVersion: object.metadata.resourceVersion }, watch.includeObject) : copy;
  };
  res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache, private' });
  res.flushHeaders();
  const send = (type: string, object: unknown): void => { res.write(JSON.stringify({ type, object }) + '\n'); };

  const fromRv = watch.resourceVersion && watch.resourceVersion !== '0' ? Number(watch.resourceVersion) : undefined;
  if (fromRv !== undefined) {
    const backlog = Number.isFinite(fromRv) ? api.objects.eventsSince(fromRv) : undefined;
    if (!backlog) {
      send('ERROR', statusBody(gone(`too old resource version: ${watch.resourceVersion} (${api.objects.oldestResumableRv})`)));
      res.end();
      return;
    }
    for (const event of backlog) deliver(event);
  } else {
    for (const object of api.listShared(watch.type, watch.filter.namespace)) {
      if (filterMatches(watch.filter, object)) send('ADDED', present(object));
    }
  }

  function deliver(event: StoreEvent): void {
    if (event.resource !== resource) return;
    const wire = translateEvent(watch.filter, event);
    if (wire) send(wire, present(wire === 'DELETED' && event.type !== 'DELETED' ? { ...event.object } : event.object));
  }

  const unsubscribe = api.subscribe(deliver);
  const bookmarks = watch.allowBookmarks ? setInterval(() => {
    send('BOOKMARK', { kind: watch.type.kind, apiVersion: watch.type.group ? `${watch.type.group}/${watch.type.version}` : 'v1',
      metadata: { resourceVersion: String(api.objects.resourceVersion) } });
  }, settings.bookmarkIntervalMs) : undefined;
  const timeout = setTimeout(() => res.end(), watch.timeoutSeconds * 1000);
  const finish = (): void => {
    unsubscribe();
    if (bookmarks) clearInterval(bookmarks);
    clearTimeout(timeout);
  };
  // the response closes when the timeout ends it, the client goes away or the server stops
  res.on('close', finish);
}
