// Values that repeat across many cached objects, kept once. JSON.parse gives every object its own copy of every
// string and structure: at 50k pods the same namespace, node name, host IP and phase exist 50k times, replicas of
// one workload carry equal label maps and container port tables, the slices of a Service equal labels and ports.
// A table per kind of value hands out one copy per distinct value. Each table is bounded: when it fills up it
// starts over (sharing saves memory, nothing depends on it), so values that churn past never pile up and a
// cluster whose values are all distinct costs at most one table's worth.
// Shared structures are frozen: stored objects are immutable, and a reader that writes into one fails loudly
// instead of changing every object that shares it.

class Table<T> {
  private readonly map = new Map<string, T>();
  constructor(private readonly max: number) {}

  /** The kept value for `key`, or a new one from `make` (then kept) when there is none. */
  get(key: string, make: () => T): T {
    const hit = this.map.get(key);
    if (hit !== undefined) return hit;
    if (this.map.size >= this.max) this.map.clear();
    const value = make();
    this.map.set(key, value);
    return value;
  }

  get size(): number {
    return this.map.size;
  }
}

/** Namespaces, node names, host IPs, phases, protocols, label values: tens of thousands distinct at most. */
const strings = new Table<string>(65_536);
/** Label maps: one per workload revision where replicas share them. */
const labelMaps = new Table<Readonly<Record<string, string>>>(16_384);
/** Container and port tables, by their JSON. */
const structures = new Table<unknown>(4_096);

/** One copy of a short, often repeated string. */
export function sharedString<T extends string>(s: T): T;
export function sharedString<T extends string>(s: T | undefined): T | undefined;
export function sharedString<T extends string>(s: T | undefined): T | undefined {
  return s === undefined ? undefined : strings.get(s, () => s) as T;
}

/** One frozen copy of a label (or selector) map; its values shared as strings. */
export function sharedLabels(labels: Record<string, string> | undefined): Record<string, string> | undefined {
  if (labels === undefined) return undefined;
  return labelMaps.get(JSON.stringify(labels), () => {
    const copy: Record<string, string> = {};
    for (const [k, v] of Object.entries(labels)) copy[k] = sharedString(v);
    return Object.freeze(copy);
  }) as Record<string, string>;
}

/**
 * One copy of a small JSON-shaped structure (arrays and plain objects of strings and numbers) built for the
 * cache: the first one given is deep-frozen and kept, so pass a fresh value, not one the caller still owns.
 */
export function sharedStructure<T>(value: T): T {
  if (value === undefined || value === null) return value;
  return structures.get(JSON.stringify(value), () => {
    deepFreeze(value);
    return value;
  }) as T;
}

function deepFreeze(value: unknown): void {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return;
  for (const v of Object.values(value)) deepFreeze(v);
  Object.freeze(value);
}

/** How many distinct values each table holds (for tests and the scale bench). */
export function sharedValueCounts(): { strings: number; labelMaps: number; structures: number } {
  return { strings: strings.size, labelMaps: labelMaps.size, structures: structures.size };
}
