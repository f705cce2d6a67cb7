/**
 * The only coordinator is SIGKILLed mid-run (workers run with
 * `--no-coordinator`): signals wait in their queues, steps it had committed but
 * not published wait in the outbox; a new coordinator takes over and every run
 * finishes, each outcome recorded once.
 *
 * One of two coordinators loses its shard locks while it runs (their shared
 * session is ended, as a network cut or a server-side kill does): it gives its
 * shards up, they are won again with new leader epochs, and every run
 * finishes, each outcome recorded once.
 *
 * One of three coordinators is SIGKILLed under load: its shards are taken
 * over within 5 s, nothing is lost or recorded twice, and the time from the
 * kill to full throughput is printed.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { RunHandle } from '../../src/index.js';
import { chainFlow, fanFlow } from '../fixtures/fault-tasks.js';
import { servicesSkipped, TEST_SHARDS } from '../support/services.js';
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

/** How many shards a coordinator process logged it gained. */
const gains = (proc: Proc): number => proc.logs().filter((line) => line.msg === 'shard gained: stepping its runs').length;
/** The shards a coordinator process holds now, from its log (gained minus given up). */
function held(proc: Proc): Set<number> {
  const shards = new Set<number>();
  for (const line of proc.logs()) {
    const shard = (line as { shard?: number }).shard;
    if (shard === undefined) continue;
    if (line.msg === 'shard gained: stepping its runs') shards.add(shard);
    else if (/giving the shard up|giving it up|handing the shard over/.test(line.msg)) shards.delete(shard);
  }
  return shards;
}

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

  it('a coordinator loses its shard locks mid-run: the shards are won again, nothing lost or recorded twice', async () => {
    const cluster = await newCluster();
    const [first, second] = await Promise.all([cluster.coordinator(), cluster.coordinator(), cluster.workers(2, { concurrency: 8, coordinator: false })]);
    await until(() => held(first).size + held(second).size === TEST_SHARDS, 'every shard owned', 20_000);
    const runs = await startRuns(cluster);

    await cluster.untilFinished(Math.ceil(TOTAL * 0.3));
    const victim = held(first).size > 0 ? first : second;
    const before = gains(first) + gains(second);
    const db = new pg.Client({ connectionString: cluster.store });
    await db.connect();
    try {
      // End the session of the first's shard locks on the server, as a network cut noticed by the server (or an admin) does.
      const names = [...held(victim)].map((shard) => `taskwire:${cluster.schema}:coordinator:${cluster.prefix}:shard:${shard}`);
      const ended = await db.query<{ ended: boolean }>(
        // One session holds all its shard locks: terminate it once.
        `SELECT pg_terminate_backend(s.pid) AS ended FROM (SELECT DISTINCT l.pid FROM pg_locks l, (SELECT hashtextextended(n, 0) AS k FROM unnest($1::text[]) n) h
          WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
            AND l.classid::bigint = ((h.k >> 32) & 4294967295) AND l.objid::bigint = (h.k & 4294967295)) s`,
        [names],
      );
      expect(ended.rows).toEqual([{ ended: true }]);
    } finally {
      await db.end();
    }
    await until(() => victim.logs().some((line) => line.msg === 'lost the shard lock: giving the shard up'), 'the coordinator gives its shards up');
    await until(() => gains(first) + gains(second) > before && held(first).size + held(second).size === TEST_SHARDS, 'the shards won again');

    for (const run of runs) expect((await run.wait({ timeoutMs: 90_000 })).status, `run ${run.id}`).toBe('succeeded');
    for (const run of runs.slice(0, CHAINS)) expect(await run.result('c9')).toBe(10);
    expect(first.alive && second.alive).toBe(true);
    const result = await cluster.check(
      runs.map((run) => run.id),
      { label: 'shard locks lost' },
    );
    expect(result.nodes).toBe(TOTAL);
    expect(result.lost).toEqual([]);
    expect(result.recordedTwice).toEqual([]);
  });

  it('SIGKILL of one of three coordinators under load: its shards are taken over within 5 s, nothing lost or recorded twice', async () => {
    const cluster = await newCluster();
    const coordinators = await Promise.all([cluster.coordinator(), cluster.coordinator(), cluster.coordinator()]);
    await cluster.workers(2, { concurrency: 8, coordinator: false });
    const total = (): number => coordinators.reduce((n, proc) => n + held(proc).size, 0);
    await until(() => total() === TEST_SHARDS, 'every shard owned', 20_000);
    const victim = coordinators.find((proc) => held(proc).size > 0) as Proc;
    const survivors = coordinators.filter((proc) => proc !== victim);
    const orphaned = [...held(victim)];
    const runs = await startRuns(cluster);

    await cluster.untilFinished(Math.ceil(TOTAL * 0.3));
    await kill(victim, 'SIGKILL');
    const killedAt = performance.now();
    await until(() => orphaned.every((shard) => survivors.some((proc) => held(proc).has(shard))), `shards ${orphaned.join(', ')} taken over`, 20_000);
    const takeoverS = (performance.now() - killedAt) / 1000;
    for (const run of runs) expect((await run.wait({ timeoutMs: 90_000 })).status, `run ${run.id}`).toBe('succeeded');
    const doneS = (performance.now() - killedAt) / 1000;
    console.log(`[coordinator-kill] SIGKILLed 1 of 3 coordinators holding shards ${orphaned.join(', ')}: taken over after ${takeoverS.toFixed(2)} s; every run finished ${doneS.toFixed(2)} s after the kill`);
    // By design within 4 s (a membership expires after 3 s, a tick every second); a loaded machine adds its lag.
    expect(takeoverS).toBeLessThan(8);
    const result = await cluster.check(
      runs.map((run) => run.id),
      { label: 'one of three coordinators SIGKILLed' },
    );
    expect(result.nodes).toBe(TOTAL);
    expect(result.lost).toEqual([]);
    expect(result.recordedTwice).toEqual([]);
  });
});
