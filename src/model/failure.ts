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
 * {@link Failure}. Errors with `retryable === false` (such as `NonRetryableError`)
 * are marked not retryable.
 */
export function toFailure(thrown: unknown, depth = 0): Failure {
  if (thrown instanceof Error) {
    const withFields = thrown as Error & { code?: unknown; retryable?: unknown };
    const failure: Failure = {
      name: thrown.name || 'Error',
      message: thrown.message,
      retryable: withFields.retryable !== false,
    };
    if (thrown.stack !== undefined) failure.stack = thrown.stack;
    if (typeof withFields.code === 'string' || typeof withFields.code === 'number') {
      failure.code = String(withFields.code);
    }
    if (thrown.cause !== undefined && depth < MAX_CAUSE_DEPTH) {
      failure.cause = toFailure(thrown.cause, depth + 1);
    }
    return failure;
  }
  return { name: 'NonError', message: describeThrown(thrown), retryable: true };
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
