/**
 * Conditions from the CLI: `taskwire serve --conditions <module>` evaluates
 * the conditions of a run it did not start (here stored by another process),
 * and `taskwire show` / `history` print why a node was skipped. Subprocesses on
 * one SQLite file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { condition, connect, flow, task } from '../../src/index.js';
import { IMPORT_API, json, sandbox, type Sandbox } from './helpers.js';

let box: Sandbox;
let tasksFile: string;
let conditionsFile: string;

beforeAll(() => {
  box = sandbox();
  tasksFile = box.write(
    'tasks.ts',
    `${IMPORT_API('task')}
export const score = task('cli-score', { apply: () => 3 });
export const publish = task('cli-publish', { apply: () => 'published' });
export const archive = task('cli-archive', { apply: () => 'archived' });
`,
  );
  conditionsFile = box.write('conditions.ts', `${IMPORT_API('condition')}\nexport const high = condition('cli-high', (score: number) => score >= 7);\n`);
});
afterAll(() => box.remove());

type Snapshot = { status: string; nodes: Record<string, { status: string; result?: unknown }> };

describe('taskwire serve --conditions [sqlite]', () => {
  it('refuses a --conditions module that exports none, naming it', async () => {
    const result = await box.tw(['serve', '--tasks', tasksFile, '--conditions', tasksFile]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${tasksFile}: exports no condition`);
  });

  it("evaluates the conditions of a run it resumes; show and history print the skip reason", { timeout: 120_000 }, async () => {
    // Another process stores the run (it has neither the tasks' code nor the condition's: no validation).
    const stub = (name: string) => task(name, { apply: () => undefined });
    const scored = stub('cli-score').s();
    const published = stub('cli-publish').s();
    const definition = flow('cli-review')
      .link(scored, published, { when: condition('cli-high', () => true) })
      .link(published, stub('cli-archive').s())
      .definition();
    const writer = await connect({ store: box.store, worker: false, coordinator: false, resume: false });
    const id = (await writer.start(definition, {}, { validate: false })).id;
    await writer.close();

    const serve = box.start(['serve', '--tasks', tasksFile, '--conditions', conditionsFile, '--log-format', 'json']);
    try {
      await serve.waitFor(/"msg":"serving"/);
      let snapshot = json<Snapshot>(await box.tw(['show', id, '--json']));
      for (let i = 0; i < 100 && snapshot.status !== 'succeeded'; i++) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        snapshot = json<Snapshot>(await box.tw(['show', id, '--json']));
      }
      expect(snapshot.status).toBe('succeeded');
      expect(snapshot.nodes['cli-publish']).toMatchObject({ status: 'skipped', skip: { reason: 'condition', depth: 'downstream' } });
      const shown = await box.tw(['show', id]);
      expect(shown.stdout).toMatch(/^ {2}cli-publish\s+skipped\s+attempts 0\s+condition false: cli-high \(from cli-score\) \(skips downstream\)$/m);
      expect(shown.stdout).toMatch(/^ {2}cli-archive\s+skipped\s+attempts 0\s+upstream cli-publish skipped \(skips downstream\)$/m);
      const history = await box.tw(['history', id]);
      expect(history.stdout).toMatch(/node\.skipped\s+cli-publish\s.*condition false: cli-high \(from cli-score\)/);
    } finally {
      serve.child.kill('SIGTERM');
      await serve.result;
    }
  });
});
