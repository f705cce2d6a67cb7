/**
 * The only coordinator is SIGKILLed mid-run (workers run with
 * `--no-coordinator`): signals wait in their queue, steps it had committed but
 * not published wait in the outbox; a new coordinator takes over and every run
 * finishes, each outcome recorded once.
 */
import { describe, expect, it } from 'vitest';
import type { RunHandle } from '../../src/index.js';
import { chainFlow, fanFlow } from '../fixtures/fault-tasks.js';
import { servicesSkipped } from '../support/services.js';
import { clusterPerTest, kill } from './harness.js';

const CHAINS = 8;
const FANS = 2;
const TOTAL = CHAINS * 10 + FANS * 22;

describe.skipIf(servicesSkipped())('distributed: the coordinator is killed', () => {
  const newCluster = clusterPerTest();

  it('SIGKILL of the coordinator at 30 %, then a new one: every run finishes, nothing lost or recorded twice', async () => {
    const cluster = await newCluster();
    const [first] = await Promise.all([cluster.coordinator(), cluster.workers(2, { concurrency: 8, coordinator: false })]);
    const tw = await cluster.client();

    const runs: RunHandle[] = [];
    for (let k = 0; k < CHAINS; k++) runs.push(await tw.start(chainFlow(`chain-${k}`, 10, k * 10)));
    for (let k = 0; k < FANS; k++) runs.push(await tw.start(fanFlow(`fan-${k}`, 20, 100 + k * 22)));

    await cluster.untilFinished(Math.ceil(TOTAL * 0.3));
    await kill(first, 'SIGKILL');
    const atKill = cluster.finished();
    // Without a coordinator the runs stall: what was dispatched finishes, nothing new starts.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const stalled = cluster.finished();
    console.log(`[coordinator-kill] SIGKILLed coordinator ${first.pid} with ${atKill} of ${TOTAL} bodies ended; ${stalled} a second later`);
    expect(stalled).toBeLessThan(TOTAL);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(cluster.finished(), 'no progress without a coordinator').toBe(stalled);
    for (const run of runs) expect(['running']).toContain((await run.status()).status);

    const second = await cluster.coordinator();
    for (const run of runs) expect((await run.wait({ timeoutMs: 90_000 })).status, `run ${run.id}`).toBe('succeeded');
    for (const run of runs.slice(0, CHAINS)) expect(await run.result('c9')).toBe(10);
    expect(second.alive).toBe(true);

    const result = await cluster.check(
      runs.map((run) => run.id),
      { label: 'coordinator SIGKILL' },
    );
    expect(result.nodes).toBe(TOTAL);
    expect(result.lost).toEqual([]);
    expect(result.recordedTwice).toEqual([]);
  });
});
