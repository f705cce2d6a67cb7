/**
 * The engine's modules import one another without a circle, type-only imports
 * included: the step context has a module of its own (`step-context.ts`) so
 * that the parts `step.ts` calls (changes, saga, leases, …) depend on it and
 * not on `step.ts`. The lint's `dpdm -T` sees only runtime imports; this test
 * sees every `import … from` and `export … from` of `src/engine`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ENGINE = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/engine');

/** The relative imports and re-exports of a module's source, as paths of `.ts` files. */
function importsOf(file: string, source: string): string[] {
  const found: string[] = [];
  for (const match of source.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+'(\.{1,2}\/[^']+)'/gms)) {
    found.push(resolve(dirname(file), (match[1] as string).replace(/\.js$/, '.ts')));
  }
  return found;
}

/** A circle of the graph (as the files along it), or undefined: a depth-first search. */
function findCircle(graph: ReadonlyMap<string, readonly string[]>): string[] | undefined {
  const done = new Set<string>();
  const path: string[] = [];
  const visit = (node: string): string[] | undefined => {
    const at = path.indexOf(node);
    if (at >= 0) return [...path.slice(at), node];
    if (done.has(node)) return undefined;
    path.push(node);
    for (const next of graph.get(node) ?? []) {
      const circle = visit(next);
      if (circle !== undefined) return circle;
    }
    path.pop();
    done.add(node);
    return undefined;
  };
  for (const node of graph.keys()) {
    const circle = visit(node);
    if (circle !== undefined) return circle;
  }
  return undefined;
}

/** The engine's import graph: each module's imports of other engine modules. */
function engineGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const name of readdirSync(ENGINE).filter((f) => f.endsWith('.ts'))) {
    const file = join(ENGINE, name);
    graph.set(
      file,
      importsOf(file, readFileSync(file, 'utf8')).filter((target) => dirname(target) === ENGINE),
    );
  }
  return graph;
}

describe('engine imports', () => {
  it('form no circle, type-only imports included', () => {
    const graph = engineGraph();
    expect(graph.get(join(ENGINE, 'changes.ts'))).toContain(join(ENGINE, 'step-context.ts'));
    const circle = findCircle(graph)?.map((file) => relative(ENGINE, file));
    expect(circle).toBeUndefined();
  });

  it('are read from multi-line, type-only and re-exporting statements, and a circle is found', () => {
    const source = "import {\n  a,\n  type B,\n} from './a.js';\nimport type { C } from '../c.js';\nexport { d } from './d.js';\nconst x = 'from';\n";
    expect(importsOf('/e/x.ts', source)).toEqual(['/e/a.ts', '/c.ts', '/e/d.ts']);
    const graph = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
    ]);
    expect(findCircle(graph)).toEqual(['a', 'b', 'c', 'a']);
    expect(findCircle(new Map([['a', ['b']], ['b', []]]))).toBeUndefined();
  });
});
