// Reads the relative imports of TypeScript files into a graph and answers the architecture test's questions:
// which files a file imports, which imports cross a forbidden boundary, which files form a cycle.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

/** One import edge, both ends as paths relative to the repository root with '/' separators. */
export interface ImportEdge {
  from: string;
  to: string;
}

// `import x from`, `import type { a } from`, `import * as n from`, `export { a } from`, `export * from` (the
// braces may span lines); a bare `import './x.ts'`; and `import('./x.ts')`.
const FROM_CLAUSE = /^\s*(?:import|export)\s+(?:type\s+)?(?:[\w$]+\s*,?\s*)?(?:\*\s*(?:as\s+[\w$]+\s*)?|\{[^}]*\}\s*)?from\s*['"]([^'"]+)['"]/gm;
const BARE_IMPORT = /^\s*import\s*['"]([^'"]+)['"]/gm;
const DYNAMIC_IMPORT = /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g;

/** Every module specifier the source imports or re-exports from, in order of appearance per kind. */
export function importSpecifiers(source: string): string[] {
  const found: string[] = [];
  for (const pattern of [FROM_CLAUSE, BARE_IMPORT, DYNAMIC_IMPORT]) {
    for (const match of source.matchAll(pattern)) if (match[1] !== undefined) found.push(match[1]);
  }
  return found;
}

const toPosix = (path: string): string => path.split(sep).join('/');

/** Files under `dir` (relative to `root`) whose names end with one of `suffixes`, as root-relative paths. */
export function filesUnder(root: string, dir: string, suffixes: string[] = ['']): string[] {
  const out: string[] = [];
  const walk = (absolute: string): void => {
    for (const entry of readdirSync(absolute, { withFileTypes: true })) {
      const path = join(absolute, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() && suffixes.some((s) => entry.name.endsWith(s))) out.push(toPosix(relative(root, path)));
    }
  };
  walk(join(root, dir));
  return out.sort();
}

/** The relative imports of each file (package imports such as 'node:fs' are not edges). */
export function importEdges(root: string, files: string[], read = (path: string) => readFileSync(join(root, path), 'utf8')): ImportEdge[] {
  const edges: ImportEdge[] = [];
  for (const from of files) {
    for (const spec of importSpecifiers(read(from))) {
      if (!spec.startsWith('.')) continue;
      edges.push({ from, to: toPosix(relative(root, resolve(root, dirname(from), spec))) });
    }
  }
  return edges;
}

/** The controller folder a path is in (`src/controllers/<name>/...`), or undefined for shared files. */
export function controllerFolder(path: string): string | undefined {
  const match = /^src\/controllers\/([^/]+)\//.exec(path);
  return match?.[1];
}

/** Imports from one controller's folder into another's (shared code belongs below src/controllers/). */
export function crossControllerImports(edges: ImportEdge[]): ImportEdge[] {
  return edges.filter((e) => {
    const from = controllerFolder(e.from);
    const to = controllerFolder(e.to);
    return from !== undefined && to !== undefined && from !== to;
  });
}

/** Imports into `dir` from files outside it (`dir` ends with '/'). */
export function importsInto(dir: string, edges: ImportEdge[]): ImportEdge[] {
  return edges.filter((e) => e.to.startsWith(dir) && !e.from.startsWith(dir));
}

/** The cycles of the graph: each strongly connected component of more than one file, or a file importing itself (sorted). */
export function importCycles(edges: ImportEdge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const { from, to } of edges) {
    next.set(from, [...(next.get(from) ?? []), to]);
    if (!next.has(to)) next.set(to, []);
  }
  // Tarjan's algorithm, iterative so a deep import chain cannot overflow the stack.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  let counter = 0;
  for (const start of next.keys()) {
    if (index.has(start)) continue;
    const work: Array<{ node: string; child: number }> = [{ node: start, child: 0 }];
    index.set(start, counter);
    low.set(start, counter++);
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const children = next.get(frame.node) ?? [];
      if (frame.child < children.length) {
        const child = children[frame.child++]!;
        if (!index.has(child)) {
          index.set(child, counter);
          low.set(child, counter++);
          stack.push(child);
          onStack.add(child);
          work.push({ node: child, child: 0 });
        } else if (onStack.has(child)) {
          low.set(frame.node, Math.min(low.get(frame.node)!, index.get(child)!));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!));
      if (low.get(frame.node) !== index.get(frame.node)) continue;
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== frame.node);
      const selfImport = (next.get(frame.node) ?? []).includes(frame.node);
      if (component.length > 1 || selfImport) cycles.push(component.sort());
    }
  }
  return cycles.sort((a, b) => a[0]!.localeCompare(b[0]!));
}

/** Files with more than `max` lines (a final newline does not start another line). */
export function longFiles(root: string, files: string[], max: number): Array<{ path: string; lines: number }> {
  return files
    .map((path) => {
      const text = readFileSync(join(root, path), 'utf8');
      const lines = text === '' ? 0 : text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
      return { path, lines };
    })
    .filter((f) => f.lines > max);
}
