/**
 * Type tests of the public API. `tsc -p tsconfig.json --noEmit` checks them
 * (the `@ts-expect-error` lines must be errors); vitest runs them harmlessly.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  connect,
  event,
  flow,
  task,
  type Failure,
  type HistoryEntry,
  type NodeSnapshot,
  type RollbackContext,
  type RunHandle,
  type RunSnapshot,
  type RunStatus,
  type Task,
  type TaskContext,
  type TaskNode,
} from '../../src/index.js';

// ---- fixtures --------------------------------------------------------------

const add = task('add', { requires: ['x', 'y'], apply: ({ x, y }: { x: number; y: number }) => x + y });
const mult = task('mult', { requires: ['add', 'y'], apply: ({ add, y }: { add: number; y: number }) => add * y });
const fetchUser = task('fetch-user', {
  requires: ['id'],
  apply: async ({ id }: { id: string }) => ({ id, name: 'Ada', admin: false }),
});

type User = { id: string; name: string; admin: boolean };

// ---- tests -------------------------------------------------------------------

describe('types of the public API', () => {
  it('task() infers its name, inputs (from the apply annotation) and output (from its return)', () => {
    expectTypeOf(add).toEqualTypeOf<Task<'add', { x: number; y: number }, number>>();
    expectTypeOf(add.name).toEqualTypeOf<'add'>();
    expectTypeOf(add.apply).parameter(0).toEqualTypeOf<{ x: number; y: number }>();
    expectTypeOf(add.apply).returns.toEqualTypeOf<number | Promise<number>>();
    // An async apply: the output is what the promise resolves with.
    expectTypeOf(fetchUser).toEqualTypeOf<Task<'fetch-user', { id: string }, User>>();

    // `requires` may only name inputs of apply.
    // @ts-expect-error "z" is not an input of apply
    task('bad-requires', { requires: ['z'], apply: ({ x }: { x: number }) => x });
    // @ts-expect-error apply is required
    expect(() => task('no-apply', { requires: [] })).toThrow(/apply/);
  });

  it('rollback receives the inputs and a context with the typed result and the failure', () => {
    task('typed-rollback', {
      requires: ['amount'],
      apply: ({ amount }: { amount: number }) => ({ charged: amount }),
      rollback: (inputs, context) => {
        expectTypeOf(inputs).toEqualTypeOf<{ amount: number }>();
        expectTypeOf(context).toEqualTypeOf<RollbackContext<{ charged: number }>>();
        expectTypeOf(context.result).toEqualTypeOf<{ charged: number } | undefined>();
        expectTypeOf(context.error).toEqualTypeOf<Failure | undefined>();
      },
    });
  });

  it('TaskContext fields are typed', () => {
    expectTypeOf<TaskContext['runId']>().toEqualTypeOf<string>();
    expectTypeOf<TaskContext['nodeId']>().toEqualTypeOf<string>();
    expectTypeOf<TaskContext['task']>().toEqualTypeOf<string>();
    expectTypeOf<TaskContext['attempt']>().toEqualTypeOf<number>();
    expectTypeOf<TaskContext['activation']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<TaskContext['signal']>().toEqualTypeOf<AbortSignal>();
    expectTypeOf(add.apply).parameter(1).toEqualTypeOf<TaskContext>();
    expectTypeOf<Failure['name']>().toEqualTypeOf<string>();
    expectTypeOf<Failure['retryable']>().toEqualTypeOf<boolean>();
    expectTypeOf<Failure['code']>().toEqualTypeOf<string | undefined>();
  });

  it('.s() binds a Partial of the inputs; wrong names and types are errors', () => {
    const node = add.s({ x: 1 });
    expectTypeOf(node).toEqualTypeOf<TaskNode<{ x: number; y: number }, number>>();
    expectTypeOf(add.s).parameter(0).toEqualTypeOf<Partial<{ x: number; y: number }> | undefined>();
    add.s();
    add.s({});
    add.s({ x: 1, y: 2 }, { id: 'add-2', persistent: false, retry: { limit: 3, initialDelayMs: 5 }, timeoutMs: 50 });
    // @ts-expect-error x is a number
    expect(() => add.s({ x: 'one' })).not.toThrow();
    // @ts-expect-error z is not an input of add
    expect(() => add.s({ z: 1 })).not.toThrow();
    // @ts-expect-error node ids are strings
    expect(() => add.s({}, { id: 7 })).toThrow(/id/);
  });

  it('run.result(node) is typed as the node task output; result(id) is unknown', async () => {
    const first = add.s({ x: 1, y: 2 });
    const second = mult.s({ y: 3 });
    const user = fetchUser.s({ id: 'u1' });
    const flo = flow('typed').link(first, second).add(user);
    const tw = await connect({ store: 'memory' });
    try {
      const run = await tw.start(flo);
      expectTypeOf(run).toEqualTypeOf<RunHandle>();
      const done = await run.wait({ timeoutMs: 5000 });
      expectTypeOf(done).toEqualTypeOf<RunSnapshot>();
      expect(done.status).toBe('succeeded');

      const nine = await run.result(second);
      expectTypeOf(nine).toEqualTypeOf<number>();
      expect(nine).toBe(9);
      const found = await run.result(user);
      expectTypeOf(found).toEqualTypeOf<User>();
      expect(found).toEqual({ id: 'u1', name: 'Ada', admin: false });
      expectTypeOf(await run.result('mult')).toEqualTypeOf<unknown>();
      expectTypeOf(run.results()).toEqualTypeOf<Promise<Record<string, unknown>>>();
    } finally {
      await tw.close();
    }
  });

  it('snapshots, history entries and events are typed', () => {
    expectTypeOf<RunSnapshot['status']>().toEqualTypeOf<RunStatus>();
    expectTypeOf<RunSnapshot['nodes']>().toEqualTypeOf<Record<string, NodeSnapshot>>();
    expectTypeOf<RunSnapshot['cycle']>().toEqualTypeOf<string[] | undefined>();
    expectTypeOf<NodeSnapshot['attempt']>().toEqualTypeOf<number>();
    expectTypeOf<NodeSnapshot['error']>().toEqualTypeOf<Failure | undefined>();
    expectTypeOf<NodeSnapshot['undoError']>().toEqualTypeOf<Failure | undefined>();
    expectTypeOf<HistoryEntry['status']>().toEqualTypeOf<RunStatus | undefined>();
    expectTypeOf<RunStatus>().toExtend<string>();
    expectTypeOf<'succeeded' | 'failed' | 'rolled_back' | 'rollback_failed' | 'cancelled' | 'stalled'>().toExtend<RunStatus>();

    const created = event<{ ip: string }>('server.created', { provides: ['ip'] });
    expectTypeOf(created.types).toEqualTypeOf<{ inputs: Record<string, unknown>; output: { ip: string } } | undefined>();
    // flow() only takes the two policies.
    flow('policies', { onFailure: 'rollback' });
    // @ts-expect-error not a failure policy
    expect(() => flow('policies', { onFailure: 'ignore' })).toThrow(/onFailure/);
  });
});
