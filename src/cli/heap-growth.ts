// How far V8 lets the heap grow past what the last full GC kept before collecting again. V8 picks the factor
// itself (up to 4x on a machine with memory to spare): after the start-up at 50k pods (~150 MB live) the daemon
// then sat at 430 MB RSS and never shrank, idle. A fixed 1.5x kept start-up as fast (bench:scale, 50k pods:
// first netpol sync 11-12 s either way) with peak 326 MB and 240 MB idle after two minutes, at 0.016 cores idle.
// (--optimize-for-size got the same idle RSS but slowed the start-up by 5-8 s.)
import { setFlagsFromString } from 'node:v8';

export const HEAP_GROWING_PERCENT = 50;

/** Sets V8's heap growing factor, unless the node command line already chose one. */
export function limitHeapGrowth(execArgv: readonly string[] = process.execArgv, setFlags: (flags: string) => void = setFlagsFromString): boolean {
  if (execArgv.some((a) => /^--heap[-_]growing[-_]percent(=|$)/.test(a))) return false;
  setFlags(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  return true;
}
