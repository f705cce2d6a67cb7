/**
 * One writer per run (issue 11): a client that runs no coordinator sends its
 * starts, notifications and changes to the coordinator of each run's shard,
 * here another `connect()` with the worker and coordinator roles. The client
 * commits nothing itself; every commit is the shard owner's, fenced by its
 * leader epoch, and none conflicts. A request to a shard nobody owns times out
 * with `TW_TIMEOUT`. Real RabbitMQ and PostgreSQL; a prefix and schema per test.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, event, flow, task, type Client } from '../../src/index.js';
import { shardOf } from '../../src/model/shard.js';
import { openPostgresStore } from '../../src/store/postgres/index.js';
import type { Fence, Store, StepCommit } from '../../src/store/port.js';
import { dropTestSpace, prepareTestSchema, requirePostgres, requireRabbit, servicesSkipped, TEST_SHARDS, type TestSpace } from '../support/services.js';

/**
 * What a process committed: the number of steps, the fence of each commit, and
 * the conflicts the store answered to steps of existing runs (a revision
 * another writer moved; a start of an id that exists is refused that way too, and not counted).
 */
interface Commits {
  steps: number;
  fences: (Fence | undefined)[];
  conflicts: number;
}

/** A PostgreSQL store of `space` whose commits are counted. */
async function countingStore(space: TestSpace, commits: Commits): Promise<Store> {
  const store = await openPostgresStore({ url: await requirePostgres(), schema: space.schema });
  return new Proxy(store, {
    get(target, property) {
      if (property === 'commit') {
        return async (steps: StepCommit[], fence?: Fence) => {
          commits.steps += steps.length;
          commits.fences.push(fence);
          const result = await target.commit(steps, fence);
          const existing = new Set(steps.filter((step) => step.expectedRev > 0).map((step) => step.run.id));
          commits.conflicts += result.conflicts.filter((id) => existing.has(id)).length;
          return result;
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

const counted = (): Commits => ({ steps: 0, fences: [], conflicts: 0 });

describe.skipIf(servicesSkipped())('one writer per run [distributed]', () => {
  let space: TestSpace;
  const clients: Client[] = [];
  const open = async (store: Store, options: Parameters<typeof connect>[0]): Promise<Client> => {
    const client = await connect({ broker: await requireRabbit(), store, prefix: space.prefix, ...options });
    clients.push(client);
    return client;
  };

  afterEach(async () => {
    for (const client of clients.splice(0).reverse()) await client.close();
    await dropTestSpace(space);
  });

  it('a client with no coordinator starts, notifies and changes runs of every shard; only the shard owners commit, fenced, without conflicts', async () => {
    const suffix = randomUUID().slice(0, 8);
    space = { prefix: `twone-${suffix}`, schema: `tw_one_${suffix}` };
    await prepareTestSchema(space.schema);
    const seen: number[] = [];
    const echo = task('one-echo', { requires: ['n'], apply: ({ n }: { n: number }) => (seen.push(n), n * 2) });
    const ping = event<{ n: number }>('one-ping', { provides: ['n'] });
    const flo = flow('one-writer').link(ping, echo.s({}, { persistent: true }));
    const owner = counted();
    const client = counted();
    await open(await countingStore(space, owner), { worker: true, coordinator: true, tasks: [echo] });
    const tw = await open(await countingStore(space, client), { worker: false, coordinator: false });

    const ids = Array.from({ length: 12 }, (_, i) => `one-${suffix}-${i}`);
    expect(new Set(ids.map((id) => shardOf(id, TEST_SHARDS))).size).toBeGreaterThan(1);
    const runs = await Promise.all(ids.map((id) => tw.start(flo, {}, { id })));
    // A start again with the same flow is the same run; another flow under the id is refused, as its class.
    await expect(tw.start(flo, {}, { id: ids[0] })).resolves.toMatchObject({ id: ids[0] });
    const other = await tw.start(flow('one-other').add(echo.s({ n: 1 })), {}, { id: ids[0] }).catch((e: unknown) => e);
    expect(other).toMatchObject({ name: 'ConflictError', code: 'TW_CONFLICT', runId: ids[0] });

    expect((await tw.notify('one-ping', { n: 21 }, { id: 'ping-1' })).sort()).toEqual([...ids].sort());
    // Notified again with the same id: each run takes it once.
    expect((await tw.notify('one-ping', { n: 21 }, { id: 'ping-1' })).sort()).toEqual([...ids].sort());
    const reports = await Promise.all(runs.map((run) => run.stop()));
    for (const report of reports) expect(report.graphVersion).toBeGreaterThanOrEqual(1);
    for (const run of runs) {
      const final = await run.wait({ timeoutMs: 20_000 });
      expect(final.status).toBe('succeeded');
      expect((await run.activations('one-echo')).map((a) => a.result)).toEqual([42]);
    }
    expect(seen).toEqual(ids.map(() => 21));
    // An invalid change is refused by the owner and reaches the caller with its code.
    await expect(runs[0]?.retry('no-such-node')).rejects.toMatchObject({ code: expect.stringMatching(/^TW_(UNKNOWN_NODE|INVALID_CHANGE|VALIDATION)$/) });

    expect(client.steps).toBe(0);
    expect(owner.steps).toBeGreaterThan(0);
    expect(owner.fences.every((fence) => fence !== undefined && fence.epoch >= 1)).toBe(true);
    expect(owner.conflicts).toBe(0);
  });

  it('a request to a shard no coordinator owns rejects with TW_TIMEOUT, and the run is never created', async () => {
    const suffix = randomUUID().slice(0, 8);
    space = { prefix: `twone-${suffix}`, schema: `tw_one_${suffix}` };
    await prepareTestSchema(space.schema);
    const store = await countingStore(space, counted());
    const tw = await open(store, { worker: false, coordinator: false, requestTimeoutMs: 400 });
    const echo = task('one-lonely', { apply: () => 1 });
    const id = `lonely-${suffix}`;
    const error = await tw.start(flow('one-lonely').add(echo.s()), {}, { id, validate: false }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'RequestTimeoutError', code: 'TW_TIMEOUT', shard: shardOf(id, TEST_SHARDS), timeoutMs: 400 });
    expect((error as Error).message).toContain(`start of run "${id}"`);
    expect(await store.loadRun(id)).toBeUndefined();
  });
});
