/**
 * `run.done()`: await a run as one awaits a function call, resolving on success
 * and rejecting with the original failure. Runs against every backend.
 */
import { afterEach, expect, it } from 'vitest';
import { flow, task, type RunFailedError } from '../../src/index.js';
import { describeBackends } from './backends.js';
import { WAIT, deferred, rejection } from './helpers.js';

class QuotaError extends Error {
  readonly code = 'E_QUOTA';
  constructor(message: string) {
    super(message);
    this.name = 'QuotaError';
  }
}

describeBackends('run.done()', (backend) => {
  afterEach(() => backend.cleanup());

  it('resolves with the run once it succeeded', async () => {
    const one = task('d-one', { apply: () => 1 });
    const tw = await backend.connect({ tasks: [one] });
    const run = await tw.start(flow('done-ok').add(one.s()));
    const done = await run.done(WAIT);
    expect(done.status).toBe('succeeded');
    expect(done.nodes['d-one']?.result).toBe(1);
  });

  it('rejects with the original failure: name, message, stack, node, attempt, and the run', async () => {
    const ok = task('d-ok', { apply: () => 'ok' });
    const quota = task('d-quota', {
      retry: { limit: 1, initialDelayMs: 1 },
      apply: function throwsQuota(): never {
        throw new QuotaError('quota exceeded for tenant 7');
      },
    });
    const tw = await backend.connect({ tasks: [ok, quota] });
    const run = await tw.start(flow('done-failed').link(ok.s(), quota.s()));
    const error = (await rejection(run.done(WAIT))) as RunFailedError;
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe('TW_TASK_FAILED');
    expect(error.name).toBe('QuotaError');
    expect(error.message).toBe('quota exceeded for tenant 7');
    expect(error.stack).toContain('throwsQuota');
    expect(error.node).toBe('d-quota');
    expect(error.attempt).toBe(2);
    expect(error.failure).toMatchObject({ name: 'QuotaError', code: 'E_QUOTA', retryable: true });
    expect(error.runId).toBe(run.id);
    expect(error.status).toBe('failed');
    expect(error.run.nodes['d-ok']?.result).toBe('ok');
  });

  it('rejects with the first failure of a saga that rolled back, and with TW_CANCELLED for a cancelled run', async () => {
    const first = task('d-first', { apply: () => 'made', rollback: () => undefined });
    const broken = task('d-broken', {
      apply: () => {
        throw new TypeError('bad input');
      },
    });
    const hold = deferred();
    const held = task('d-held', { apply: () => hold.promise });
    const tw = await backend.connect({ tasks: [first, broken, held] });
    const saga = await tw.start(flow('done-saga', { onFailure: 'rollback' }).link(first.s(), broken.s()));
    const error = (await rejection(saga.done(WAIT))) as RunFailedError;
    expect(error).toMatchObject({ code: 'TW_TASK_FAILED', name: 'TypeError', message: 'bad input', node: 'd-broken', attempt: 1, status: 'rolled_back' });

    const cancelled = await tw.start(flow('done-cancel').add(held.s()));
    await cancelled.cancel();
    hold.resolve();
    const stopped = (await rejection(cancelled.done(WAIT))) as RunFailedError;
    expect(stopped).toMatchObject({ code: 'TW_CANCELLED', status: 'cancelled', runId: cancelled.id });
    expect(stopped.node).toBeUndefined();
  });

  it('rejects with TW_STALLED for a run that stalled, and keeps wait({ timeoutMs }) semantics', async () => {
    const needs = task('d-needs', { requires: ['missing'], apply: () => 1 });
    const tw = await backend.connect({ tasks: [needs] });
    const run = await tw.start(flow('done-stalled').add(needs.s()), {}, { validate: false });
    const error = (await rejection(run.done(WAIT))) as RunFailedError;
    expect(error).toMatchObject({ code: 'TW_STALLED', status: 'stalled' });
    expect(error.message).toContain('"d-needs"');
  });
});
