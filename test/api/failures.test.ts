/**
 * The core API when things go wrong: retries, non-retryable errors, thrown
 * non-errors, timeouts, cancel, the failure policies (halt, saga rollback),
 * and values the codec refuses. Runs against every backend. Validation at start
 * is in `validation.test.ts`.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, expect, it } from 'vitest';
import { event, flow, NonRetryableError, task, type Failure, type HistoryEntry } from '../../src/index.js';
import { describeBackends } from './backends.js';
import { WAIT, aborted, deferred, eventually, sleep } from './helpers.js';

// ---- helpers ---------------------------------------------------------------

/** A task that records its calls and its rollbacks; its rollback throws `undoError` when given. */
function recorder(name: string, calls: string[], undone: string[] = [], options: { undoError?: string } = {}) {
  return task(name, {
    apply: () => {
      calls.push(name);
      return `${name}-result`;
    },
    rollback: (_inputs, context) => {
      undone.push(name);
      if (options.undoError !== undefined) throw new Error(options.undoError);
      return context.result;
    },
  });
}

// ---- tests -------------------------------------------------------------------

describeBackends('failures', (backend) => {
  afterEach(async () => {
    await backend.cleanup();
  });

  it('retries a failing task with backoff; attempts are numbered and visible', async () => {
    const attempts: number[] = [];
    const flaky = task('f-flaky', {
      retry: { limit: 3, initialDelayMs: 5 },
      apply: (_inputs, { attempt }) => {
        attempts.push(attempt);
        if (attempt < 3) throw new Error(`attempt ${attempt} failed`);
        return 'ok';
      },
    });
    // Every entry, node.queued too (distributed, the default announces outcomes only).
    const tw = await backend.connect({ tasks: [flaky], announce: 'all' });
    const id = randomUUID();
    const seen: HistoryEntry[] = [];
    await tw.watch((entry) => seen.push(entry), id);
    const run = await tw.start(flow('retries').add(flaky.s()), {}, { id });
    const done = await run.wait(WAIT);
    expect(done.status).toBe('succeeded');
    expect(attempts).toEqual([1, 2, 3]);
    expect(done.nodes['f-flaky']).toMatchObject({ status: 'succeeded', attempt: 3, result: 'ok' });
    expect(done.nodes['f-flaky']?.error).toBeUndefined();
    const retrying = (await run.history()).filter((entry) => entry.type === 'node.retrying');
    expect(retrying.map((entry) => [entry.attempt, entry.detail?.['message']])).toEqual([
      [1, 'attempt 1 failed'],
      [2, 'attempt 2 failed'],
    ]);
    await eventually(() => expect(seen.at(-1)).toMatchObject({ type: 'run.status', status: 'succeeded' }));
    expect(seen.filter((entry) => entry.node === 'f-flaky').map((entry) => `${entry.type}#${entry.attempt}`)).toEqual([
      'node.queued#1',
      'node.retrying#1',
      'node.queued#2',
      'node.retrying#2',
      'node.queued#3',
      'node.succeeded#3',
    ]);
  });

  it('fails for good once the retries are used up', async () => {
    let calls = 0;
    const broken = task('f-broken', {
      retry: { limit: 2, initialDelayMs: 5 },
      apply: () => {
        calls++;
        throw new TypeError('still broken');
      },
    });
    const tw = await backend.connect({ tasks: [broken] });
    const run = await tw.start(flow('retries-used-up').add(broken.s()));
    const done = await run.wait(WAIT);
    expect(done.status).toBe('failed');
    expect(calls).toBe(3);
    expect(done.nodes['f-broken']).toMatchObject({ status: 'failed', attempt: 3, error: { name: 'TypeError', message: 'still broken', retryable: true } });
  });

  it('fails at once on a NonRetryableError', async () => {
    let calls = 0;
    const fatal = task('f-fatal', {
      retry: { limit: 3, initialDelayMs: 5 },
      apply: () => {
        calls++;
        throw new NonRetryableError('card declined', { code: 'DECLINED', cause: new RangeError('limit reached') });
      },
    });
    const tw = await backend.connect({ tasks: [fatal] });
    const run = await tw.start(flow('non-retryable').add(fatal.s()));
    const done = await run.wait(WAIT);
    expect(done.status).toBe('failed');
    expect(calls).toBe(1);
    expect(done.nodes['f-fatal']).toMatchObject({
      status: 'failed',
      attempt: 1,
      error: { name: 'NonRetryableError', message: 'card declined', code: 'DECLINED', retryable: false, cause: { name: 'RangeError', message: 'limit reached' } },
    });
    const failed = (await run.history()).filter((entry) => entry.node === 'f-fatal' && entry.type !== 'node.queued');
    expect(failed.map((entry) => entry.type)).toEqual(['node.failed']);
  });

  it('normalises thrown non-errors (a string, an object, undefined)', async () => {
    const thrower = (name: string, value: unknown) =>
      task(name, {
        apply: () => {
          throw value;
        },
      });
    const tasks = [thrower('f-throws-string', 'plain string'), thrower('f-throws-object', { reason: 'nope', code: 7 }), thrower('f-throws-undefined', undefined)];
    const tw = await backend.connect({ tasks });
    const run = await tw.start(flow('non-errors').add(...tasks.map((t) => t.s())));
    const done = await run.wait(WAIT);
    expect(done.status).toBe('failed');
    const errors = Object.fromEntries(tasks.map((t) => [t.name, done.nodes[t.name]?.error]));
    expect(errors['f-throws-string']).toMatchObject({ name: 'NonError', message: 'plain string' });
    expect(errors['f-throws-object']).toMatchObject({ name: 'NonError' });
    expect(errors['f-throws-object']?.message).toContain('{"reason":"nope","code":7}');
    expect(errors['f-throws-undefined']).toMatchObject({ name: 'NonError', message: 'undefined was thrown' });
    for (const t of tasks) expect(done.nodes[t.name]?.status).toBe('failed');
  });

  it('times out an attempt: code TW_TIMEOUT, and the task sees its AbortSignal fire', async () => {
    let fired = false;
    const stuck = task('f-stuck', {
      timeoutMs: 50,
      apply: async (_inputs, { signal }) => {
        await aborted(signal);
        fired = true;
        return 'too late';
      },
    });
    const tw = await backend.connect({ tasks: [stuck] });
    const run = await tw.start(flow('timeout').add(stuck.s()));
    const done = await run.wait(WAIT);
    expect(done.status).toBe('failed');
    expect(done.nodes['f-stuck']).toMatchObject({ status: 'failed', attempt: 1, error: { code: 'TW_TIMEOUT', name: 'TimeoutError' } });
    expect(done.nodes['f-stuck']?.error?.message).toContain('f-stuck');
    expect(done.nodes['f-stuck']).not.toHaveProperty('result');
    await eventually(() => expect(fired).toBe(true));
  });

  it('cancels a run: the running task sees its AbortSignal fire and nothing later runs', async () => {
    const started = deferred();
    let reason: unknown;
    let laterRan = false;
    const slow = task('f-slow', {
      apply: async (_inputs, { signal }) => {
        started.resolve();
        await aborted(signal);
        reason = signal.reason;
        return 'finished anyway';
      },
    });
    const later = task('f-later', {
      apply: () => {
        laterRan = true;
      },
    });
    const tw = await backend.connect({ tasks: [slow, later] });
    const run = await tw.start(flow('cancel').link(slow.s(), later.s()));
    await started.promise;
    await run.cancel();
    const done = await run.wait(WAIT);
    expect(done.status).toBe('cancelled');
    await eventually(() => expect(reason).toBeDefined());
    expect((reason as { code?: string }).code).toBe('TW_CANCELLED');
    await sleep(30); // a late signal from the aborted task must change nothing
    const after = await run.status();
    expect(after.status).toBe('cancelled');
    expect(after.nodes['f-slow']?.status).toBe('cancelled');
    expect(after.nodes['f-later']).toMatchObject({ status: 'cancelled', attempt: 0 });
    expect(laterRan).toBe(false);
  });

  it('halts on failure: the run fails, the other branch finishes, the failed task rolls itself back', async () => {
    const undo: { inputs: unknown; error: Failure | undefined; result: unknown }[] = [];
    let downstream = false;
    const bad = task('f-bad', {
      requires: ['sku'],
      apply: (_inputs: { sku: string }) => {
        throw new Error('out of stock');
      },
      rollback: (inputs, context) => void undo.push({ inputs, error: context.error, result: context.result }),
    });
    const good = task('f-good', {
      apply: async () => {
        await sleep(20);
        return 'fine';
      },
    });
    const after = task('f-after-bad', {
      apply: () => {
        downstream = true;
      },
    });
    const flo = flow('halt', { onFailure: 'halt' }).add(good.s()).link(bad.s({ sku: 'A1' }), after.s());
    const tw = await backend.connect({ tasks: [bad, good, after] });
    const run = await tw.start(flo);
    const done = await run.wait(WAIT);
    expect(done.status).toBe('failed');
    expect(done.nodes['f-good']).toMatchObject({ status: 'succeeded', result: 'fine' });
    expect(done.nodes['f-bad']).toMatchObject({ status: 'failed', undo: 'done', error: { message: 'out of stock' } });
    expect(done.nodes['f-after-bad']?.status).toBe('waiting');
    expect(downstream).toBe(false);
    expect(undo).toHaveLength(1);
    expect(undo[0]?.inputs).toEqual({ sku: 'A1' }); // the inputs its apply received
    expect(undo[0]?.error).toMatchObject({ name: 'Error', message: 'out of stock' });
    expect(undo[0]?.result).toBeUndefined();
    expect(done.nodes['f-good']?.undo).toBeUndefined(); // halt does not undo completed work
  });

  it('rolls back completed tasks in reverse order of completion (saga), branches still running included', async () => {
    const calls: string[] = [];
    const undone: string[] = [];
    const results: unknown[] = [];
    const failed = deferred();
    const first = recorder('f-saga-1', calls, undone);
    const second = task('f-saga-2', {
      apply: () => ({ booked: 42 }),
      rollback: (_inputs, context) => {
        undone.push('f-saga-2');
        results.push(context.result);
      },
    });
    const third = recorder('f-saga-3', calls, undone);
    const failing = task('f-saga-fail', {
      apply: () => {
        failed.resolve();
        throw new NonRetryableError('payment refused');
      },
      rollback: () => void undone.push('f-saga-fail'),
    });
    const never = recorder('f-saga-never', calls, undone);
    // A parallel branch that finishes only after the failure: rolled back too, its listener never runs.
    const slow = task('f-saga-slow', {
      apply: async () => {
        await failed.promise;
        await sleep(10);
        calls.push('f-saga-slow');
      },
      rollback: () => void undone.push('f-saga-slow'),
    });
    const afterSlow = recorder('f-saga-after-slow', calls, undone);
    // first -> second -> third -> failing -> never, and slow -> afterSlow
    const [n1, n2, n3, n4] = [first.s(), second.s(), third.s(), failing.s()];
    const saga = flow('saga', { onFailure: 'rollback' }).link(n1, n2).link(n2, n3).link(n3, n4).link(n4, never.s()).link(slow.s(), afterSlow.s());
    const tw = await backend.connect({ tasks: [first, second, third, failing, never, slow, afterSlow] });
    const run = await tw.start(saga);
    const done = await run.wait(WAIT);
    expect(done.status).toBe('rolled_back');
    expect(calls).toEqual(['f-saga-1', 'f-saga-3', 'f-saga-slow']);
    // The failed task's own rollback first, then completed tasks, latest first.
    expect(undone).toEqual(['f-saga-fail', 'f-saga-slow', 'f-saga-3', 'f-saga-2', 'f-saga-1']);
    expect(results).toEqual([{ booked: 42 }]);
    for (const id of ['f-saga-1', 'f-saga-2', 'f-saga-3', 'f-saga-slow']) expect(done.nodes[id]).toMatchObject({ status: 'succeeded', undo: 'done' });
    expect(done.nodes['f-saga-fail']).toMatchObject({ status: 'failed', undo: 'done', error: { message: 'payment refused' } });
    for (const id of ['f-saga-never', 'f-saga-after-slow']) expect(done.nodes[id]).toMatchObject({ attempt: 0 });
  });

  it('records a rollback that throws in undoError, still runs the other rollbacks, and ends rollback_failed', async () => {
    const calls: string[] = [];
    const undone: string[] = [];
    const n1 = recorder('f-undo-1', calls, undone).s();
    const n2 = recorder('f-undo-2', calls, undone, { undoError: 'cannot release the room' }).s();
    const failing = task('f-undo-fail', {
      apply: () => {
        throw new NonRetryableError('boom');
      },
    });
    const flo = flow('saga-undo-error', { onFailure: 'rollback' }).link(n1, n2).link(n2, failing.s());
    const tw = await backend.connect({ tasks: [n1.task, n2.task, failing] });
    const run = await tw.start(flo);
    const done = await run.wait(WAIT);
    expect(done.status).toBe('rollback_failed');
    expect(undone).toEqual(['f-undo-2', 'f-undo-1']);
    expect(done.nodes['f-undo-2']).toMatchObject({ undo: 'failed', undoError: { name: 'Error', message: 'cannot release the room' } });
    expect(done.nodes['f-undo-1']).toMatchObject({ undo: 'done' });
    expect(done.nodes['f-undo-1']?.undoError).toBeUndefined();
    const failedUndo = (await run.history()).filter((entry) => entry.type === 'rollback.failed');
    expect(failedUndo.map((entry) => entry.node)).toEqual(['f-undo-2']);
  });

  it('the saga compensates each completed activation of a persistent listener with its own inputs and result, latest first', async () => {
    const undone: { ip: unknown; result: unknown; activation: number | undefined }[] = [];
    const release = deferred();
    const register = task('f-register', {
      requires: ['ip'],
      apply: ({ ip }: { ip: string }) => `lb:${ip}`,
      rollback: (inputs: { ip: string }, context) => void undone.push({ ip: inputs.ip, result: context.result, activation: context.activation }),
    });
    const doomed = task('f-doomed-later', {
      apply: async () => {
        await release.promise;
        throw new NonRetryableError('too late');
      },
    });
    const flo = flow('saga-listener', { onFailure: 'rollback' }).link(event('f.server.created', { provides: ['ip'] }), register.s({}, { persistent: true })).add(doomed.s());
    const tw = await backend.connect({ tasks: [register, doomed] });
    const run = await tw.start(flo);
    await tw.notify('f.server.created', { ip: '10.0.0.1' });
    await tw.notify('f.server.created', { ip: '10.0.0.2' });
    await eventually(async () => expect((await run.activations('f-register')).map((a) => a.status)).toEqual(['succeeded', 'succeeded']));
    release.resolve();
    const done = await run.wait(WAIT);
    expect(done.status).toBe('rolled_back');
    const activations = await run.activations('f-register');
    const latestFirst = [...activations].sort((a, b) => (b.doneSeq ?? 0) - (a.doneSeq ?? 0));
    expect(undone).toEqual(latestFirst.map((a) => ({ ip: a.inputs['ip'], result: `lb:${a.inputs['ip'] as string}`, activation: a.seq })));
    expect(activations.map((a) => a.undo)).toEqual(['done', 'done']);
  });

  it('a saga with nothing to undo ends rolled_back (no task defines a rollback)', async () => {
    const calls: string[] = [];
    const done1 = task('f-plain-done', { apply: () => void calls.push('f-plain-done') });
    const failing = task('f-plain-fail', {
      apply: () => {
        throw new NonRetryableError('nope');
      },
    });
    const tw = await backend.connect({ tasks: [done1, failing] });
    const run = await tw.start(flow('saga-no-undo', { onFailure: 'rollback' }).link(done1.s(), failing.s()));
    const done = await run.wait(WAIT);
    expect(done.status).toBe('rolled_back');
    expect(calls).toEqual(['f-plain-done']);
    expect(done.nodes['f-plain-fail']).toMatchObject({ status: 'failed', error: { message: 'nope' } });
  });

  it('a node retried by hand after its rollback ran, failing again, is rolled back again', async () => {
    const undone: number[] = [];
    const flaky = task('f-retry-undo', {
      apply: () => {
        throw new NonRetryableError('still failing');
      },
      rollback: (_inputs, { attempt }) => void undone.push(attempt),
    });
    const tw = await backend.connect({ tasks: [flaky] });
    const run = await tw.start(flow('retry-after-undo').add(flaky.s()));
    expect((await run.wait(WAIT)).nodes['f-retry-undo']).toMatchObject({ status: 'failed', undo: 'done', attempt: 1 });
    await run.retry('f-retry-undo');
    await eventually(async () => expect((await run.status()).nodes['f-retry-undo']).toMatchObject({ status: 'failed', undo: 'done', attempt: 2 }));
    expect(undone).toEqual([1, 2]);
    expect((await run.wait(WAIT)).status).toBe('failed');
  });

  it('fails a task whose result cannot be encoded (function, Map, cycle) with TW_ENCODE, without retrying', async () => {
    const calls = new Map<string, number>();
    const returning = (name: string, value: () => unknown) =>
      task(name, {
        retry: { limit: 2, initialDelayMs: 5 },
        apply: () => {
          calls.set(name, (calls.get(name) ?? 0) + 1);
          return value();
        },
      });
    const tasks = [
      returning('f-returns-function', () => ({ callback: () => 1 })),
      returning('f-returns-map', () => new Map([['a', 1]])),
      returning('f-returns-cycle', () => {
        const node: Record<string, unknown> = { name: 'loop' };
        node['self'] = node;
        return node;
      }),
    ];
    const tw = await backend.connect({ tasks });
    const run = await tw.start(flow('codec').add(...tasks.map((t) => t.s())));
    const done = await run.wait(WAIT);
    expect(done.status).toBe('failed');
    for (const t of tasks) {
      const node = done.nodes[t.name];
      expect(node).toMatchObject({ status: 'failed', attempt: 1, error: { code: 'TW_ENCODE', retryable: false } });
      expect(node?.error?.message).toContain(`task "${t.name}"`);
      expect(calls.get(t.name)).toBe(1);
    }
    expect(done.nodes['f-returns-function']?.error?.message).toContain('function');
    expect(done.nodes['f-returns-map']?.error?.message).toContain('Map');
    expect(done.nodes['f-returns-cycle']?.error?.message).toContain('circular');
  });
});
