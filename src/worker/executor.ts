/**
 * Executes one dispatch: decodes the inputs, runs the task's apply (or rollback)
 * with a timeout and an AbortSignal, encodes the result, and returns the signal
 * to send back. Never throws: every failure becomes a `task.failed` signal.
 *
 * @packageDocumentation
 */
import { decodeValue, encodeValue } from '../codec/value.js';
import { TimeoutError, UnknownTaskError } from '../errors.js';
import { toFailure, type Failure } from '../model/failure.js';
import type { TaskContext } from '../model/task.js';
import type { DispatchMessage, SignalMessage } from '../transport/port.js';
import type { TaskRegistry } from './registry.js';

/** Runs `apply` under a timeout; rejects with a TimeoutError and aborts the signal when it fires. */
async function withTimeout<T>(run: (signal: AbortSignal) => T | Promise<T>, timeoutMs: number, task: string, outer: AbortSignal): Promise<T> {
  const controller = new AbortController();
  const onOuter = (): void => controller.abort(outer.reason);
  if (outer.aborted) controller.abort(outer.reason);
  else outer.addEventListener('abort', onOuter, { once: true });
  let timer: NodeJS.Timeout | undefined;
  try {
    const work = Promise.resolve().then(() => run(controller.signal));
    const guards: Promise<never>[] = [
      new Promise<never>((_, reject) => {
        if (controller.signal.aborted) reject(controller.signal.reason);
        controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true });
      }),
    ];
    if (timeoutMs > 0) {
      guards.push(
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            const error = new TimeoutError(task, timeoutMs);
            controller.abort(error);
            reject(error);
          }, timeoutMs);
        }),
      );
    }
    return await Promise.race([work, ...guards]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    outer.removeEventListener('abort', onOuter);
  }
}

/**
 * Executes a dispatch with the registry's code and returns the signal to send.
 * `abort` fires when the run is cancelled or the worker stops.
 */
export async function execute(message: DispatchMessage, registry: TaskRegistry, worker: string, abort: AbortSignal): Promise<SignalMessage> {
  const base = { runId: message.runId, node: message.node, attempt: message.attempt, worker };
  const ref = message.activation === undefined ? base : { ...base, activation: message.activation };
  const rollback = message.kind === 'rollback';
  const task = registry.get(message.task);
  const fail = (error: Failure): SignalMessage =>
    rollback ? { ...ref, type: 'rollback.failed', error } : { ...ref, type: 'task.failed', error };
  if (task === undefined) {
    return fail({ ...toFailure(new UnknownTaskError(message.task, `worker "${worker}"`)), retryable: false });
  }
  if (rollback && task.rollback === undefined) return { ...ref, type: 'rollback.succeeded' };
  try {
    const inputs = decodeValue(message.inputs) as Record<string, unknown>;
    const result = await withTimeout(
      (signal) => {
        const context: TaskContext = { runId: message.runId, nodeId: message.node, task: task.name, attempt: message.attempt, activation: message.activation, signal };
        if (!rollback) return task.apply(inputs, context);
        const rollbackContext = { ...context, result: message.result === undefined ? undefined : decodeValue(message.result), error: message.error };
        return (task.rollback as NonNullable<typeof task.rollback>)(inputs, rollbackContext);
      },
      message.timeoutMs,
      task.name,
      abort,
    );
    if (rollback) return { ...ref, type: 'rollback.succeeded' };
    return { ...ref, type: 'task.succeeded', result: encodeValue(result, `task "${task.name}" (node "${message.node}")`) };
  } catch (thrown) {
    const failure = toFailure(thrown);
    // An encode error is a bug in the task's result: retrying cannot fix it.
    if ((thrown as { code?: unknown })?.code === 'TW_ENCODE') failure.retryable = false;
    return fail(failure);
  }
}
