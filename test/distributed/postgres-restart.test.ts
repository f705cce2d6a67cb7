/**
 * PostgreSQL restarts mid-run (`pg_ctlcluster ... restart`): every store
 * connection drops; commits fail meanwhile, so signals are given back to the
 * broker and stepped again once the pool reconnects; every run finishes with
 * each outcome recorded once.
 *
 * This cuts every other user of the database: the `distributed` project runs
 * after the `main` one, one file at a time (vitest.config.ts).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { RunHandle } from '../../src/index.js';
import { chainFlow } from '../fixtures/fault-tasks.js';
import { requirePostgres, servicesSkipped } from '../support/services.js';
import { clusterPerTest } from './harness.js';

const CHAINS = 10;
const LENGTH = 30;
const TOTAL = CHAINS * LENGTH;

function pgctl(action: 'restart' | 'start'): void {
  const version = readdirSync('/etc/postgresql')[0] as string;
  execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', action], { stdio: 'pipe', timeout: 60_000 });
}

describe.skipIf(servicesSkipped())('distributed: PostgreSQL restarts', () => {
  const newCluster = clusterPerTest();

  it('pg_ctlcluster restart at 30 %: the stores reconnect, every run finishes, nothing lost or recorded twice', async () => {
    const cluster = await newCluster();
    const workers = await cluster.workers(2, { concurrency: 8 });
    const tw = await cluster.client();
    const runs: RunHandle[] = [];
    for (let k = 0; k < CHAINS; k++) runs.push(await tw.start(chainFlow(`pg-chain-${k}`, LENGTH, k * LENGTH)));

    await cluster.untilFinished(Math.ceil(TOTAL * 0.3), 90_000);
    const before = cluster.finished();
    const restartAt = Date.now();
    try {
      pgctl('restart');
    } catch (error) {
      pgctl('start'); // never leave the database down
      throw error;
    }
    await requirePostgres();
    console.log(`[postgres-restart] restart took ${Date.now() - restartAt} ms with ${before} of ${TOTAL} bodies ended`);
    expect(before, 'the restart must happen mid-run').toBeLessThan(TOTAL);

    for (const run of runs) expect((await run.wait({ timeoutMs: 120_000 })).status, `run ${run.id}`).toBe('succeeded');
    for (const run of runs) expect(await run.result(`c${LENGTH - 1}`)).toBe(LENGTH);
    for (const worker of workers) expect(worker.alive, `worker ${worker.pid}:\n${worker.lines.slice(-40).join("\n")}`).toBe(true);

    const result = await cluster.check(
      runs.map((run) => run.id),
      { label: 'PostgreSQL restart' },
    );
    expect(result.nodes).toBe(TOTAL);
    expect(result.lost).toEqual([]);
    expect(result.recordedTwice).toEqual([]);
  });
});
