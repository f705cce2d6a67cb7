/**
 * Failures cross the wire as data, never as live exceptions.
 *
 * @packageDocumentation
 */

/** A serialisable description of an error thrown by a task or by taskwire. */
export interface Failure {
  /** The error's class name (`TypeError`, `NonRetryableError`, ...), or `NonError` for thrown non-errors. */
  name: string;
  /** The error message. */
  message: string;
  /** Stack trace where known. */
  stack?: string;
  /** A stable code, when the error had one. */
  code?: string;
  /** False when the error must not be retried. */
  retryable: boolean;
  /** The cause, normalised the same way. */
  cause?: Failure;
}

const MAX_CAUSE_DEPTH = 5;

/**
 * Normalises anything thrown (an Error, a string, an object, `undefined`) into a
 * {@link Failure}. Errors and thrown objects with `retryable === false` (such as
 * `NonRetryableError`) are marked not retryable; their `code` is kept.
 */
export function toFailure(thrown: unknown, depth = 0): Failure {
  if (thrown instanceof Error) {
    const failure: Failure = { name: thrown.name || 'Error', message: thrown.message, ...markers(thrown) };
    if (thrown.stack !== undefined) failure.stack = thrown.stack;
    if (thrown.cause !== undefined && depth < MAX_CAUSE_DEPTH) {
      failure.cause = toFailure(thrown.cause, depth + 1);
    }
    return failure;
  }
  return { name: 'NonError', message: describeThrown(thrown), ...markers(thrown) };
}

/**
 * The `retryable` and `code` fields of anything thrown: an Error or a plain
 * object (`throw { retryable: false, code: 'E_QUOTA' }` fails at once too).
 */
function markers(thrown: unknown): Pick<Failure, 'retryable' | 'code'> {
  if (typeof thrown !== 'object' || thrown === null) return { retryable: true };
  const fields = thrown as { code?: unknown; retryable?: unknown };
  const code = typeof fields.code === 'string' || typeof fields.code === 'number' ? { code: String(fields.code) } : {};
  return { retryable: fields.retryable !== false, ...code };
}

function describeThrown(thrown: unknown): string {
  if (typeof thrown === 'string') return thrown;
  if (thrown === undefined) return 'undefined was thrown';
  try {
    return `non-error value thrown: ${JSON.stringify(thrown)}`;
  } catch {
    return `non-error value thrown: ${Object.prototype.toString.call(thrown)}`;
  }
}

/** Builds a failure raised by taskwire itself (not by task code). */
export function failure(name: string, message: string, code: string, retryable = false): Failure {
  return { name, message, code, retryable };
}
