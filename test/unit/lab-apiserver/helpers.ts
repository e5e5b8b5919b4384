// Test helpers for the lab API server: a server on loopback in a temp dir, JSON requests, and a watch-stream reader.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLabApiServer, type LabApiServer, type LabApiServerOptions } from '../../../lab/apiserver/server.ts';

export interface TestServer extends LabApiServer { dir: string; close(): Promise<void> }

export async function startTestServer(options: Partial<LabApiServerOptions> = {}): Promise<TestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'lab-apiserver-test-'));
  const server = await startLabApiServer({ stateDir: dir, plainHttp: true, token: false, ...options });
  return { ...server, dir, close: async () => { await server.stop(); await rm(dir, { recursive: true, force: true }); } };
}

export interface JsonResponse { status: number; body: any }

export async function call(base: string, method: string, path: string, body?: unknown, contentType = 'application/json',
  headers: Record<string, string> = {}): Promise<JsonResponse> {
  const response = await fetch(base + path, {
    method, headers: { 'Content-Type': contentType, ...headers },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

export interface WatchEvent { type: string; object: any }

/** Reads a watch stream event by event; `next` rejects when nothing arrives in time, `ended` tells if the server closed it. */
export class WatchReader {
  private readonly events: WatchEvent[] = [];
  private waiter: (() => void) | undefined;
  ended = false;
  private readonly abort = new AbortController();

  static async open(base: string, path: string, headers: Record<string, string> = {}): Promise<WatchReader> {
    const reader = new WatchReader();
    const response = await fetch(base + path, { signal: reader.abort.signal, headers });
    if (!response.body) throw new Error('no body');
    void reader.pump(response.body);
    return reader;
  }

  private async pump(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of body) {
        buffer += decoder.decode(chunk, { stream: true });
        let newline;
        while ((newline = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + 1);
          if (line.trim()) this.events.push(JSON.parse(line) as WatchEvent);
          this.waiter?.();
        }
      }
    } catch { /* aborted */ }
    this.ended = true;
    this.waiter?.();
  }

  async next(timeoutMs = 3000): Promise<WatchEvent> {
    const deadline = Date.now() + timeoutMs;
    while (this.events.length === 0) {
      if (this.ended) throw new Error('watch ended');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no watch event in time');
      await new Promise<void>((resolve) => { this.waiter = resolve; setTimeout(resolve, left); });
      this.waiter = undefined;
    }
    return this.events.shift() as WatchEvent;
  }

  /** Waits until the server closes the stream. */
  async waitEnd(timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    if (!this.ended) throw new Error('watch still open');
  }

  close(): void { this.abort.abort(); }
}

export const pod = (name: string, labels: Record<string, string> = {}, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, labels },
  spec: { containers: [{ name: 'c', image: 'busybox:1.36' }], ...extra },
});
