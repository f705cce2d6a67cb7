/**
 * Reading runs from the terminal: `runs`, `show`, `history`, `graph`, `tasks`,
 * as subprocesses against the store a `run` just wrote.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, json, sandbox, type Sandbox } from './helpers.js';

let box: Sandbox;
let runId: string;

beforeAll(async () => {
  box = sandbox();
  const result = await box.tw(['run', join(ROOT, 'examples/seed.ts'), '--json']);
  expect(result.code).toBe(0);
  runId = json<{ id: string }>(result).id;
});
afterAll(() => box.remove());

// Each test runs several taskwire processes one after the other: more than 30 s on a
// loaded 2-core machine.
describe('reading runs', { timeout: 120_000 }, () => {
  it('runs lists the run; --status and --flow filter; --json for scripts', async () => {
    const table = await box.tw(['runs']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^RUN\s+FLOW\s+STATUS\s+GRAPH\s+CREATED\s+UPDATED$/m);
    expect(table.stdout).toMatch(new RegExp(`^${runId}\\s+My-distributed-flow\\s+succeeded\\s+v1\\s`, 'm'));
    expect(json<{ id: string; status: string }[]>(await box.tw(['runs', '--json', '--status', 'succeeded', '--status', 'failed']))).toMatchObject([{ id: runId, status: 'succeeded' }]);
    expect(json(await box.tw(['runs', '--json', '--flow', 'other']))).toEqual([]);
    expect(json(await box.tw(['runs', '--json', '--error', 'anything']))).toEqual([]); // the seed run never failed
    expect((await box.tw(['runs', '--status', 'failed'])).stdout.trim()).toBe('no runs');
    const bad = await box.tw(['runs', '--status', 'done']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('(TW_CONFIG)');
  });

  it('show prints every node with its state, attempts and result; --json the snapshot', async () => {
    const show = await box.tw(['show', runId]);
    expect(show.code).toBe(0);
    expect(show.stdout).toContain(`run ${runId} (My-distributed-flow) succeeded, graph version 1`);
    // Its time queued (dispatch to the worker's start) and its run time, apart.
    expect(show.stdout).toMatch(/^\s+mult\s+succeeded\s+attempts 1\s+queued \d+ms, ran \d+ms\s+= 9$/m);
    const snapshot = json<{ status: string; nodes: Record<string, { status: string; result: unknown }> }>(await box.tw(['show', runId, '--json']));
    expect(snapshot).toMatchObject({ status: 'succeeded', nodes: { add: { status: 'succeeded', result: 3 }, mult: { result: 9 } } });
  });

  it('a run id prefix names the run, as git takes commit prefixes; an ambiguous one is refused, naming the runs', async () => {
    const show = await box.tw(['show', runId.slice(0, 8)]);
    expect(show.code, show.stderr).toBe(0);
    expect(show.stdout).toContain(`run ${runId} (My-distributed-flow) succeeded`);
    expect((await box.tw(['history', runId.slice(0, 8), '--json'])).code).toBe(0);
    expect((await box.tw(['graph', runId.slice(0, 8)])).stdout).toContain('mult');
    const other = json<{ id: string }>(await box.tw(['run', join(ROOT, 'examples/seed.ts'), '--json'])).id;
    let common = 0;
    while (runId[common] === other[common]) common++;
    const ambiguous = await box.tw(['show', runId.slice(0, common)]);
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toContain(`run id prefix "${runId.slice(0, common)}" is ambiguous`);
    expect(ambiguous.stderr).toContain(runId);
    expect(ambiguous.stderr).toContain(other);
    expect((await box.tw(['show', other.slice(0, common + 1)])).stdout).toContain(`run ${other} (My-distributed-flow)`);
  });

  it('an unknown run is an error with its code (exit 2)', async () => {
    for (const command of ['show', 'history', 'graph']) {
      const result = await box.tw([command, 'no-such-run']);
      expect(result.code).toBe(2);
      expect(result.stderr.trim()).toBe('taskwire: unknown run "no-such-run" (TW_UNKNOWN_RUN)');
    }
  });

  it('history prints seq, time, type, node, attempt, actor, graph version and detail', async () => {
    const history = await box.tw(['history', runId]);
    expect(history.code).toBe(0);
    expect(history.stdout).toMatch(/^SEQ\s+TIME\s+TYPE\s+NODE\s+ATTEMPT\s+ACTOR\s+GRAPH\s+DETAIL$/m);
    expect(history.stdout).toMatch(/^\d+\s+\d{4}-\d\d-\d\dT[\d:.]+Z\s+node\.succeeded\s+mult\s+1\s+v1$/m);
    expect(history.stdout).toMatch(/run\.status\s+v1\s+succeeded$/m);
    const entries = json<{ type: string; seq: number }[]>(await box.tw(['history', runId, '--json']));
    expect(entries[0]).toMatchObject({ type: 'run.started', seq: 1 });
    expect(entries.at(-1)).toMatchObject({ type: 'run.status', status: 'succeeded' });
    const after = json<{ seq: number }[]>(await box.tw(['history', runId, '--json', '--after', '2', '--limit', '2']));
    expect(after.map((e) => e.seq)).toEqual(entries.filter((e) => e.seq > 2).slice(0, 2).map((e) => e.seq));
  });

  it('graph of a run: mermaid with states as classes, dot with fill colours, --json', async () => {
    const mermaid = await box.tw(['graph', runId, '--format', 'mermaid']);
    expect(mermaid.code).toBe(0);
    expect(mermaid.stdout.split('\n')).toEqual(
      expect.arrayContaining(['flowchart LR', '  add["add"]', '  add --> mult', '  classDef succeeded fill:#ccffcc,stroke:#555555', '  class add,mult succeeded']),
    );
    const dot = await box.tw(['graph', runId, '--format', 'dot']);
    expect(dot.stdout).toContain('"add" -> "mult";');
    expect(dot.stdout).toContain('"mult" [label="mult\\nsucceeded", fillcolor="#ccffcc"];');
    const graph = json(await box.tw(['graph', runId, '--json']));
    expect(graph).toMatchObject({ run: runId, status: 'succeeded', graphVersion: 1, nodes: [{ id: 'add', status: 'succeeded' }, { id: 'mult' }], links: [{ from: 'add', to: 'mult' }] });
    const bad = await box.tw(['graph', runId, '--format', 'png']);
    expect(bad.code).toBe(2);
  });

  it("graph of a flow file: its nodes and links, renames as labels", async () => {
    const result = await box.tw(['graph', join(ROOT, 'examples/wordpress.ts')], { store: false });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('kickServer -->|"address=server"| installWordpress');
    expect(result.stdout).not.toContain('classDef');
  });

  it('tasks lists the catalog the embedded run registered', async () => {
    const result = await box.tw(['tasks']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^add\s+x,y\s+-\s+add\s+default\s+0\s+-\s+no\s+0$/m); // WORKERS 0: the run's process has exited
    expect(result.stdout).toMatch(/^mult\s+add,y\s/m);
    expect(json<{ name: string }[]>(await box.tw(['tasks', '--json'])).map((t) => t.name)).toEqual(['add', 'mult']);
  });
});
