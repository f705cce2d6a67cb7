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

/**
 * Runs `apply` until it settles, the outer signal aborts (cancel, shutdown) or the
 * timeout fires (then its signal aborts with a TimeoutError). Without a timeout
 * the task gets the outer signal itself: no extra controller on the hot path.
 */
async function withTimeout<T>(run: (signal: AbortSignal) => T | Promise<T>, timeoutMs: number, task: string, outer: AbortSignal): Promise<T> {
  if (outer.aborted) throw outer.reason;
  const controller = timeoutMs > 0 ? new AbortController() : undefined;
  const signal = controller?.signal ?? outer;
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  let onOuter: (() => void) | undefined;
  const work = run(signal);
  if (!(work instanceof Promise)) return work; // a sync task: nothing to race
  try {
    return await new Promise<T>((resolve, reject) => {
      onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      if (controller !== undefined) {
        onOuter = () => controller.abort(outer.reason);
        outer.addEventListener('abort', onOuter, { once: true });
        timer = setTimeout(() => controller.abort(new TimeoutError(task, timeoutMs)), timeoutMs);
      }
      work.then(resolve, reject);
    });
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
    if (onOuter !== undefined) outer.removeEventListener('abort', onOuter);
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
