/**
 * The embedded walkthrough of issue 12, as documented in docs/cli.md ("A run
 * that outlives its process"): run a flow, Ctrl-C it, fix it from the CLI while
 * no process executes the file (each change says so, exit code 3), and see it
 * finish under `taskwire serve`; meanwhile, a change to a run whose `taskwire run`
 * is alive is carried out silently, a second serve refuses, a `taskwire run`
 * hands its run to the serve, or refuses when the serve lacks its tasks.
 * Subprocesses on one SQLite file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMPORT_API, json, sandbox, type Result, type Sandbox } from './helpers.js';

let box: Sandbox;
let file: string;

beforeAll(() => {
  box = sandbox();
  file = box.write(
    'deploy.ts',
    `${IMPORT_API('NonRetryableError, flow, task')}
import { existsSync } from 'node:fs';
export const inputs = { name: 'bad' };
export const fetchRecipes = task('fetchRecipes', { provides: 'recipes', apply: async (_: object, { signal }: { signal: AbortSignal }) => {
  for (let i = 0; i < 600 && !signal.aborted && !existsSync(${JSON.stringify(`${box.dir}/open`)}); i++) await new Promise((r) => setTimeout(r, 100));
  return 'wordpress';
} });
export const kickServer = task('kickServer', { requires: ['name'], provides: 'server', retry: 0, apply: ({ name }: { name: string }) => {
  if (name === 'bad') throw new NonRetryableError('no capacity for ' + name);
  return name + '.example';
} });
export const install = task('install', { requires: ['server', 'recipes'], apply: ({ server, recipes }: { server: string; recipes: string }) => recipes + ' on ' + server });
const installed = install.s();
export default flow('deploy').link(fetchRecipes.s(), installed).link(kickServer.s(), installed);
`,
  );
});
afterAll(() => box.remove());

type Snapshot = { status: string; nodes: Record<string, { status: string; result?: unknown }> };

/** A change recorded while no process executes the file: said on standard error, exit code 3. */
function recorded(result: Result, runId: string): string {
  expect(result.stderr).toBe(
    `taskwire: no process executes ${box.store}: the change to run ${runId} is recorded and will be carried out when one starts: taskwire serve --tasks <module> --store ${box.store}\n`,
  );
  expect(result.code).toBe(3);
  return result.stdout.trim();
}

describe('a run that outlives its process [sqlite]', () => {
  it('run, Ctrl-C, fix it from the CLI, finish it under serve; one serve per file, runs handed to it', { timeout: 180_000 }, async () => {
    // 1. Run the flow: kickServer fails at once, fetchRecipes runs until the file `open` exists.
    const run = box.start(['run', file]);
    await run.waitFor(/node\.failed\s+kickServer/);
    const id = /starting run (\S+)/.exec(run.output().stdout)?.[1] ?? '';
    // Its process is alive and lists the run in its heartbeat: a change is carried out, nothing said.
    const retried = await box.tw(['retry', id, 'kickServer']);
    expect(retried).toMatchObject({ code: 0, stderr: '', stdout: 'retrying kickServer: graph version 2 (run running)\n' });
    await run.waitFor(/node\.failed\s+kickServer \(attempt 2\)/);
    // A serve now would carry out the same run: it refuses, naming the taskwire run.
    const early = await box.tw(['serve', '--tasks', file]);
    expect(early.code).toBe(2);
    expect(early.stderr).toContain(`taskwire: ${box.store} is already executed by taskwire run (run ${id}) (pid ${run.child.pid} on `);

    // 2. Ctrl-C: the running task finishes, the run is left in the store.
    run.child.kill('SIGINT');
    await run.waitFor(/interrupted \(SIGINT\)/);
    box.write('open', '');
    const ended = await run.result;
    expect(ended.code).toBe(130);
    expect(ended.stderr).toContain(`run ${id} is left unfinished in the store; nothing executes it now.`);

    // 3. Fix it from the CLI: a new server node, install relinked to it. Nothing executes the file: said, exit code 3.
    expect(recorded(await box.tw(['add', id, 'kickServer2', '--task', 'kickServer', '--bound', '{"name":"good"}']), id)).toBe(
      'added kickServer2 (task kickServer): graph version 3 (run running)',
    );
    expect(recorded(await box.tw(['relink', id, 'install', 'kickServer', 'kickServer2']), id)).toBe('relinked install: kickServer -> kickServer2: graph version 4 (run running)');

    // 4. taskwire serve carries it out: the run succeeds.
    const serve = box.start(['serve', '--tasks', file, '--log-format', 'json']);
    await serve.waitFor(/"unfinishedRuns":1.*"msg":"serving"/);
    let snapshot = json<Snapshot>(await box.tw(['show', id, '--json']));
    for (let i = 0; i < 100 && snapshot.status !== 'succeeded'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      snapshot = json<Snapshot>(await box.tw(['show', id, '--json']));
    }
    expect(snapshot.status).toBe('succeeded');
    expect(snapshot.nodes['install']).toMatchObject({ status: 'succeeded', result: 'wordpress on good.example' });

    // One serve per file: a second one refuses, naming the first.
    const second = await box.tw(['serve', '--tasks', file]);
    expect(second.code).toBe(2);
    expect(second.stderr).toContain(`taskwire: ${box.store} is already executed by taskwire serve (or a program connected with its tasks) (pid ${serve.child.pid} on `);
    // A run on the served file is handed to the serve, its progress followed from the store.
    const handed = await box.tw(['run', file, '--input', 'name=good']);
    expect(handed.stderr).toMatch(new RegExp(`^taskwire: ${box.store} is served by taskwire serve \\(or a program connected with its tasks\\) \\(pid ${serve.child.pid} on .*\\): the run is handed to it`));
    expect(handed.stdout).toMatch(/node\.succeeded\s+install \(attempt 1\)/);
    expect(handed.stdout).toMatch(/^\s+install\s+succeeded\s.*= "wordpress on good\.example"$/m);
    expect(handed.code).toBe(0);
    // ... unless the serve lacks the flow's tasks.
    const other = box.write('other.ts', `${IMPORT_API('flow, task')}\nexport const lone = task('lone', { apply: () => 1 });\nexport default flow('other').add(lone.s());\n`);
    const refused = await box.tw(['run', other]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('which lacks the tasks lone of this flow');

    serve.child.kill('SIGTERM');
    expect((await serve.result).code).toBe(0);
    expect(json(await box.tw(['workers', '--json', '--all']))).toEqual([]);
  });
});
