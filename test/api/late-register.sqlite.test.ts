/**
 * A process that resumes runs it did not start (embedded, SQLite): the tasks
 * may be registered after connect(); the interrupted run resumes once they are.
 * What a re-executed task can rely on: the same attempt number, a different
 * execution id.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connect, flow, task, type Client, type TaskContext } from '../../src/index.js';
import { WAIT, eventually } from './helpers.js';

describe('late registration and re-execution after an interruption [embedded-sqlite]', () => {
  let dir: string;
  const clients: Client[] = [];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'taskwire-late-'));
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Two tasks of one name: `stuck` never returns (the process "dies" under it), `fine` does. */
  function tasks(seen: Pick<TaskContext, 'attempt' | 'executionId'>[]) {
    const stuck = task('late-work', {
      apply: (_inputs, { attempt, executionId }) => {
        seen.push({ attempt, executionId });
        return new Promise<string>(() => undefined);
      },
    });
    const fine = task('late-work', {
      apply: (_inputs, { attempt, executionId }) => {
        seen.push({ attempt, executionId });
        return 'done';
      },
    });
    return { stuck, fine };
  }

  /**
   * A run whose only node was running when its process closed (as after a
   * crash: the node stays running in the store); `fine` is the task that can finish it.
   */
  async function interruptedRun() {
    const store = join(dir, 'runs.db');
    const seen: Pick<TaskContext, 'attempt' | 'executionId'>[] = [];
    const { stuck, fine } = tasks(seen);
    const first = await connect({ store, shutdownGraceTimeMs: 1 });
    const run = await first.start(flow('late').add(stuck.s()));
    await eventually(() => expect(seen).toHaveLength(1));
    await first.close();
    return { store, seen, fine, run };
  }

  it('resumes an interrupted run once its task is registered after connect(), re-running the node with the same attempt and a new execution id', async () => {
    const { store, seen, fine, run } = await interruptedRun();

    const second = await connect({ store });
    clients.push(second);
    second.register(fine);
    const done = await second.run(run.id).wait(WAIT);
    expect(done.status).toBe('succeeded');
    expect(done.nodes['late-work']).toMatchObject({ status: 'succeeded', attempt: 1, result: 'done' });
    expect(seen).toHaveLength(2);
    expect(seen[1]?.attempt).toBe(seen[0]?.attempt);
    expect(typeof seen[0]?.executionId).toBe('string');
    expect(seen[1]?.executionId).not.toBe(seen[0]?.executionId);
  });

  it('leaves a run whose tasks are not registered as it was until they are', async () => {
    const { store, seen, fine, run } = await interruptedRun();

    const second = await connect({ store });
    clients.push(second);
    expect((await second.run(run.id).status()).nodes['late-work']).toMatchObject({ status: 'queued', attempt: 1 }) // dispatched, and no worker has it;
    expect(seen).toHaveLength(1);
    await second.start(flow('other').add(fine.s({}, { id: 'other' })));
    // start() registered the flow's tasks: the waiting run resumes too.
    expect((await second.run(run.id).wait(WAIT)).status).toBe('succeeded');
  });
});
