// Where a V8 heap snapshot's bytes are: self sizes summed per node type and constructor (strings and
// V8-internal arrays per the constructor of the object holding them), largest first, with the edge names
// the groups are most often reached by. For snapshots from `npm run bench:scale -- --heap-snapshot DIR`:
//   node --max-old-space-size=8000 --import tsx bench/heap-summary.ts FILE [--top 40]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '40' } } });
const file = positionals[0];
if (!file) throw new Error('usage: heap-summary.ts FILE [--top N]');

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]]; edge_fields: string[]; edge_types: [string[], ...unknown[]] } };
  nodes: number[];
  edges: number[];
  strings: string[];
}

const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
const { meta } = snap.snapshot;
const NF = meta.node_fields.length;
const EF = meta.edge_fields.length;
const nType = meta.node_fields.indexOf('type');
const nName = meta.node_fields.indexOf('name');
const nSize = meta.node_fields.indexOf('self_size');
const nEdges = meta.node_fields.indexOf('edge_count');
const eType = meta.edge_fields.indexOf('type');
const eName = meta.edge_fields.indexOf('name_or_index');
const eTo = meta.edge_fields.indexOf('to_node');
const nodeTypes = meta.node_types[0];
const edgeTypes = meta.edge_types[0];
const nodeCount = snap.nodes.length / NF;

// first retainer per node (by a non-weak edge), for grouping what only has meaning through its holder
const holder = new Int32Array(nodeCount).fill(-1);
const holderEdge = new Array<string>(nodeCount);
for (let n = 0, e = 0; n < nodeCount; n++) {
  const count = snap.nodes[n * NF + nEdges]!;
  for (let i = 0; i < count; i++, e += EF) {
    const to = snap.edges[e + eTo]! / NF;
    const type = edgeTypes[snap.edges[e + eType]!];
    if (type === 'weak' || holder[to] !== -1) continue;
    holder[to] = n;
    const nameOrIndex = snap.edges[e + eName]!;
    holderEdge[to] = type === 'element' || type === 'hidden' ? `[${type}]` : snap.strings[nameOrIndex] ?? String(nameOrIndex);
  }
}

const typeOf = (n: number): string => nodeTypes[snap.nodes[n * NF + nType]!] ?? '?';
const nameOf = (n: number): string => snap.strings[snap.nodes[n * NF + nName]!] ?? '?';
const groupOf = (n: number): string => {
  const type = typeOf(n);
  const h = holder[n]!;
  const via = h >= 0 ? `${typeOf(h) === 'object' ? nameOf(h) : typeOf(h)}.${holderEdge[n]}` : 'root';
  // plain objects and arrays say little by themselves: by the property they hang from
  if (type === 'object' && (nameOf(n) === 'Object' || nameOf(n) === 'Array')) return `${type} ${nameOf(n)} held by ${via}`;
  if (type === 'object' || type === 'closure' || type === 'regexp') return `${type} ${nameOf(n)}`;
  return `${type} ${type === 'array' || type === 'hidden' || type === 'code' ? nameOf(n) : ''} held by ${via}`;
};

const groups = new Map<string, { count: number; bytes: number }>();
let total = 0;
for (let n = 0; n < nodeCount; n++) {
  const size = snap.nodes[n * NF + nSize]!;
  total += size;
  const key = groupOf(n);
  const g = groups.get(key) ?? { count: 0, bytes: 0 };
  g.count++;
  g.bytes += size;
  groups.set(key, g);
}
console.log(`${file}: ${nodeCount} nodes, ${(total / 1e6).toFixed(1)} MB self size`);
const top = [...groups].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, Number(values.top));
for (const [key, g] of top) console.log(`${(g.bytes / 1e6).toFixed(2).padStart(8)} MB ${String(g.count).padStart(9)}  ${key}`);
