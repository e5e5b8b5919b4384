// What the proxy bench counts and times around the real kernel doors: netlink messages and dumps through the IPVS
// handle and the rtnetlink socket, processes started through the exec layer (with their input kept, so the raw
// run can replay the same restores), and time spent in each dataplane part.
import { inputText, type Exec } from '../src/kernel/exec.ts';
import type { Ipvs } from '../src/kernel/ipvs.ts';
import type { NetlinkSocket } from '../src/kernel/netlink/socket.ts';

/** Netlink traffic of one socket: messages sent (requests, batch members, dump requests) and dumps among them. */
export interface NetlinkCount {
  messages: number;
  dumps: number;
}

const IPVS_DUMPS = new Set(['listServices', 'listDestinations']);
const IPVS_SINGLE = new Set(['info', 'getService', 'getTimeouts', 'setTimeouts']);

/** The IPVS handle, counting every message it sends: apply() sends one per op (the single-op methods go through it). */
export function countingIpvs(inner: Ipvs, count: NetlinkCount): Ipvs {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      const name = String(prop);
      return (...args: unknown[]) => {
        if (name === 'apply') count.messages += (args[0] as readonly unknown[]).length;
        else if (IPVS_DUMPS.has(name)) { count.messages++; count.dumps++; }
        else if (IPVS_SINGLE.has(name)) count.messages++;
        // add/update/deleteService and -Destination call this.apply on the inner object, counted here instead
        else if (name !== 'close') count.messages++;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

/** An rtnetlink socket counting what goes through it (the address applier's addresses and local routes). */
export function countingSocket(inner: NetlinkSocket, count: NetlinkCount): NetlinkSocket {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (prop === 'request') count.messages++;
        else if (prop === 'dump') { count.messages++; count.dumps++; }
        else if (prop === 'batch') count.messages += (args[0] as readonly unknown[]).length;
        else if (prop === 'wrappedBatch') count.messages += (args[1] as readonly unknown[]).length + 2;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

export interface ExecRecord {
  tool: string;
  args: readonly string[];
  input?: string;
}

/** The exec layer, keeping each run's tool, arguments and input (its own `count` still counts processes). */
export function recordingExec(inner: Exec, runs: ExecRecord[]): Exec {
  return {
    ...(inner.netns !== undefined ? { netns: inner.netns } : {}),
    get count() {
      return inner.count;
    },
    run(tool, args, options = {}) {
      const input = options.input === undefined ? undefined : inputText(options.input);
      runs.push({ tool, args, ...(input !== undefined ? { input } : {}) });
      return inner.run(tool, args, input === undefined ? options : { ...options, input });
    },
  };
}

/** Milliseconds spent in each named part (a part's async methods, summed). */
export type PartTimes = Record<string, number>;

/** `inner` with every method call timed into `times[part]` (awaited when it returns a promise). */
export function timedPart<T extends object>(inner: T, part: string, times: PartTimes): T {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const t = performance.now();
        const add = () => { times[part] = (times[part] ?? 0) + performance.now() - t; };
        const out = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (out instanceof Promise) return out.finally(add);
        add();
        return out;
      };
    },
  });
}
