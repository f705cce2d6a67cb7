/**
 * A flow-control limit shared across processes: two worker processes, each
 * also a coordinator, on real RabbitMQ and PostgreSQL, run three flows of a
 * task limited to 3 executions at once. The task bodies' records (start and
 * end times, written by whichever process ran them) never show more than 3
 * at once, every node ran once and succeeded, and nothing is left at the gate.
 */
import { describe, expect, it } from 'vitest';
import { openPostgresStore } from '../../src/store/postgres/index.js';
import { LIMIT, limitedFlow } from '../fixtures/fault-tasks.js';
import { servicesSkipped } from '../support/services.js';
import { clusterPerTest, readRecords, until, type RecordLine } from './harness.js';

/** The most bodies running at once, from their start and end records (an end before a start of the same millisecond). */
function mostAtOnce(records: readonly RecordLine[]): number {
  const events = records.map((r) => ({ at: r.at, delta: r.kind === 'S' ? 1 : -1 })).sort((a, b) => a.at - b.at || a.delta - b.delta);
  let running = 0;
  let most = 0;
  for (const event of events) {
    running += event.delta;
    most = Math.max(most, running);
  }
  return most;
}

describe.skipIf(servicesSkipped())('distributed: a limit shared by every process', () => {
  const newCluster = clusterPerTest();

  it('never runs more than the limit at once across two workers and coordinators', async () => {
    const cluster = await newCluster();
    await cluster.workers(2, { concurrency: 8 });
    const tw = await cluster.client();
    const runs = [];
    for (let k = 0; k < 3; k++) runs.push(await tw.start(limitedFlow(`limited-${k}`, 8, k * 8)));
    for (const run of runs) expect((await run.wait({ timeoutMs: 90_000 })).status, `run ${run.id}`).toBe('succeeded');
    const records = readRecords(cluster.recordFile);
    expect(records.filter((r) => r.kind === 'S')).toHaveLength(24);
    expect(records.filter((r) => r.kind === 'E')).toHaveLength(24);
    expect(mostAtOnce(records)).toBeLessThanOrEqual(LIMIT);
    // The limit was reached, not merely respected by running one at a time.
    expect(mostAtOnce(records)).toBeGreaterThan(1);
    const store = await openPostgresStore({ url: cluster.store, schema: cluster.schema });
    try {
      // Every permit comes back (the last releases are carried out just after their runs' last commits).
      await until(async () => (await store.gates().permits()).length === 0, 'every permit given back', 30_000);
      expect(await store.gates().waiting()).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
