/**
 * `taskwire workers` and the task catalog's WORKERS column, embedded (SQLite):
 * a `taskwire run` process is a worker that beats, lists the node it runs,
 * and removes its row when it ends.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkerBeat } from '../../src/store/port.js';
import { workerLines } from '../../src/cli/commands/workers.js';
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

  it('marks a worker whose last beat is older than 15 s stale, and lists only busy workers\' executions', () => {
    const now = 1_000_000;
    const beat = (id: string, ago: number, running: WorkerBeat['running'] = []): WorkerBeat => ({
      id,
      host: 'h',
      pid: 1,
      version: '0.1.0',
      tasks: ['a'],
      queues: ['default', 'gpu'],
      concurrency: 4,
      heartbeatMs: 5_000,
      running,
      startedAt: 0,
      beatAt: now - ago,
    });
    const lines = workerLines([beat('h/1', 15_000, [{ runId: 'r1', node: 'a', attempt: 3, since: now - 65_000 }]), beat('h/2', 15_001)], now);
    expect(lines).toEqual([
      'WORKER  HOST  PID  VERSION  QUEUES       CONCURRENCY  RUNNING  LAST BEAT',
      'h/1     h     1    0.1.0    default,gpu  4            1        15.0s ago',
      'h/2     h     1    0.1.0    default,gpu  4            0        15.0s ago (stale)',
      '',
      'h/1 is running:',
      '  r1  a  attempt 3  for 1m05s',
    ]);
  });
});
