/**
 * A worker process is SIGKILLed mid-run: its unacknowledged dispatches go back
 * to the queue and run on the other workers (at-least-once), every run
 * finishes, and the store records each outcome exactly once.
 */
import { describe, expect, it } from 'vitest';
import { parallelFlow } from '../fixtures/fault-tasks.js';
import { servicesSkipped } from '../support/services.js';
import { clusterPerTest, kill } from './harness.js';

const RUNS = 30;
const WIDTH = 10;

describe.skipIf(servicesSkipped())('distributed: a worker is killed', () => {
  const newCluster = clusterPerTest();

  it(`SIGKILL of one of 3 workers at 30 % of ${RUNS * WIDTH} tasks: every run finishes, nothing lost or recorded twice`, async () => {
    const cluster = await newCluster();
    const workers = await cluster.workers(3, { concurrency: 8 });
    const tw = await cluster.client();

    // Start the runs and, concurrently, kill the victim once 30 % of the bodies have ended.
    const starting = Promise.all(Array.from({ length: RUNS }, (_, k) => tw.start(parallelFlow(`parallel-${k}`, WIDTH, k * WIDTH))));
    await cluster.untilFinished(Math.ceil(RUNS * WIDTH * 0.3));
    const victim = workers[0]!;
    await kill(victim, 'SIGKILL');
    const runs = await starting;
    // Read after the kill: the victim's lines are final.
    const before = cluster.records();
    const ended = new Set(before.filter((r) => r.kind === 'E').map((r) => `${r.runId} ${r.node} ${r.attempt} ${r.pid}`));
    const inFlight = before.filter((r) => r.kind === 'S' && r.pid === victim.pid && !ended.has(`${r.runId} ${r.node} ${r.attempt} ${r.pid}`));
    console.log(`[worker-kill] SIGKILLed worker ${victim.pid} with ${inFlight.length} task bodies in flight; ${ended.size} of ${RUNS * WIDTH} had ended`);

    for (const run of runs) expect((await run.wait({ timeoutMs: 90_000 })).status, `run ${run.id}`).toBe('succeeded');

    const records = cluster.records();
    // The bodies the victim was running when it died ran again on a surviving worker.
    for (const cut of inFlight) {
      const again = records.filter((r) => r.kind === 'E' && r.runId === cut.runId && r.node === cut.node && r.pid !== victim.pid);
      expect(again.length, `${cut.runId}/${cut.node} re-ran elsewhere`).toBeGreaterThan(0);
    }
    // Nothing ran on the dead worker after it died.
    expect(records.filter((r) => r.pid === victim.pid).length).toBe(before.filter((r) => r.pid === victim.pid).length);

    const result = await cluster.check(
      runs.map((run) => run.id),
      { label: 'worker SIGKILL' },
    );
    expect(result.nodes).toBe(RUNS * WIDTH);
    expect(result.lost).toEqual([]);
    expect(result.recordedTwice).toEqual([]);
  });
});
