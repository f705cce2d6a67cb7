/**
 * Executes one dispatch: decodes the inputs, runs the task's apply (or rollback)
 * with a timeout and an AbortSignal, encodes the result, and returns the signal
 * to send back. Never throws: every failure becomes a `task.failed` signal.
 *
 * @packageDocumentation
 */
import { randomUUID } from 'node:crypto';
import { systemClock, type Clock } from '../coordinator/clock.js';
import type { Json } from '../codec/json.js';
import { decodeValue, encodeValue } from '../codec/value.js';
import { TimeoutError, UnknownTaskError } from '../errors.js';
import { toFailure, type Failure } from '../model/failure.js';
import { checkProvided } from '../model/result.js';
import type { TaskContext } from '../model/task.js';
import type { DispatchMessage, SignalMessage } from '../transport/port.js';
import type { ExecutionAbort } from './execution-abort.js';
import type { TaskRegistry } from './registry.js';

/** An attempt under way: its outcome, and when its code has actually returned. */
interface Attempt {
  /** Settles with the result, the task's error, a timeout or an abort, whichever comes first. */
  outcome?: Promise<unknown>;
  /** The result of a task that returned a value in time (no promise to wait for); `outcome` is unset then. */
  value?: unknown;
  /** Settles when the task's code has returned (later than `outcome` when it ignores its signal); undefined: it has returned. */
  returned?: Promise<void>;
}

const ignore = (): void => undefined;

/** Whether a value is a promise of another library (awaited as one, like a native promise). */
function isThenable(value: unknown): boolean {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/**
 * Runs the task's code until it settles, the execution is aborted (cancel,
 * shutdown) or the timeout fires (then its signal aborts with a TimeoutError).
 * A synchronous task cannot be interrupted: one that returns after its timeout
 * fails with the TimeoutError all the same. The code gets where its signal
 * comes from: without a timeout the execution's own (created only if the task
 * reads it), with one a controller of the attempt's that the execution's abort
 * is forwarded to. Without a timeout, a task that returned a value gives it
 * back as it is (`execute` checks that first, without an attempt object).
 */
function attemptOf(call: Call, outer: ExecutionAbort, clock: Clock): Attempt {
  if (outer.aborted) return { outcome: Promise.reject(outer.reason) };
  const { timeoutMs } = call.message;
  const controller = timeoutMs > 0 ? new AbortController() : undefined;
  const startedAt = controller === undefined ? 0 : clock.now();
  let work: unknown;
  try {
    work = callTask(call, controller ?? outer);
  } catch (thrown) {
    return { outcome: Promise.reject(thrown) };
  }
  const left = timeoutMs - (clock.now() - startedAt);
  if (controller !== undefined && left <= 0) {
    // The task blocked past its timeout before returning (a synchronous task, or
    // an async one that did its work before its first await).
    controller.abort(new TimeoutError(call.task.name, timeoutMs));
    const outcome = Promise.reject(controller.signal.reason as Error);
    if (!(work instanceof Promise)) return { outcome };
    work.catch(ignore);
    return { outcome, returned: work.then(ignore, ignore) };
  }
  if (!(work instanceof Promise)) return isThenable(work) ? { outcome: Promise.resolve(work) } : { value: work };
  if (controller === undefined) return raced(work, outer);
  const pending = work;
  let timer: unknown;
  let onAbort: (() => void) | undefined;
  let offOuter: (() => void) | undefined;
  const outcome = new Promise<unknown>((resolve, reject) => {
    const signal = controller.signal;
    onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    offOuter = outer.onAbort((reason) => controller.abort(reason));
    timer = clock.setTimeout(() => controller.abort(new TimeoutError(call.task.name, timeoutMs)), left);
    pending.then(resolve, reject);
  }).finally(() => {
    clock.clearTimeout(timer);
    if (onAbort !== undefined) controller.signal.removeEventListener('abort', onAbort);
    offOuter?.();
  });
  return { outcome, returned: pending.then(ignore, ignore) };
}

/** What calling a task's code needs (see {@link callTask}). */
interface Call {
  message: DispatchMessage;
  task: RegisteredTask;
  inputs: Record<string, unknown>;
  rollback: boolean;
}

/** A registered task, as the executor uses it. */
type RegisteredTask = NonNullable<ReturnType<TaskRegistry['get']>>;

/** Calls the task's apply (or rollback) with a new context whose signal comes from `signals`. */
function callTask({ message, task, inputs, rollback }: Call, signals: Signals): unknown {
  const context: TaskContext = new ExecutionContext(message, task.name, signals);
  if (!rollback) return task.apply(inputs, context);
  const rollbackContext = Object.assign(context, { result: message.result === undefined ? undefined : decodeValue(message.result), error: message.error });
  return (task.rollback as NonNullable<typeof task.rollback>)(inputs, rollbackContext);
}

/** Where an execution's `signal` comes from (see {@link attemptOf}). */
type Signals = { readonly signal: AbortSignal };

/**
 * The context of one execution. `executionId` and `signal` are made when first
 * read (most tasks read neither): a UUID and an AbortController per task are
 * measurable on the embedded hot path. Both are own enumerable getters, so a
 * spread or destructured context still carries their values. They are
 * defined from shared descriptors, so that every context has the same shape:
 * an object literal's getters are new closures and a new hidden class per
 * context (~0.65 us and ~0.7 KB, against ~0.18 us here).
 */
class ExecutionContext {
  readonly runId: string;
  readonly nodeId: string;
  readonly task: string;
  readonly attempt: number;
  readonly activation: number | undefined;
  declare readonly executionId: string;
  declare readonly signal: AbortSignal;
  #executionId: string | undefined;
  readonly #signals: Signals;

  constructor(message: DispatchMessage, task: string, signals: Signals) {
    this.runId = message.runId;
    this.nodeId = message.node;
    this.task = task;
    this.attempt = message.attempt;
    this.activation = message.activation;
    this.#signals = signals;
    // Two defineProperty calls cost half of one defineProperties (~0.17 against ~0.35 us).
    Object.defineProperty(this, 'executionId', ExecutionContext.EXECUTION_ID);
    Object.defineProperty(this, 'signal', ExecutionContext.SIGNAL);
  }

  /** The getter of `executionId`, shared by every context. */
  private static readonly EXECUTION_ID: PropertyDescriptor = {
    enumerable: true,
    get(this: ExecutionContext): string {
      return (this.#executionId ??= randomUUID());
    },
  };

  /** The getter of `signal`, shared by every context. */
  private static readonly SIGNAL: PropertyDescriptor = {
    enumerable: true,
    get(this: ExecutionContext): AbortSignal {
      return this.#signals.signal;
    },
  };
}

/** What {@link execute} gives back. */
export interface Execution {
  /** The signal to send. */
  signal: SignalMessage;
  /**
   * Settles when the task's code has returned; undefined when it has already.
   * Later than the signal when the attempt timed out or was aborted and the
   * task ignored its AbortSignal: the worker keeps counting it in its
   * concurrency until then.
   */
  returned?: Promise<void>;
}

/**
 * The signal of an execution's outcome, built in one literal. Not
 * `{ ...ref, type }`: V8 runs an object spread followed by a property the
 * spread object lacks through a slow path, ~1 µs and a new hidden class per
 * object (the executor's whole cost, on the embedded hot path, before).
 * A module function: a closure per execution costs there too.
 */
function signalOf(message: DispatchMessage, worker: string, type: SignalMessage['type'], outcome?: { result: Json } | { error: Failure }): SignalMessage {
  const signal = { runId: message.runId, node: message.node, attempt: message.attempt, worker, type } as SignalMessage;
  if (message.activation !== undefined) signal.activation = message.activation;
  if (outcome !== undefined) Object.assign(signal, outcome);
  return signal;
}

/** The signal of a task that succeeded with `result` (encoded), in one literal. */
function succeededSignal(message: DispatchMessage, worker: string, result: Json): SignalMessage {
  const signal: SignalMessage = { runId: message.runId, node: message.node, attempt: message.attempt, worker, type: 'task.succeeded', result };
  if (message.activation !== undefined) signal.activation = message.activation;
  return signal;
}

/** The failure signal of an execution. */
function failed(message: DispatchMessage, worker: string, rollback: boolean, error: Failure): SignalMessage {
  return signalOf(message, worker, rollback ? 'rollback.failed' : 'task.failed', { error });
}

/**
 * Executes a dispatch with the registry's code and returns the signal to send:
 * at once (not a promise) when the task's code returned a value, not a
 * promise, so that a synchronous task costs no promise, async frame or
 * microtask; a promise otherwise. `abort` fires when the run is cancelled or
 * the worker stops; `clock` times the task's timeout.
 */
export function execute(message: DispatchMessage, registry: TaskRegistry, worker: string, abort: ExecutionAbort, clock: Clock = systemClock): Execution | Promise<Execution> {
  const rollback = message.kind === 'rollback';
  const task = registry.get(message.task);
  if (task === undefined) {
    return { signal: failed(message, worker, rollback, { ...toFailure(new UnknownTaskError(message.task, `worker "${worker}"`)), retryable: false }) };
  }
  if (rollback && task.rollback === undefined) return { signal: signalOf(message, worker, 'rollback.succeeded') };
  let call: Call;
  try {
    call = { message, task, inputs: decodeValue(message.inputs) as Record<string, unknown>, rollback };
  } catch (thrown) {
    return { signal: failure(message, worker, rollback, thrown) };
  }
  if (message.timeoutMs <= 0 && !abort.aborted) {
    // No timeout (most tasks): the code is called here, and a value it returns
    // taken as it is: no attempt object, promise or microtask per execution.
    let work: unknown;
    try {
      work = callTask(call, abort);
    } catch (thrown) {
      return { signal: failure(message, worker, rollback, thrown) };
    }
    if (!isThenable(work)) return outcomeOf(call, worker, work, undefined);
    return settled(call, worker, work instanceof Promise ? raced(work, abort) : { outcome: Promise.resolve(work) });
  }
  const attempt = attemptOf(call, abort, clock);
  if (attempt.outcome === undefined) return outcomeOf(call, worker, attempt.value, attempt.returned);
  return settled(call, worker, attempt);
}

/** The execution once an attempt's outcome settles. */
function settled(call: Call, worker: string, { outcome, returned }: Attempt): Promise<Execution> {
  return (outcome as Promise<unknown>).then(
    (result) => outcomeOf(call, worker, result, returned),
    (thrown: unknown) => ({ signal: failure(call.message, worker, call.rollback, thrown), returned }),
  );
}

/** The attempt of a task without a timeout whose code returned a promise: it settles with the promise, or when the execution is aborted. */
function raced(pending: Promise<unknown>, outer: ExecutionAbort): Attempt {
  let offOuter: (() => void) | undefined;
  const outcome = new Promise<unknown>((resolve, reject) => {
    offOuter = outer.onAbort(reject);
    pending.then(resolve, reject);
  }).finally(() => offOuter?.());
  return { outcome, returned: pending.then(ignore, ignore) };
}

/** The execution of an attempt that gave `result`: its result checked and encoded (a failure if that throws). */
function outcomeOf({ message, task, rollback }: Call, worker: string, result: unknown, returned: Promise<void> | undefined): Execution {
  try {
    if (rollback) return { signal: signalOf(message, worker, 'rollback.succeeded'), returned };
    checkProvided(task.name, task.provides, result);
    const encoded = encodeValue(result, `task "${task.name}" (node "${message.node}")`);
    return { signal: succeededSignal(message, worker, encoded), returned };
  } catch (thrown) {
    return { signal: failure(message, worker, rollback, thrown), returned };
  }
}

/** The failure signal of an execution that threw `thrown` (its task, or checking or encoding its result). */
function failure(message: DispatchMessage, worker: string, rollback: boolean, thrown: unknown): SignalMessage {
  const recorded = toFailure(thrown);
  // An encode error is a bug in the task's result: retrying cannot fix it.
  if ((thrown as { code?: unknown })?.code === 'TW_ENCODE') recorded.retryable = false;
  return failed(message, worker, rollback, recorded);
}
