// The layering rules of docs/conventions.md, checked on the source tree: controllers never import each other,
// nothing below the command line imports from src/cli/, src/ has no import cycle, and no file passes 500 lines.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  crossControllerImports, filesUnder, importCycles, importEdges, importSpecifiers, importsInto, longFiles, type ImportEdge,
} from '../helpers/import-graph.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAX_LINES = 500;

const srcFiles = filesUnder(ROOT, 'src', ['.ts']);
const srcEdges = importEdges(ROOT, srcFiles);
const show = (edges: ImportEdge[]): string => edges.map((e) => `${e.from} -> ${e.to}`).join('\n');

describe('the source tree', () => {
  it('is read: every src file is seen and known imports are found', () => {
    assert.ok(srcFiles.includes('src/cli/main.ts') && srcFiles.includes('src/controllers/runtime.ts'));
    assert.ok(srcEdges.some((e) => e.from === 'src/cli/controllers.ts' && e.to === 'src/controllers/routing/index.ts'));
    assert.ok(srcEdges.length > srcFiles.length, `only ${srcEdges.length} imports in ${srcFiles.length} files`);
  });

  it('has no import from one controller folder into another', () => {
    const crossing = crossControllerImports(srcEdges);
    assert.deepEqual(crossing, [], `controllers import each other:\n${show(crossing)}`);
  });

  it('has no import into src/cli/ from outside it', () => {
    const inward = importsInto('src/cli/', srcEdges);
    assert.deepEqual(inward, [], `imports into src/cli/:\n${show(inward)}`);
  });

  it('has no import cycle among src/ files', () => {
    const cycles = importCycles(srcEdges);
    assert.deepEqual(cycles, [], `import cycles:\n${cycles.map((c) => c.join(' <-> ')).join('\n')}`);
  });

  it(`has no file over ${MAX_LINES} lines under src/ or lab/`, () => {
    const long = longFiles(ROOT, [...filesUnder(ROOT, 'src'), ...filesUnder(ROOT, 'lab')], MAX_LINES);
    assert.deepEqual(long, [], `split these files:\n${long.map((f) => `${f.path}: ${f.lines}`).join('\n')}`);
  });
});

// The checks above pass on a clean tree; these prove each one catches what it is for.
describe('the import checks', () => {
  it('read every import form, across lines, and ignore other statements', () => {
    const source = [
      "import a from './a.ts';",
      "import type { B } from '../b.ts';",
      'import {',
      '  c,',
      '  type D,',
      "} from './cd.ts';",
      "import * as e from './e.ts';",
      "import f, { g } from './fg.ts';",
      "export { h } from './h.ts';",
      "export * from './i.ts';",
      "export * as j from './j.ts';",
      "import './side-effect.ts';",
      "const k = await import('./k.ts');",
      "import { readFileSync } from 'node:fs';",
      'export interface Range { from: number }',
      "export const text = 'from here';",
    ].join('\n');
    assert.deepEqual(importSpecifiers(source).sort(), [
      '../b.ts', './a.ts', './cd.ts', './e.ts', './fg.ts', './h.ts', './i.ts', './j.ts', './k.ts', './side-effect.ts', 'node:fs',
    ]);
  });

  const files: Record<string, string> = {
    'src/cli/controllers.ts': "import { createRouting } from '../controllers/routing/index.ts';",
    'src/controllers/routing/index.ts': "import type { RunningController } from '../../cli/controllers.ts';\nimport { x } from '../netpol/model.ts';",
    'src/controllers/netpol/model.ts': "import { ok } from '../../kube/result.ts';\nimport { y } from '../runtime.ts';",
    'src/controllers/runtime.ts': "import { metrics } from '../observe/metrics.ts';",
    'src/kube/result.ts': '',
    'src/observe/metrics.ts': "import { self } from './metrics.ts';",
  };
  const edges = importEdges('/repo', Object.keys(files), (path) => files[path] ?? '');

  it('resolve relative specifiers against the importing file', () => {
    assert.ok(edges.some((e) => e.from === 'src/controllers/netpol/model.ts' && e.to === 'src/kube/result.ts'));
  });

  it('flag an import between controller folders, not one into shared controller code', () => {
    assert.deepEqual(crossControllerImports(edges), [{ from: 'src/controllers/routing/index.ts', to: 'src/controllers/netpol/model.ts' }]);
  });

  it('flag an import into src/cli/ from outside it, not one inside it', () => {
    assert.deepEqual(importsInto('src/cli/', edges), [{ from: 'src/controllers/routing/index.ts', to: 'src/cli/controllers.ts' }]);
  });

  it('find a two-file cycle and a self-import, and nothing on acyclic paths', () => {
    assert.deepEqual(importCycles(edges), [['src/cli/controllers.ts', 'src/controllers/routing/index.ts'], ['src/observe/metrics.ts']]);
  });
});
