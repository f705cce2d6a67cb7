/**
 * What a task's outcome is judged as: results checked against `provides`,
 * thrown values marked not retryable, timeouts of synchronous tasks, and
 * timed-out attempts that ignore their AbortSignal. Runs against every backend.
 */
import { afterEach, expect, it } from 'vitest';
import { flow, task } from '../../src/index.js';
import { describeBackends } from './backends.js';
import { WAIT, deferred, eventually } from './helpers.js';

/** Blocks the event loop for `ms` milliseconds (a synchronous task that overruns). */
function busy(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // spin
  }
}

describeBackends('results and errors', (backend) => {
  afterEach(async () => {
    await backend.cleanup();
  });

  it('fails, without retrying, a task with several provides whose result misses some of them', async () => {
    let calls = 0;
    const partial = task('r-partial', {
      provides: ['ip', 'port', 'host'],
      retry: { limit: 2, initialDelayMs: 1 },
      apply: () => {
        calls++;
        return { ip: '10.0.0.1' };
      },
    });
    const scalar = task('r-scalar', { provides: ['a', 'b'], retry: 2, apply: () => 42 });
    const user = task('r-user', { requires: ['ip', 'port'], apply: ({ ip, port }: { ip: string; port: number }) => `${ip}:${port}` });
    const tw = await backend.connect({ tasks: [partial, scalar, user] });
    const run = await tw.start(flow('partial-result').add(partial.s(), user.s(), scalar.s()));
    const done = await run.wait(WAIT);
    expect(done.status).toBe('failed');
    expect(done.nodes['r-partial']).toMatchObject({ status: 'failed', attempt: 1, error: { code: 'TW_RESULT', retryable: false } });
    expect(done.nodes['r-partial']?.error?.message).toContain('"port", "host"');
    expect(done.nodes['r-scalar']).toMatchObject({ status: 'failed', attempt: 1, error: { code: 'TW_RESULT', retryable: false } });
    expect(done.nodes['r-scalar']?.error?.message).toContain('"a", "b"');
    expect(calls).toBe(1);
  });

  it('fails at once on a thrown plain object with retryable: false, keeping its code', async () => {
    let calls = 0;
    const refuses = task('r-refuses', {
      retry: { limit: 3, initialDelayMs: 1 },
      apply: () => {
        calls++;
        throw { retryable: false, code: 'E_QUOTA', message: 'quota exceeded' };
      },
    });
    const tw = await backend.connect({ tasks: [refuses] });
    const done = await (await tw.start(flow('plain-object').add(refuses.s()))).wait(WAIT);
    expect(done.nodes['r-refuses']).toMatchObject({ status: 'failed', attempt: 1, error: { name: 'NonError', code: 'E_QUOTA', retryable: false } });
    expect(done.nodes['r-refuses']?.error?.message).toContain('quota exceeded');
    expect(calls).toBe(1);
  });

  it('fails a synchronous task that overruns timeoutMs with TW_TIMEOUT', async () => {
    const slow = task('r-sync-slow', { timeoutMs: 20, apply: () => (busy(100), 'late') });
    const tw = await backend.connect({ tasks: [slow] });
    const done = await (await tw.start(flow('sync-timeout').add(slow.s()))).wait(WAIT);
    expect(done.nodes['r-sync-slow']).toMatchObject({ status: 'failed', error: { code: 'TW_TIMEOUT' } });
    expect(done.nodes['r-sync-slow']).not.toHaveProperty('result');
  });

  it('counts a timed-out attempt that ignores its AbortSignal in the worker concurrency until it returns', async () => {
    const release = deferred();
    let running = 0;
    let most = 0;
    const deaf = task('r-deaf', {
      timeoutMs: 30,
      retry: { limit: 1, initialDelayMs: 1, jitter: 0 },
      apply: async (_inputs, { attempt }) => {
        running++;
        most = Math.max(most, running);
        try {
          if (attempt === 1) await release.promise; // ignores its signal
          return attempt;
        } finally {
          running--;
        }
      },
    });
    const tw = await backend.connect({ tasks: [deaf], concurrency: 1 });
    const run = await tw.start(flow('deaf').add(deaf.s()));
    // The first attempt timed out and a retry is due, but the only slot is still taken.
    await eventually(async () => expect((await run.status()).nodes['r-deaf']?.attempt).toBe(2));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await run.status()).status).toBe('running');
    release.resolve();
    const done = await run.wait(WAIT);
    expect(done.nodes['r-deaf']).toMatchObject({ status: 'succeeded', result: 2 });
    expect(most).toBe(1);
  });
});
