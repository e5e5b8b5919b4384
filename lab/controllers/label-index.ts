// An index of named objects per namespace by label pair ("key=value"), so a control loop finds the pods a
// selector may match, or the selectors a pod's labels may satisfy, without scanning the whole namespace.
export type Labels = Readonly<Record<string, string>>;

const pairsOf = (labels: Labels): string[] => Object.entries(labels).map(([k, v]) => `${k}=${v}`);

export class LabelIndex {
  private readonly byNamespace = new Map<string, Map<string, Set<string>>>();
  private readonly indexed = new Map<string, { namespace: string; pairs: string[] }>();

  /**
   * Indexes `name` under the given label pairs (replacing what it had). `onlyFirst`: under its first pair only
   * (a selector: every object it matches carries that pair, so one entry is enough to be found).
   */
  set(namespace: string, name: string, labels: Labels, onlyFirst = false): void {
    this.delete(namespace, name);
    const all = pairsOf(labels);
    const pairs = onlyFirst ? all.slice(0, 1) : all;
    let index = this.byNamespace.get(namespace);
    if (!index) { index = new Map(); this.byNamespace.set(namespace, index); }
    for (const pair of pairs) {
      let names = index.get(pair);
      if (!names) { names = new Set(); index.set(pair, names); }
      names.add(name);
    }
    this.indexed.set(`${namespace}/${name}`, { namespace, pairs });
  }

  delete(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    const entry = this.indexed.get(key);
    if (!entry) return;
    this.indexed.delete(key);
    const index = this.byNamespace.get(namespace);
    for (const pair of entry.pairs) {
      const names = index?.get(pair);
      names?.delete(name);
      if (names?.size === 0) index?.delete(pair);
    }
  }

  /** Names indexed under any pair of `labels` (a superset of the selectors these labels satisfy). */
  anyOf(namespace: string, labels: Labels): Set<string> {
    const index = this.byNamespace.get(namespace);
    const found = new Set<string>();
    if (!index) return found;
    for (const pair of pairsOf(labels)) for (const name of index.get(pair) ?? []) found.add(name);
    return found;
  }

  /** Names indexed under every pair of `selector` (exactly the objects whose labels it matches). */
  allOf(namespace: string, selector: Labels): string[] {
    const index = this.byNamespace.get(namespace);
    const pairs = pairsOf(selector);
    if (!index || pairs.length === 0) return [];
    const sets = pairs.map((pair) => index.get(pair) ?? new Set<string>()).sort((a, b) => a.size - b.size);
    const [smallest, ...rest] = sets;
    return [...(smallest ?? [])].filter((name) => rest.every((set) => set.has(name)));
  }
}
