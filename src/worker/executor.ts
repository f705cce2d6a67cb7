/**
 * Executes one dispatch: decodes the inputs, runs the task's apply (or rollback)
 * with a timeout and an AbortSignal, encodes the result, and returns the signal
 * to send back. Never throws: every failure becomes a `task.failed` signal.
 *
 * @packageDocumentation
 */
import { randomUUID } from 'node:crypto';
import { systemClock, type Clock } from '../coordinator/clock.js';
import { decodeValue, encodeValue } from '../codec/value.js';
import { TimeoutError, UnknownTaskError } from '../errors.js';
import { toFailure, type Failure } from '../model/failure.js';
import { checkProvided } from '../model/result.js';
import type { TaskContext } from '../model/task.js';
import type { DispatchMessage, SignalMessage } from '../transport/port.js';
import type { TaskRegistry } from './registry.js';

/** An attempt under way: its outcome, and when its code has actually returned. */
interface Attempt<T> {
  /** Settles with the result, the task's error, a timeout or an abort, whichever comes first. */
  outcome: Promise<T>;
  /** Settles when the task's code has returned (later than `outcome` when it ignores its signal). */
  returned: Promise<void>;
}

const ignore = (): void => undefined;

/**
 * Runs `apply` until it settles, the outer signal aborts (cancel, shutdown) or the
 * timeout fires (then its signal aborts with a TimeoutError). A synchronous task
 * cannot be interrupted: one that returns after its timeout fails with the
 * TimeoutError all the same. Without a timeout the task gets the outer signal
 * itself: no extra controller on the hot path.
 */
function withTimeout<T>(run: (signal: AbortSignal) => T | Promise<T>, timeoutMs: number, task: string, outer: AbortSignal, clock: Clock): Attempt<T> {
  if (outer.aborted) return { outcome: Promise.reject(outer.reason as Error), returned: Promise.resolve() };
  const controller = timeoutMs > 0 ? new AbortController() : undefined;
  const signal = controller?.signal ?? outer;
  const startedAt = clock.now();
  let work: T | Promise<T>;
  try {
    work = run(signal);
  } catch (thrown) {
    return { outcome: Promise.reject(thrown), returned: Promise.resolve() };
  }
  const left = timeoutMs - (clock.now() - startedAt);
  if (controller !== undefined && left <= 0) {
    // The task blocked past its timeout before returning (a synchronous task, or
    // an async one that did its work before its first await).
    controller.abort(new TimeoutError(task, timeoutMs));
    if (work instanceof Promise) work.catch(ignore);
    return { outcome: Promise.reject(signal.reason as Error), returned: work instanceof Promise ? work.then(ignore, ignore) : Promise.resolve() };
  }
  if (!(work instanceof Promise)) return { outcome: Promise.resolve(work), returned: Promise.resolve() };
  const pending = work;
  let timer: unknown;
  let onAbort: (() => void) | undefined;
  let onOuter: (() => void) | undefined;
  const outcome = new Promise<T>((resolve, reject) => {
    onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    if (controller !== undefined) {
      onOuter = () => controller.abort(outer.reason);
      outer.addEventListener('abort', onOuter, { once: true });
      timer = clock.setTimeout(() => controller.abort(new TimeoutError(task, timeoutMs)), left);
    }
    pending.then(resolve, reject);
  }).finally(() => {
    if (timer !== undefined) clock.clearTimeout(timer);
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
    if (onOuter !== undefined) outer.removeEventListener('abort', onOuter);
  });
  return { outcome, returned: pending.then(ignore, ignore) };
}

/** What {@link execute} gives back. */
export interface Execution {
  /** The signal to send. */
  signal: SignalMessage;
  /**
   * Settles when the task's code has returned. Later than the signal when the
   * attempt timed out or was aborted and the task ignored its AbortSignal: the
   * worker keeps counting it in its concurrency until then.
   */
  returned: Promise<void>;
}

/**
 * Executes a dispatch with the registry's code and returns the signal to send.
 * `abort` fires when the run is cancelled or the worker stops; `clock` times
 * the task's timeout.
 */
export async function execute(message: DispatchMessage, registry: TaskRegistry, worker: string, abort: AbortSignal, clock: Clock = systemClock): Promise<Execution> {
  const base = { runId: message.runId, node: message.node, attempt: message.attempt, worker };
  const ref = message.activation === undefined ? base : { ...base, activation: message.activation };
  const rollback = message.kind === 'rollback';
  const task = registry.get(message.task);
  const done = (signal: SignalMessage, returned: Promise<void> = Promise.resolve()): Execution => ({ signal, returned });
  const fail = (error: Failure): SignalMessage =>
    rollback ? { ...ref, type: 'rollback.failed', error } : { ...ref, type: 'task.failed', error };
  if (task === undefined) {
    return done(fail({ ...toFailure(new UnknownTaskError(message.task, `worker "${worker}"`)), retryable: false }));
  }
  if (rollback && task.rollback === undefined) return done({ ...ref, type: 'rollback.succeeded' });
  let returned: Promise<void> | undefined;
  try {
    const inputs = decodeValue(message.inputs) as Record<string, unknown>;
    const attempt = withTimeout(
      (signal) => {
        const context: TaskContext = { runId: message.runId, nodeId: message.node, task: task.name, attempt: message.attempt, activation: message.activation, executionId: randomUUID(), signal };
        if (!rollback) return task.apply(inputs, context);
        const rollbackContext = { ...context, result: message.result === undefined ? undefined : decodeValue(message.result), error: message.error };
        return (task.rollback as NonNullable<typeof task.rollback>)(inputs, rollbackContext);
      },
      message.timeoutMs,
      task.name,
      abort,
      clock,
    );
    returned = attempt.returned;
    const result = await attempt.outcome;
    if (rollback) return done({ ...ref, type: 'rollback.succeeded' }, returned);
    checkProvided(task.name, task.provides, result);
    return done({ ...ref, type: 'task.succeeded', result: encodeValue(result, `task "${task.name}" (node "${message.node}")`) }, returned);
  } catch (thrown) {
    const failure = toFailure(thrown);
    // An encode error is a bug in the task's result: retrying cannot fix it.
    if ((thrown as { code?: unknown })?.code === 'TW_ENCODE') failure.retryable = false;
    return done(fail(failure), returned);
  }
}
