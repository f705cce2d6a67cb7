/**
 * Ctrl-C on `taskwire run` (issue 12): the first SIGINT lets the tasks running
 * finish, says what became of the run and how to resume or cancel it, exits 130;
 * `taskwire serve` resumes the run to its end; `--cancel-on-exit` cancels it; a
 * second SIGINT exits at once. Subprocesses on a SQLite file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatedFlow, json, sandbox, type Sandbox } from './helpers.js';

let box: Sandbox;
let file: string;

beforeAll(() => {
  box = sandbox();
  file = gatedFlow(box);
});
afterAll(() => box.remove());

type Snapshot = { status: string; nodes: Record<string, { status: string; result?: unknown }> };
const runIdOf = (stdout: string): string => /starting run (\S+)/.exec(stdout)?.[1] ?? '';

describe('interrupting taskwire run', () => {
  it('the first SIGINT finishes the running task, leaves the run to resume and says how; serve finishes it', { timeout: 120_000 }, async () => {
    const run = box.start(['run', file]);
    await run.waitFor(/node\.started\s+gate/);
    const id = runIdOf(run.output().stdout);
    run.child.kill('SIGINT');
    await run.waitFor(/interrupted \(SIGINT\)/);
    box.write('open', '');
    const ended = await run.result;
    expect(ended.code).toBe(130);
    expect(ended.stderr).toContain(`run ${id} is left unfinished in the store; nothing executes it now. Resume it with \`taskwire serve --tasks ${file} --store ${box.store}\``);
    expect(ended.stderr).toContain(`\`taskwire cancel ${id} --store ${box.store}\``);
    const left = json<Snapshot>(await box.tw(['show', id, '--json']));
    expect(left.status).toBe('running');
    expect(left.nodes['gate']).toMatchObject({ status: 'succeeded', result: 1 }); // finished while draining, recorded

    const serve = box.start(['serve', '--tasks', file, '--log-format', 'json']);
    await serve.waitFor(/"unfinishedRuns":1.*"msg":"serving"/);
    let status = '';
    for (let i = 0; i < 100 && status !== 'succeeded'; i++) {
      status = json<Snapshot>(await box.tw(['show', id, '--json'])).status;
      if (status !== 'succeeded') await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(json<Snapshot>(await box.tw(['show', id, '--json'])).nodes['after']).toMatchObject({ status: 'succeeded', result: 2 });
    serve.child.kill('SIGTERM');
    expect((await serve.result).code).toBe(0);
  });

  it('--cancel-on-exit cancels the run on SIGINT', { timeout: 60_000 }, async () => {
    box.remove();
    box = sandbox();
    const run = box.start(['run', gatedFlow(box), '--cancel-on-exit']);
    await run.waitFor(/node\.started\s+gate/);
    const id = runIdOf(run.output().stdout);
    run.child.kill('SIGINT');
    const ended = await run.result;
    expect(ended.code).toBe(130);
    expect(ended.stderr).toContain('interrupted (SIGINT): cancelling the run');
    expect(ended.stderr).toContain(`run ${id} cancelled`);
    expect(json<Snapshot>(await box.tw(['show', id, '--json'])).status).toBe('cancelled');
  });

  it('a second SIGINT exits at once, without waiting for the running task', { timeout: 60_000 }, async () => {
    box.remove();
    box = sandbox();
    const run = box.start(['run', gatedFlow(box)]);
    await run.waitFor(/node\.started\s+gate/);
    run.child.kill('SIGINT');
    await run.waitFor(/interrupted \(SIGINT\)/);
    run.child.kill('SIGINT');
    const ended = await run.result;
    expect(ended.code).toBe(130);
    expect(ended.stderr).toContain('SIGINT again: exiting now');
  });
});
