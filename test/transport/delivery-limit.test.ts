import { describe, expect, it } from 'vitest';
import { recoveredSignal } from '../../src/transport/delivery-limit.js';
import type { DispatchMessage, SignalMessage } from '../../src/transport/port.js';

const dispatch = { runId: 'r', node: 'n', attempt: 2, task: 't', kind: 'apply', queue: 'default', inputs: {} } as unknown as DispatchMessage;

describe('dead letters at the delivery limit (transport-independent)', () => {
  const queues = { dispatches: (q: string) => q.startsWith('work.'), signals: (q: string) => q === 'signals' };
  const body = { dispatch: () => dispatch, signal: (): SignalMessage => ({ type: 'task.succeeded', runId: 'r', node: 'n', attempt: 1, worker: 'w', result: 3 }) };

  it('a dispatch dead at the limit of a work queue is a failed attempt, TW_DELIVERY_LIMIT, retryable', () => {
    const signal = recoveredSignal({ queue: 'work.default', reason: 'delivery_limit' }, body, queues, 'dead');
    expect(signal).toMatchObject({ type: 'task.failed', runId: 'r', node: 'n', attempt: 2, worker: 'dead', error: { code: 'TW_DELIVERY_LIMIT', retryable: true } });
    const rollback = recoveredSignal({ queue: 'work.default', reason: 'delivery_limit' }, { ...body, dispatch: () => ({ ...dispatch, kind: 'rollback' }) }, queues, 'dead');
    expect(rollback?.type).toBe('rollback.failed');
  });

  it('a signal dead at the limit is itself; other dead letters are not recovered', () => {
    expect(recoveredSignal({ queue: 'signals', reason: 'delivery_limit' }, body, queues, 'dead')).toEqual(body.signal());
    expect(recoveredSignal({ queue: 'work.default', reason: 'rejected' }, body, queues, 'dead')).toBeUndefined();
    expect(recoveredSignal({ queue: 'elsewhere', reason: 'delivery_limit' }, body, queues, 'dead')).toBeUndefined();
    const bad = { ...body, dispatch: (): DispatchMessage => { throw new Error('not a dispatch'); } };
    expect(recoveredSignal({ queue: 'work.default', reason: 'delivery_limit' }, bad, queues, 'dead')).toBeUndefined();
  });
});
