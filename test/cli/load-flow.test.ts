/**
 * Loading flow and task files: files compiled to CommonJS (a `.ts` file outside a
 * `"type": "module"` package, as the installed command loads it; a `.cjs` file)
 * export what they say, not `{ default: module.exports }`.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { loadFlow, loadTasks, moduleExports } from '../../src/cli/load-flow.js';
import { IMPORT_API, sandbox } from './helpers.js';

describe('loading a flow file', () => {
  const box = sandbox();
  afterAll(() => box.remove());

  it('a TypeScript file outside an ESM package: its default export is the flow, every task it exports is found', async () => {
    const file = box.write(
      'outside.ts',
      `${IMPORT_API('flow, task')}
export const double = task('double', { requires: ['x'], provides: 'y', apply: ({ x }: { x: number }) => 2 * x });
export const spare = { tasks: [task('spare', { apply: () => 1 })] };
export const inputs = { x: 4 };
export default flow('outside').add(double.s());
`,
    );
    const loaded = await loadFlow(file);
    expect(loaded.flow.name).toBe('outside');
    expect(loaded.inputs).toEqual({ x: 4 });
    // `taskwire run` registers every task the file exports, not only the flow's: a live change may add a node of one.
    expect(loaded.tasks.map((t) => t.name).sort()).toEqual(['double', 'spare']);
    expect((await loadTasks(file)).map((t) => t.name).sort()).toEqual(['double', 'spare']);
  });

  it('a CommonJS module built from ESM: module.exports is the exports', () => {
    const built = Object.defineProperty({ default: 'the default' }, '__esModule', { value: true });
    expect(moduleExports({ default: built })['default']).toBe('the default');
    expect(moduleExports({ default: 'plain', other: 1 })).toEqual({ default: 'plain', other: 1 });
  });
});
