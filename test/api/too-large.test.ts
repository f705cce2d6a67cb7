/**
 * One maximum encoded size of a message, enforced where the message is made:
 * a task result too large to travel fails its task at once, not retried, with
 * `TW_TOO_LARGE` naming the task, on every backend (embedded too, though
 * nothing crosses a broker there).
 */
import { afterEach, expect, it } from 'vitest';
import { flow, NonRetryableError, task } from '../../src/index.js';
import { encodedBytes } from '../../src/transport/limits.js';
import { describeBackends } from './backends.js';
import { WAIT } from './helpers.js';

const LIMIT = 64 * 1024;

describeBackends('message size limit', (backend) => {
  afterEach(async () => {
    await backend.cleanup();
  });

  it('fails a task whose result is over maxMessageBytes at once (TW_TOO_LARGE, not retried); a result under it succeeds', async () => {
    let calls = 0;
    const big = task('size-big', {
      retry: { limit: 3, initialDelayMs: 5 },
      apply: () => {
        calls++;
        return 'x'.repeat(LIMIT + 1);
      },
    });
    const small = task('size-small', { apply: () => 'y'.repeat(LIMIT / 2) });
    const tw = await backend.connect({ tasks: [big, small], maxMessageBytes: LIMIT });
    const flo = flow('size-limit').add(big.s(), small.s());
    const final = await (await tw.start(flo)).wait(WAIT);
    expect(final.status).toBe('failed');
    expect(final.nodes['size-small']).toMatchObject({ status: 'succeeded' });
    expect(final.nodes['size-big']).toMatchObject({ status: 'failed', attempt: 1, error: { code: 'TW_TOO_LARGE', retryable: false } });
    expect(final.nodes['size-big']?.error?.message).toMatch(new RegExp(`task "size-big" \\(node "size-big"\\).*over the limit of ${LIMIT} bytes`));
    expect(calls).toBe(1);
  });

  it('truncates an error too large to travel: the task fails with its error cut short, once', async () => {
    let calls = 0;
    const loud = task('size-loud', {
      apply: () => {
        calls++;
        throw new NonRetryableError(`boom ${'e'.repeat(2 * LIMIT)}`, { code: 'LOUD' });
      },
    });
    const tw = await backend.connect({ tasks: [loud], maxMessageBytes: LIMIT });
    const final = await (await tw.start(flow('size-loud').add(loud.s()))).wait(WAIT);
    const error = final.nodes['size-loud']?.error;
    expect(final.nodes['size-loud']).toMatchObject({ status: 'failed', attempt: 1 });
    expect(error).toMatchObject({ name: 'NonRetryableError', code: 'LOUD', retryable: false });
    expect(error?.message).toMatch(/^boom e+… \(truncated: the error was \d+ bytes encoded, over the limit of 65536 bytes\)$/);
    expect(error?.message.length).toBeLessThan(LIMIT);
    expect(calls).toBe(1);
  });

  it('cuts an error short enough for a small limit: its signal fits maxMessageBytes, the task fails once', async () => {
    // Found by the simulator (4 KiB limit): the message was kept to 4096 characters whatever
    // the limit, so the signal still did not fit and the task ran again until the delivery limit.
    const small = 4096;
    let calls = 0;
    const loud = task('size-loud-small', {
      apply: () => {
        calls++;
        throw new NonRetryableError(`boom ${'é'.repeat(2 * small)}`, { code: 'LOUD' });
      },
    });
    const tw = await backend.connect({ tasks: [loud], maxMessageBytes: small });
    const final = await (await tw.start(flow('size-loud-small').add(loud.s()))).wait(WAIT);
    const error = final.nodes['size-loud-small']?.error;
    expect(final.nodes['size-loud-small']).toMatchObject({ status: 'failed', attempt: 1 });
    expect(error).toMatchObject({ name: 'NonRetryableError', code: 'LOUD', retryable: false });
    expect(error?.message).toMatch(/^boom é+… \(truncated: the error was \d+ bytes encoded, over the limit of 4096 bytes\)$/);
    expect(encodedBytes(error)).toBeLessThan(small);
    expect(calls).toBe(1);
  });
});
