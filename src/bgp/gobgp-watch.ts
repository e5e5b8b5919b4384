// A self-healing subscription to gobgp's WatchEvent stream (best paths with the initial table, peer state changes):
// when the stream ends or fails (gobgpd restarted), it re-subscribes and tells the owner to resynchronise.
import type { ClientReadableStream } from '@grpc/grpc-js';
import { logger } from '../observe/log.ts';
import type { GobgpRawClient } from './gobgp-proto.ts';
import type { ApiWatchEventResponse } from './gobgp-api-types.ts';
import { bestPathFromApi, peerStateEventFromApi } from './gobgp-messages.ts';
import type { Watch, WatchHandlers } from './speaker.ts';

const log = logger('bgp');

export const WATCH_REQUEST = { peer: {}, table: { filters: [{ type: 'BEST', init: true }] } } as const;

export interface WatchRetry {
  initialMs: number;
  maxMs: number;
}

/** Delivers one WatchEvent response to the handlers. */
export function dispatchWatchEvent(event: ApiWatchEventResponse, handlers: WatchHandlers): void {
  if (event.peer) {
    // INIT events list the peers that exist when we subscribe; STATE events are transitions. END_OF_INIT carries no peer.
    if ((event.peer.type === 'INIT' || event.peer.type === 'STATE') && event.peer.peer) {
      handlers.onPeerState?.(peerStateEventFromApi(event.peer.peer));
    }
    return;
  }
  for (const apiPath of event.table?.paths ?? []) {
    const path = bestPathFromApi(apiPath);
    if (path) handlers.onBestPath(path);
  }
}

/** Subscribes now; on every later re-subscription calls onResync before replaying that stream's events. */
export function watchGobgp(client: GobgpRawClient, handlers: WatchHandlers, retry: WatchRetry = { initialMs: 200, maxMs: 5000 }): Watch {
  let closed = false;
  let call: ClientReadableStream<ApiWatchEventResponse> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let delayMs = retry.initialMs;
  let subscriptions = 0;

  const subscribe = (): void => {
    if (closed) return;
    const resubscribed = subscriptions++ > 0;
    let firstEvent = true;
    let finished = false;
    let current: ClientReadableStream<ApiWatchEventResponse>;
    try {
      current = client.openStream<typeof WATCH_REQUEST, ApiWatchEventResponse>('watchEvent', WATCH_REQUEST);
    } catch (err) {
      // The client was closed under us (its channel is shut down): nothing left to watch.
      closed = true;
      log.debug({ err }, 'gobgp client closed; event watch stops');
      return;
    }
    call = current;
    const retryLater = (reason: string): void => {
      if (finished) return;
      finished = true;
      if (closed) return;
      log.warn({ reason, retryInMs: delayMs }, 'gobgp event stream ended; re-subscribing');
      timer = setTimeout(subscribe, delayMs);
      delayMs = Math.min(delayMs * 2, retry.maxMs);
    };
    current.on('data', (event: ApiWatchEventResponse) => {
      if (firstEvent) {
        // gobgp always starts a subscription with the peer INIT list and END_OF_INIT, so the first event proves the
        // stream is live; only then is it safe to ask the owner to forget what it knew.
        firstEvent = false;
        delayMs = retry.initialMs;
        if (resubscribed) handlers.onResync?.();
      }
      try {
        dispatchWatchEvent(event, handlers);
      } catch (e) {
        log.error({ err: e }, 'BGP watch handler threw');
      }
    });
    current.on('error', (err: Error) => retryLater(err.message));
    current.on('end', () => retryLater('end of stream'));
  };

  subscribe();
  return {
    close(): void {
      closed = true;
      if (timer) clearTimeout(timer);
      call?.cancel();
    },
  };
}
