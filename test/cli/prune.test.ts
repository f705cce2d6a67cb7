/**
 * `taskwire prune`, as a subprocess: on the SQLite file of a sandbox and on a
 * PostgreSQL schema, it deletes the finished runs older than the duration (in
 * the statuses asked), counts them with `--dry-run`, and refuses live statuses
 * and bad durations.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunStatus } from '../../src/engine/index.js';
import { openPostgresStore } from '../../src/store/postgres/index.js';
import type { Store } from '../../src/store/port.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { startedRun } from '../store/commits.js';
import { dropSchema, endAdminPool, schemaName } from '../store/postgres-admin.js';
import { requirePostgres, servicesSkipped } from '../support/services.js';
import { json, sandbox, taskwire, type Sandbox } from './helpers.js';

afterAll(endAdminPool);

const DAY = 86_400_000;

/** Writes runs: `old-*` finished 40 days ago, `new-ok` an hour ago, `old-live` still running. */
async function seed(store: Store): Promise<void> {
  const now = Date.now();
  const runs: [string, RunStatus, number][] = [
    ['old-ok', 'succeeded', now - 40 * DAY],
    ['old-cancelled', 'cancelled', now - 40 * DAY],
    ['old-rolled-back', 'rolled_back', now - 40 * DAY],
    ['old-live', 'running', now - 40 * DAY],
    ['new-ok', 'succeeded', now - 3_600_000],
  ];
  for (const [id, status, updatedAt] of runs) {
    const first = startedRun(id);
    await store.commit([first]);
    await store.commit([{ ...first, run: { ...first.run, rev: 2, status, updatedAt }, expectedRev: 1, history: [], outbox: [] }]);
  }
  await store.close();
}

describe('taskwire prune (SQLite)', () => {
  let box: Sandbox;
  beforeEach(async () => {
    box = sandbox();
    await seed(openSqliteStore({ path: box.store }));
  });
  afterEach(() => box.remove());

  it('counts with --dry-run, prunes the statuses asked, then every final one older than the duration', async () => {
    const dry = await box.tw(['prune', '--older-than', '30d', '--dry-run']);
    expect(dry.stderr).toBe('');
    expect(dry.stdout).toMatch(/^would prune 3 runs \(finished before \d{4}-\d\d-\d\dT.*Z; dry run: nothing deleted\)/);
    const cancelled = await box.tw(['prune', '--older-than', '30d', '--status', 'cancelled', '--json']);
    expect(json(cancelled)).toMatchObject({ pruned: 1, matched: 1, status: ['cancelled'], dryRun: false });
    const rest = await box.tw(['prune', '--older-than', '30d', '--batch', '1']);
    expect(rest.stdout).toMatch(/^pruned 2 runs \(finished before /);
    const list = await box.tw(['runs', '--json']);
    expect(json<{ id: string }[]>(list).map((run) => run.id).sort()).toEqual(['new-ok', 'old-live']);
  });

  it('refuses a live status and a bad duration (exit 2, nothing deleted)', async () => {
    const live = await box.tw(['prune', '--older-than', '30d', '--status', 'succeeded,running']);
    expect(live.code).toBe(2);
    expect(live.stderr).toContain('status "running" is not final');
    const unknown = await box.tw(['prune', '--older-than', '30d', '--status', 'done']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown run status "done"');
    const bad = await box.tw(['prune', '--older-than', '30 days']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--older-than expected a duration such as 30d');
    expect((await box.tw(['prune', '--older-than', '30d', '--dry-run'])).stdout).toMatch(/^would prune 3 runs/);
  });
});

describe('--retention on the processes that coordinate', () => {
  it('is parsed as a duration by serve, worker and coordinator (exit 2 on a bad one, before connecting)', async () => {
    for (const command of [['serve', '--tasks', 'none.ts'], ['worker', '--tasks', 'none.ts', '--broker', 'amqp://nowhere'], ['coordinator', '--broker', 'amqp://nowhere']]) {
      const bad = await taskwire([...command, '--retention', 'a month']);
      expect(bad.code, command[0]).toBe(2);
      expect(bad.stderr).toContain('--retention expected a duration such as 30d');
      expect((await taskwire([command[0] as string, '--help'])).stdout).toContain('--retention <duration>');
    }
  });
});

describe.skipIf(servicesSkipped())('taskwire prune (PostgreSQL)', () => {
  it('prunes the finished runs of a schema', async () => {
    const url = await requirePostgres();
    const schema = schemaName();
    try {
      await seed(await openPostgresStore({ url, schema }));
      const pruned = await taskwire(['prune', '--store', url, '--schema', schema, '--older-than', '30d', '--json']);
      expect(pruned.stderr).toBe('');
      expect(json(pruned)).toMatchObject({ pruned: 3, matched: 3 });
      const store = await openPostgresStore({ url, schema });
      expect((await store.listRuns()).map((run) => run.id).sort()).toEqual(['new-ok', 'old-live']);
      await store.close();
    } finally {
      await dropSchema(schema);
    }
  });
});
