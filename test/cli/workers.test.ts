/**
 * `taskwire workers` and the task catalog's WORKERS column, embedded (SQLite):
 * a `taskwire run` process is a worker that beats, lists the node it runs,
 * and removes its row when it ends.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkerBeat } from '../../src/store/port.js';
import { gatedFlow, json, sandbox, type Sandbox } from './helpers.js';

let box: Sandbox;

beforeAll(() => {
  box = sandbox();
});
afterAll(() => box.remove());

describe('taskwire workers [sqlite]', () => {
  it('lists a running worker with the node it executes, the catalog counts it, and its row goes when it ends', { timeout: 120_000 }, async () => {
    const run = box.start(['run', gatedFlow(box)]);
    await run.waitFor(/node\.started\s+gate/);
    const id = /starting run (\S+)/.exec(run.output().stdout)?.[1] ?? '';
    // The first beat is at start, before the node runs; the next one (5 s later) lists it.
    let workers: (WorkerBeat & { stale: boolean })[] = [];
    for (let i = 0; i < 50 && workers[0]?.running.length !== 1; i++) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, 200));
      workers = json(await box.tw(['workers', '--json']));
    }
    expect(workers).toEqual([
      expect.objectContaining({ pid: run.child.pid, tasks: ['after', 'gate'], stale: false, running: [expect.objectContaining({ runId: id, node: 'gate', attempt: 1 })] }),
    ]);
    const worker = workers[0] as WorkerBeat;
    const table = (await box.tw(['workers'])).stdout;
    expect(table).toMatch(/^WORKER\s+HOST\s+PID\s+VERSION\s+QUEUES\s+CONCURRENCY\s+RUNNING\s+LAST BEAT/);
    expect(table).toContain(`${worker.id} is running:`);
    expect(table).toMatch(new RegExp(`${id}\\s+gate\\s+attempt 1\\s+for \\d`));
    const tasks = json<{ name: string; workers: string[] }[]>(await box.tw(['tasks', '--json']));
    expect(tasks.map((t) => [t.name, t.workers])).toEqual([
      ['after', [worker.id]],
      ['gate', [worker.id]],
    ]);
    expect((await box.tw(['tasks'])).stdout).toMatch(/ROLLBACK\s+WORKERS\n.*\s1\n/);

    box.write('open', '');
    expect((await run.result).code).toBe(0);
    expect(json(await box.tw(['workers', '--json', '--all']))).toEqual([]);
    expect((await box.tw(['workers'])).stdout).toContain('no live workers');
  });
});
