// The standard NetworkPolicy test model (as in the Kubernetes e2e suite): namespaces x, y, z, each with pods
// a, b, c serving TCP and UDP on 80 and 81, plus the reachability truth table a case expects and the one probes
// observe. Pure data and functions; the lab side lives in lab-model.ts and probe-runner.ts.

export const NAMESPACES = ['x', 'y', 'z'] as const;
export const POD_NAMES = ['a', 'b', 'c'] as const;
export const SERVED_PORTS = [80, 81] as const;
export type Protocol = 'tcp' | 'udp';

/** A peer in the truth table: one of the 9 model pods, or a node namespace (`node/<index>`, rows only). */
export interface PodRef {
  namespace: string;
  name: string;
}

export const podKey = (p: PodRef): string => `${p.namespace}/${p.name}`;
export const MODEL_PODS: readonly PodRef[] = NAMESPACES.flatMap((namespace) => POD_NAMES.map((name) => ({ namespace, name })));

/** Which lab node (1-based) runs each pod: pod a on node 1, b on 2, c on 3, so x/a → y/a is same-node traffic. */
export const nodeIndexOf = (p: PodRef): number => POD_NAMES.indexOf(p.name as (typeof POD_NAMES)[number]) + 1;

/** containerPort name the pods give each served port, e.g. serve-81-udp (for named-port policies). */
export const portName = (port: number, protocol: Protocol): string => `serve-${port}-${protocol}`;

/** The labels a model namespace and pod start with (and are reset to before every case). */
export const namespaceLabels = (ns: string): Record<string, string> => ({ ns, 'kubernetes.io/metadata.name': ns });
export const podLabels = (p: PodRef): Record<string, string> => ({ pod: p.name });

/** One probe target: a port and protocol; every step probes the 9×9 matrix (minus self) for each. */
export interface PortProbe {
  port: number;
  protocol: Protocol;
}

export const TCP80: PortProbe = { port: 80, protocol: 'tcp' };
export const TCP81: PortProbe = { port: 81, protocol: 'tcp' };
export const UDP80: PortProbe = { port: 80, protocol: 'udp' };
export const UDP81: PortProbe = { port: 81, protocol: 'udp' };

/** Expected verdict for one (from, to, port/protocol). */
export type Expectation = (from: PodRef, to: PodRef, probe: PortProbe) => boolean;

/** A truth table: verdicts keyed by "from|to" for one port/protocol. */
export class TruthTable {
  readonly rows: readonly PodRef[];
  readonly cols: readonly PodRef[];
  private readonly cells = new Map<string, boolean>();

  constructor(rows: readonly PodRef[], cols: readonly PodRef[]) {
    this.rows = rows;
    this.cols = cols;
  }

  static expected(rows: readonly PodRef[], cols: readonly PodRef[], probe: PortProbe, expect: Expectation): TruthTable {
    const t = new TruthTable(rows, cols);
    for (const from of rows) for (const to of cols) if (!isSelf(from, to)) t.set(from, to, expect(from, to, probe));
    return t;
  }

  set(from: PodRef, to: PodRef, connected: boolean): void {
    this.cells.set(`${podKey(from)}|${podKey(to)}`, connected);
  }

  get(from: PodRef, to: PodRef): boolean | undefined {
    return this.cells.get(`${podKey(from)}|${podKey(to)}`);
  }

  /** Cells where the other table disagrees with this one. */
  mismatches(observed: TruthTable): { from: PodRef; to: PodRef; expected: boolean; observed: boolean | undefined }[] {
    const out: { from: PodRef; to: PodRef; expected: boolean; observed: boolean | undefined }[] = [];
    for (const from of this.rows) {
      for (const to of this.cols) {
        const expected = this.get(from, to);
        if (expected === undefined) continue;
        const seen = observed.get(from, to);
        if (seen !== expected) out.push({ from, to, expected, observed: seen });
      }
    }
    return out;
  }

  /**
   * The table as text, like the upstream suite prints it: `.` connected, `X` blocked, `-` not probed (self);
   * with `expected` given, a wrong cell shows what was seen in brackets: `[.]` connected but should not, `[X]`
   * blocked but should connect.
   */
  render(expected?: TruthTable): string {
    const width = Math.max(...this.rows.map((r) => podKey(r).length), 6);
    const colWidth = Math.max(...this.cols.map((c) => podKey(c).length)) + 1;
    const pad = (s: string, n: number): string => s + ' '.repeat(Math.max(0, n - s.length));
    const lines = [pad('', width) + ' ' + this.cols.map((c) => pad(podKey(c), colWidth)).join('')];
    for (const from of this.rows) {
      const cells = this.cols.map((to) => {
        const seen = this.get(from, to);
        const symbol = seen === undefined ? '-' : seen ? '.' : 'X';
        const want = expected?.get(from, to);
        return pad(want !== undefined && want !== seen ? `[${symbol}]` : symbol, colWidth);
      });
      lines.push(pad(podKey(from), width) + ' ' + cells.join(''));
    }
    return lines.join('\n');
  }
}

export const isSelf = (a: PodRef, b: PodRef): boolean => a.namespace === b.namespace && a.name === b.name;

// Expectation building blocks, so cases read like the policies they apply.

export const allowAll: Expectation = () => true;
export const inNs = (...namespaces: string[]) => (p: PodRef): boolean => namespaces.includes(p.namespace);
export const isPod = (...keys: string[]) => (p: PodRef): boolean => keys.includes(podKey(p));
export const named = (...names: string[]) => (p: PodRef): boolean => names.includes(p.name);
export const onPort = (port: number, protocol?: Protocol) => (probe: PortProbe): boolean =>
  probe.port === port && (protocol === undefined || probe.protocol === protocol);
