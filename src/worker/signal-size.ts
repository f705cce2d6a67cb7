/**
 * A worker's outcome signal against the transport's maximum message size: a
 * result too large fails its task, an error too large is cut short.
 *
 * @packageDocumentation
 */
import { TooLargeError } from '../errors.js';
import { toFailure, type Failure } from '../model/failure.js';
import { encodedBytes, surelyFits } from '../transport/limits.js';
import type { DispatchMessage, SignalMessage } from '../transport/port.js';

/**
 * The signal to send for `outcome`, the outcome of executing `dispatch`, given
 * the transport's maximum message size. A result whose signal is over it fails
 * the task at once, not retried (`TW_TOO_LARGE`): the broker would refuse the
 * signal, and the dispatch would be executed again until its delivery limit.
 * An error too large (a huge message or stack) is cut short instead: its name,
 * code and retryability are kept, its message truncated, its stack and causes dropped.
 */
export function fittedSignal(dispatch: DispatchMessage, outcome: SignalMessage, maxBytes: number): SignalMessage {
  if (outcome.type === 'rollback.succeeded' || outcome.type === 'task.heartbeat' || outcome.type === 'task.started' || surelyFits(outcome, maxBytes)) return outcome;
  const bytes = encodedBytes(outcome);
  if (bytes <= maxBytes) return outcome;
  if (outcome.type !== 'task.succeeded') return truncatedFailure(outcome, bytes, maxBytes);
  const error = toFailure(new TooLargeError(`the result of task "${dispatch.task}" (node "${dispatch.node}")`, bytes, maxBytes));
  delete error.stack; // where the worker noticed says nothing about the task
  const { result: _result, ...ref } = outcome;
  return { ...ref, type: 'task.failed', error };
}

/** Characters of an error message kept when the error is too large to travel. */
const TRUNCATED_MESSAGE_CHARS = 4096;

/**
 * A failure signal whose error is cut short to travel (see {@link fittedSignal}):
 * no stack, no cause, its message truncated to the longest prefix (of at most
 * {@link TRUNCATED_MESSAGE_CHARS} characters) with which the whole signal fits
 * `maxBytes`, however small the limit and whatever the characters.
 */
function truncatedFailure<S extends SignalMessage & { error: Failure }>(outcome: S, bytes: number, maxBytes: number): S {
  const note = `… (truncated: the error was ${bytes} bytes encoded, over the limit of ${maxBytes} bytes)`;
  const { error } = outcome;
  const short = (chars: number): S => {
    const failure: Failure = { name: error.name.slice(0, 200), message: `${error.message.slice(0, chars)}${note}`, retryable: error.retryable };
    if (error.code !== undefined) failure.code = error.code.slice(0, 200);
    return { ...outcome, error: failure };
  };
  let [fits, over] = [0, Math.min(error.message.length, TRUNCATED_MESSAGE_CHARS) + 1];
  while (over - fits > 1) {
    const mid = Math.floor((fits + over) / 2);
    if (encodedBytes(short(mid)) <= maxBytes) fits = mid;
    else over = mid;
  }
  return short(fits);
}
