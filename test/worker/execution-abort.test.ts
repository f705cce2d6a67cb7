/**
 * The execution's abort and context are made lazily (no AbortController or
 * UUID unless the task reads them): what task code sees must not change.
 */
import { describe, expect, it } from 'vitest';
import { task, type TaskContext } from '../../src/index.js';
import type { DispatchMessage } from '../../src/transport/port.js';
import { ExecutionAbort } from '../../src/worker/execution-abort.js';
import { execute } from '../../src/worker/executor.js';
import { TaskRegistry } from '../../src/worker/registry.js';

const dispatch = (name: string): DispatchMessage => ({ type: 'dispatch', kind: 'apply', runId: 'run-1', node: name, attempt: 1, task: name, inputs: {}, timeoutMs: 0, queue: 'default' });

describe('ExecutionAbort', () => {
  it('gives a signal read after the abort already aborted, with the first reason', () => {
    const abort = new ExecutionAbort();
    const first = new Error('first');
    abort.abort(first);
    abort.abort(new Error('second'));
    expect(abort.aborted).toBe(true);
    expect(abort.signal.aborted).toBe(true);
    expect(abort.signal.reason).toBe(first);
  });

  it('aborts a signal read before, and calls its listener once unless removed', () => {
    const abort = new ExecutionAbort();
    const signal = abort.signal;
    const heard: unknown[] = [];
    abort.onAbort((reason) => heard.push(reason));
    const removed = new ExecutionAbort();
    removed.onAbort((reason) => heard.push(reason))();
    removed.abort('ignored');
    abort.abort('cancelled');
    abort.abort('again');
    expect([signal.aborted, signal.reason]).toEqual([true, 'cancelled']);
    expect(heard).toEqual(['cancelled']);
  });
});

describe('the task context', () => {
  it('keeps one executionId, and a spread context still carries executionId and signal', async () => {
    let seen: { id1: string; id2: string; spread: TaskContext } | undefined;
    const registry = new TaskRegistry().register(
      task('ctx', {
        apply: (_inputs, context) => {
          seen = { id1: context.executionId, id2: context.executionId, spread: { ...context } };
        },
      }),
    );
    const abort = new ExecutionAbort();
    const { signal } = await execute(dispatch('ctx'), registry, 'w', abort);
    expect(signal.type).toBe('task.succeeded');
    expect(seen?.id1).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen?.id2).toBe(seen?.id1);
    expect(seen?.spread.executionId).toBe(seen?.id1);
    expect(seen?.spread.signal).toBe(abort.signal);
  });

  it('settles an aborted execution whose task ignores its signal, and reports when its code returned', async () => {
    let finish: () => void = () => undefined;
    const registry = new TaskRegistry().register(task('stuck', { apply: () => new Promise<void>((resolve) => (finish = resolve)) }));
    const abort = new ExecutionAbort();
    const running = execute(dispatch('stuck'), registry, 'w', abort);
    abort.abort(new Error('cancelled'));
    const { signal, returned } = await running;
    expect(signal.type === 'task.failed' && signal.error.message).toBe('cancelled');
    let returnedYet = false;
    void returned?.then(() => (returnedYet = true));
    await Promise.resolve();
    expect(returnedYet).toBe(false);
    finish();
    await returned;
    expect(returnedYet).toBe(true);
  });
});
