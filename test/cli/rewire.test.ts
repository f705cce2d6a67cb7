/**
 * Rewiring a live run from the terminal, as subprocesses. The CLI connects as a
 * pure client (nothing executes in it), so the changes checked here are the ones
 * whose effect shows without running a task: versions, history, refusals, skip,
 * cancel.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { IMPORT_API, json, sandbox, type Result, type Sandbox } from './helpers.js';

let box: Sandbox;
let runId: string;

const FLOW = `${IMPORT_API('NonRetryableError, flow, task')}
const prepare = task('prepare', { provides: 'prepared', apply: () => 'ready' });
const deploy = task('deploy', {
  requires: ['prepared'],
  provides: 'deployed',
  retry: 0,
  apply: () => {
    throw new NonRetryableError('no capacity', { code: 'NO_CAPACITY' });
  },
});
const verify = task('verify', { requires: ['deployed'], apply: ({ deployed }: { deployed: string }) => 'verified ' + deployed });
const f = flow('rewire-me');
const d = deploy.s();
f.link(prepare.s(), d).link(d, verify.s());
export default f;
`;

const graphVersion = async (): Promise<number> => json<{ graphVersion: number }>(await box.tw(['show', runId, '--json'])).graphVersion;

function ok(result: Result): string {
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return result.stdout.trim();
}

/** A change that started work while no process executes the file: recorded, said on standard error, exit code 3. */
function recorded(result: Result): string {
  expect(result.stderr).toBe(
    `taskwire: no process executes ${box.store}: the change to run ${runId} is recorded and will be carried out when one starts: taskwire serve --tasks <module> --store ${box.store}\n`,
  );
  expect(result.code).toBe(3);
  return result.stdout.trim();
}

beforeAll(async () => {
  box = sandbox();
  const run = await box.tw(['run', box.write('rewire.ts', FLOW), '--json']);
  expect(run.code).toBe(1);
  const snapshot = json<{ id: string; status: string; nodes: Record<string, { status: string }> }>(run);
  expect(snapshot).toMatchObject({ status: 'failed', nodes: { prepare: { status: 'succeeded' }, deploy: { status: 'failed' }, verify: { status: 'waiting' } } });
  runId = snapshot.id;
});
afterAll(() => box.remove());

// Each test runs several taskwire processes one after the other: on a loaded 2-core
// machine that takes longer than the default 30 s.
describe('rewiring a run from the terminal', { timeout: 120_000 }, () => {
  it('the embedded run published its tasks in the catalog', async () => {
    expect(json<{ name: string }[]>(await box.tw(['tasks', '--json'])).map((t) => t.name)).toEqual(['deploy', 'prepare', 'verify']);
  });

  it('add, link, unlink and relink print what changed and the new graph version', async () => {
    expect(ok(await box.tw(['add', runId, 'verify2', '--task', 'verify', '--source', 'deploy']))).toBe('added verify2 (task verify), listening to deploy: graph version 2 (run failed)');
    expect(ok(await box.tw(['link', runId, 'prepare', 'verify2']))).toBe('linked prepare -> verify2: graph version 3 (run failed)');
    expect(ok(await box.tw(['unlink', runId, 'prepare', 'verify2']))).toBe('unlinked prepare -> verify2: graph version 4 (run failed)');
    expect(ok(await box.tw(['relink', runId, 'verify2', 'deploy', 'verify', '--map', 'deployed=verify']))).toBe(
      'relinked verify2: deploy -> verify (deployed=verify): graph version 5 (run failed)',
    );
    const show = ok(await box.tw(['show', runId]));
    expect(show).toMatch(/^\s+verify2\s+waiting\s+attempts 0\s+waiting for verify, input deployed$/m);
  });

  it('a refused change exits 2 with its code and changes nothing', async () => {
    const cycle = await box.tw(['link', runId, 'verify2', 'verify']);
    expect(cycle.code).toBe(2);
    expect(cycle.stdout).toBe('');
    expect(cycle.stderr).toMatch(/^taskwire: .*would make a cycle: "verify2" -> "verify" -> "verify2" \(TW_CYCLE\)\n$/);
    const missing = await box.tw(['unlink', runId, 'verify', 'verify2']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('(TW_VALIDATION)');
    const unknownTask = await box.tw(['add', runId, 'x', '--task', 'nope']);
    expect(unknownTask.stderr).toContain('(TW_UNKNOWN_TASK)');
    const unknownNode = await box.tw(['remove', runId, 'nope']);
    expect(unknownNode.stderr).toContain('(TW_UNKNOWN_NODE)');
    const badJson = await box.tw(['add', runId, 'x', '--task', 'verify', '--bound', '{oops']);
    expect(badJson.stderr).toContain('--bound expected JSON');
    expect(await graphVersion()).toBe(5);
  });

  it('history shows each change with its actor, graph version and operation', async () => {
    const history = ok(await box.tw(['history', runId]));
    expect(history).toMatch(/^\d+\s+\S+Z\s+change\s+tester@\S+\s+v3\s+link prepare -> verify2$/m);
    expect(history).toMatch(/change\s+tester@\S+\s+v5\s+relink verify2: deploy -> verify \(deployed=verify\)$/m);
    const changes = json<{ type: string; actor?: string; detail?: { op: string } }[]>(await box.tw(['history', runId, '--json'])).filter((e) => e.type === 'change');
    expect(changes.map((e) => e.detail?.op)).toEqual(['add', 'link', 'unlink', 'relink']);
    expect(changes.every((e) => e.actor?.startsWith('tester@') === true)).toBe(true);
  });

  it('skip gives the failed node a value; show lists it skipped; the graph shows the new wiring', async () => {
    // verify starts, and no process executes the file (the run's process has ended): said, exit code 3.
    expect(recorded(await box.tw(['skip', runId, 'deploy', '--value', '"by hand"']))).toBe('skipped deploy = "by hand": graph version 6 (run running)');
    // verify can start now; the CLI executes nothing: the dispatch waits in the outbox for the owner's process.
    const store = openSqliteStore({ path: box.store });
    try {
      const pending = await store.dueOutbox(Date.now(), 100);
      expect(pending.map((item) => item.command)).toContainEqual(expect.objectContaining({ type: 'dispatch', node: 'verify' }));
    } finally {
      await store.close();
    }
    const snapshot = json<{ nodes: Record<string, { status: string; result?: unknown }> }>(await box.tw(['show', runId, '--json']));
    expect(snapshot.nodes['deploy']).toMatchObject({ status: 'skipped', result: 'by hand' });
    expect(ok(await box.tw(['show', runId]))).toMatch(/^\s+deploy\s+skipped\s+attempts 1\s/m);
    const mermaid = ok(await box.tw(['graph', runId]));
    expect(mermaid).toContain('verify -->|"deployed=verify"| verify2');
    expect(mermaid).toContain('class deploy skipped');
  });

  it('change applies a JSON list as one step, or refuses it whole; a second stop is refused without a trace', async () => {
    const list = [
      { op: 'add', node: { task: 'verify', id: 'verify3' }, sources: ['deploy'] },
      { op: 'link', from: 'prepare', to: 'verify3' },
    ];
    expect(recorded(await box.tw(['change', runId, JSON.stringify(list)]))).toBe('changed add verify3 (task verify), link prepare -> verify3: graph version 7 (run running)');
    const refused = await box.tw(['change', runId, '--file', box.write('changes.json', JSON.stringify([{ op: 'unlink', from: 'prepare', to: 'verify3' }, { op: 'remove', node: 'ghost' }]))]);
    expect(refused).toMatchObject({ code: 2, stdout: '' });
    expect(refused.stderr).toContain('(TW_UNKNOWN_NODE)');
    const unknownField = await box.tw(['change', runId, '[{"op":"link","from":"prepare","to":"verify3","mapping":{}}]']);
    expect(unknownField.code).toBe(2);
    expect(unknownField.stderr).toContain('unknown field "mapping"');
    expect(await graphVersion()).toBe(7);
    expect(recorded(await box.tw(['stop', runId]))).toBe(`stopped run ${runId}: graph version 8 (run stopping)`);
    const again = await box.tw(['stop', runId]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('already stopped (TW_INVALID_CHANGE)');
    expect(await graphVersion()).toBe(8);
    const changes = json<{ type: string; graphVersion: number; detail?: { op: string } }[]>(await box.tw(['history', runId, '--json'])).filter((e) => e.type === 'change');
    expect(changes.slice(-3).map((e) => [e.detail?.op, e.graphVersion])).toEqual([
      ['add', 7],
      ['link', 7],
      ['stop', 8],
    ]);
  });

  it('cancel ends the run; a cancelled run refuses changes', async () => {
    expect(ok(await box.tw(['cancel', runId.slice(0, 8)]))).toBe(`cancelled run ${runId}: graph version 9 (run cancelled)`); // a prefix names the run, the message the full id
    const retry = await box.tw(['retry', runId, 'verify']);
    expect(retry.code).toBe(2);
    expect(retry.stderr).toContain('cannot be changed (TW_INVALID_CHANGE)');
    expect(json<{ status: string }[]>(await box.tw(['runs', '--json']))).toMatchObject([{ id: runId, status: 'cancelled' }]);
  });

  it('a change to an unknown run is an error', async () => {
    const result = await box.tw(['stop', 'no-such-run']);
    expect(result).toMatchObject({ code: 2, stdout: '' });
    expect(result.stderr).toContain('(TW_UNKNOWN_RUN)');
  });
});
