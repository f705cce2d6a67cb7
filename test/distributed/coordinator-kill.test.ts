/**
 * The only coordinator is SIGKILLed mid-run (workers run with
 * `--no-coordinator`): signals wait in their queue, steps it had committed but
 * not published wait in the outbox; a new coordinator takes over and every run
 * finishes, each outcome recorded once.
 *
 * And the active coordinator of two loses its lock while it runs (its lock's
 * session is ended, as a network cut or a server-side kill does): it stands by,
 * the election moves on with a new leader epoch, and every run finishes, each
 * outcome recorded once.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { RunHandle } from '../../src/index.js';
import { chainFlow, fanFlow } from '../fixtures/fault-tasks.js';
import { servicesSkipped } from '../support/services.js';
import { clusterPerTest, kill, until, type Cluster, type Proc } from './harness.js';

const CHAINS = 8;
const FANS = 2;
const TOTAL = CHAINS * 10 + FANS * 22;

/** Starts the chains and fans of the scenario; returns their handles. */
async function startRuns(cluster: Cluster): Promise<RunHandle[]> {
  const tw = await cluster.client();
  const runs: RunHandle[] = [];
  for (let k = 0; k < CHAINS; k++) runs.push(await tw.start(chainFlow(`chain-${k}`, 10, k * 10)));
  for (let k = 0; k < FANS; k++) runs.push(await tw.start(fanFlow(`fan-${k}`, 20, 100 + k * 22)));
  return runs;
}

/** Whether a coordinator process logged that it took the signals, and how many times. */
const elections = (proc: Proc): number => proc.logs().filter((line) => line.msg === 'active coordinator: taking signals').length;

describe.skipIf(servicesSkipped())('distributed: the coordinator is killed', () => {
  const newCluster = clusterPerTest();

  it('SIGKILL of the coordinator at 30 %, then a new one: every run finishes, nothing lost or recorded twice', async () => {
    const cluster = await newCluster();
    const [first] = await Promise.all([cluster.coordinator(), cluster.workers(2, { concurrency: 8, coordinator: false })]);
    const runs = await startRuns(cluster);

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

  it('the active coordinator loses its lock mid-run: it stands by, the other is elected, nothing lost or recorded twice', async () => {
    const cluster = await newCluster();
    const [first, second] = await Promise.all([cluster.coordinator(), cluster.coordinator(), cluster.workers(2, { concurrency: 8, coordinator: false })]);
    await until(() => elections(first) + elections(second) === 1, 'one coordinator elected');
    const active = elections(first) === 1 ? first : second;
    const runs = await startRuns(cluster);

    await cluster.untilFinished(Math.ceil(TOTAL * 0.3));
    const db = new pg.Client({ connectionString: cluster.store });
    await db.connect();
    try {
      // End the lock's session on the server, as a network cut noticed by the server (or an admin) does.
      const ended = await db.query<{ ended: boolean }>(
        `SELECT pg_terminate_backend(l.pid) AS ended FROM pg_locks l, (SELECT hashtextextended($1, 0) AS k) h
          WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
            AND l.classid::bigint = ((h.k >> 32) & 4294967295) AND l.objid::bigint = (h.k & 4294967295)`,
        [`taskwire:${cluster.schema}:coordinator:${cluster.prefix}`],
      );
      expect(ended.rows).toEqual([{ ended: true }]);
    } finally {
      await db.end();
    }
    await until(() => active.logs().some((line) => line.msg === 'lost the coordinator lock: standing by'), 'the deposed coordinator stands by');
    await until(() => elections(first) + elections(second) >= 2, 'a coordinator elected again');

    for (const run of runs) expect((await run.wait({ timeoutMs: 90_000 })).status, `run ${run.id}`).toBe('succeeded');
    for (const run of runs.slice(0, CHAINS)) expect(await run.result('c9')).toBe(10);
    expect(first.alive && second.alive).toBe(true);
    const result = await cluster.check(
      runs.map((run) => run.id),
      { label: 'coordinator lock lost' },
    );
    expect(result.nodes).toBe(TOTAL);
    expect(result.lost).toEqual([]);
    expect(result.recordedTwice).toEqual([]);
  });
});
