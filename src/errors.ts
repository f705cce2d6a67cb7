/**
 * Errors raised by taskwire. Every error carries a stable string `code`; callers
 * should check `code`, not `instanceof` (two copies of the package in one process
 * break `instanceof`).
 *
 * @packageDocumentation
 */

/** Stable error codes. */
export type ErrorCode =
  | 'TW_VALIDATION'
  | 'TW_CYCLE'
  | 'TW_UNKNOWN_TASK'
  | 'TW_UNKNOWN_NODE'
  | 'TW_UNKNOWN_RUN'
  | 'TW_UNKNOWN_SCHEDULE'
  | 'TW_INVALID_CHANGE'
  | 'TW_ENCODE'
  | 'TW_DECODE'
  | 'TW_TIMEOUT'
  | 'TW_RESULT'
  | 'TW_CANCELLED'
  | 'TW_TASK_FAILED'
  | 'TW_STALLED'
  | 'TW_CONFIG'
  | 'TW_CONFLICT'
  | 'TW_FENCED'
  | 'TW_CLOSED'
  | 'TW_TRANSPORT'
  | 'TW_STORE'
  | 'TW_INTERNAL'
  | 'TW_DELIVERY_LIMIT'
  | 'TW_PARTIAL'
  | 'TW_TOO_LARGE'
  | 'TW_UNAUTHORIZED'
  | 'TW_FORBIDDEN'
  | 'TW_NOT_FOUND'
  | 'TW_MAP_INPUT'
  | 'TW_CONDITION';

/** Base class of every error taskwire throws. */
export class TaskwireError extends Error {
  /** A stable code, safe to compare against. */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** One problem found while validating a flow or a change to a run. */
export interface ValidationProblem {
  /** What kind of problem this is. */
  kind:
    | 'cycle'
    | 'missing-input'
    | 'duplicate-provider'
    | 'duplicate-node'
    | 'unknown-task'
    | 'unknown-condition'
    | 'unknown-node'
    | 'invalid';
  /** The node ids involved (for a cycle: the cycle's path, first node repeated at the end). */
  nodes: string[];
  /** Human readable description naming the nodes at fault. */
  message: string;
}

/** A flow, or a change to a running flow, is not valid. Lists every problem found. */
export class ValidationError extends TaskwireError {
  /** Every problem found, in a stable order. */
  readonly problems: ValidationProblem[];

  constructor(problems: ValidationProblem[], subject = 'flow') {
    super(
      problems.some((p) => p.kind === 'cycle') && problems.length === 1 ? 'TW_CYCLE' : 'TW_VALIDATION',
      `invalid ${subject}: ${problems.map((p) => p.message).join('; ')}`,
    );
    this.problems = problems;
  }
}

/** A task name that no registry (or worker) knows. */
export class UnknownTaskError extends TaskwireError {
  constructor(
    /** The task name that was asked for. */
    readonly task: string,
    where = 'this process',
  ) {
    super('TW_UNKNOWN_TASK', `unknown task "${task}": it is not registered in ${where}`);
  }
}

/** A node id that the flow or run does not contain. */
export class UnknownNodeError extends TaskwireError {
  constructor(
    /** The node id that was asked for. */
    readonly node: string,
    /** The run (or flow) that was searched. */
    readonly scope: string,
  ) {
    super('TW_UNKNOWN_NODE', `unknown node "${node}" in ${scope}`);
  }
}

/** A run id that the store does not hold. */
export class UnknownRunError extends TaskwireError {
  constructor(
    /** The run id that was asked for. */
    readonly runId: string,
  ) {
    super('TW_UNKNOWN_RUN', `unknown run "${runId}"`);
  }
}

/** A schedule name that the store does not hold. */
export class UnknownScheduleError extends TaskwireError {
  constructor(
    /** The schedule name that was asked for. */
    readonly schedule: string,
  ) {
    super('TW_UNKNOWN_SCHEDULE', `unknown schedule "${schedule}"`);
  }
}

/**
 * The input a map node fans out over (its `each` input) does not hold a list:
 * the node fails without retries, and no child runs.
 */
export class MapInputError extends TaskwireError {
  /** The node fails without retries: its input will not change by trying again. */
  readonly retryable = false;

  constructor(
    /** The map node. */
    readonly node: string,
    /** Its `each` input. */
    readonly input: string,
    got: string,
  ) {
    super('TW_MAP_INPUT', `node "${node}" maps over its input "${input}", which must be a list; got ${got}`);
  }
}

/** A change to a running flow that cannot be applied; nothing was changed. */
export class InvalidChangeError extends TaskwireError {
  constructor(message: string) {
    super('TW_INVALID_CHANGE', message);
  }
}

/** A value that the codec cannot encode, with the path to it. */
export class EncodeError extends TaskwireError {
  constructor(
    message: string,
    /** Where in the value the problem is, as a JSON-path-like string (`$.a[2].b`). */
    readonly path: string,
  ) {
    super('TW_ENCODE', message);
  }
}

/** Bytes or JSON that cannot be decoded into a valid message or value. */
export class DecodeError extends TaskwireError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TW_DECODE', message, options);
  }
}

/** Bad configuration or options passed to a public function. */
export class ConfigError extends TaskwireError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TW_CONFIG', message, options);
  }
}

/** A task's apply ran longer than its timeout. */
export class TimeoutError extends TaskwireError {
  constructor(
    /** The task that timed out. */
    readonly task: string,
    /** The timeout that was exceeded, in milliseconds. */
    readonly timeoutMs: number,
  ) {
    super('TW_TIMEOUT', `task "${task}" timed out after ${timeoutMs} ms`);
  }
}

/**
 * A client's request (a start, notify or change sent to the coordinator of the
 * run's shard) got no answer in time: no coordinator owns the shard (none is
 * running for this store and prefix, or the shard is changing hands), or it is
 * overloaded. A request no coordinator took by then is dropped; one taken at the
 * last moment may still be applied, so retry with the same ids (start: the same
 * run id; notify: the same event id), which apply at most once.
 */
export class RequestTimeoutError extends TaskwireError {
  constructor(
    /** What was asked (`start of run "r"`). */
    readonly what: string,
    /** The shard whose coordinator did not answer. */
    readonly shard: number,
    /** How long the client waited, in ms (`connect({ requestTimeoutMs })`). */
    readonly timeoutMs: number,
  ) {
    super(
      'TW_TIMEOUT',
      `no coordinator answered the ${what} within ${timeoutMs} ms (shard ${shard}): is a coordinator (taskwire worker or taskwire coordinator) running for this store and prefix? ` +
        'Retrying with the same run id (start) or event id (notify) is safe',
    );
  }
}

/**
 * A task's result does not match its `provides`: with several names, the result
 * must be an object holding a field for each. Not retryable: the code is at fault.
 */
export class ResultError extends TaskwireError {
  /** The node is failed without retries. */
  readonly retryable = false;

  constructor(
    /** The task whose result is wrong. */
    readonly task: string,
    /** The provided names the result lacks. */
    readonly missing: readonly string[],
    got: string,
  ) {
    super('TW_RESULT', `task "${task}" provides ${missing.length === 1 ? 'a name' : 'names'} its result lacks: ${missing.map((m) => `"${m}"`).join(', ')} (the result must be an object with a field per provided name; got ${got})`);
  }
}

/** The run or node was cancelled. */
export class CancelledError extends TaskwireError {
  constructor(message = 'cancelled') {
    super('TW_CANCELLED', message);
  }
}

/**
 * A run could not take the change because of another writer: `start` under an
 * id that already holds another flow (or other inputs), or a run that kept
 * changing concurrently until the coordinator gave up retrying.
 */
export class ConflictError extends TaskwireError {
  constructor(
    /** The run in conflict. */
    readonly runId: string,
    message = `run "${runId}" was changed concurrently`,
  ) {
    super('TW_CONFLICT', message);
  }
}

/**
 * A commit of a coordinator that is no longer the active one: another
 * coordinator was elected since (its leader epoch is newer). Nothing of the
 * commit was written; the deposed coordinator stands by.
 */
export class FencedError extends TaskwireError {
  constructor(
    /** The election (lock name). */
    readonly election: string,
    /** The epoch the commit carried. */
    readonly epoch: number,
    /** The epoch the store holds (undefined: no coordinator was ever elected there). */
    readonly current: number | undefined,
  ) {
    super(
      'TW_FENCED',
      `commit refused: the coordinator elected with epoch ${epoch} of "${election}" was deposed (the store holds epoch ${current ?? 'none'}); it stands by`,
    );
  }
}

/** The client, store or transport was used after close(). */
export class ClosedError extends TaskwireError {
  constructor(what: string) {
    super('TW_CLOSED', `${what} is closed`);
  }
}

/** The bus refused or lost a message (not confirmed, unroutable, connection closed). */
export class TransportError extends TaskwireError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TW_TRANSPORT', message, options);
  }
}

/**
 * A dispatch reached the broker's delivery limit (`x-delivery-limit`) and was
 * dead-lettered: every worker that took it died (or gave it back) before it
 * finished. Retryable: the node's retry policy decides what happens next.
 */
export class DeliveryLimitError extends TaskwireError {
  /** Always retryable: another attempt may succeed where this delivery kept failing. */
  readonly retryable = true;

  constructor(message: string) {
    super('TW_DELIVERY_LIMIT', message);
  }
}

/**
 * A message made by taskwire (a dispatch, a task's result in its signal) is larger, encoded,
 * than the maximum message size (`maxMessageBytes`, `TASKWIRE_MAX_MESSAGE_BYTES`).
 * Not retryable: the same work would make the same value.
 */
export class TooLargeError extends TaskwireError {
  /** Never retryable. */
  readonly retryable = false;

  constructor(
    /** What is too large, naming the task (`the result of task "x" (node "n")`). */
    readonly what: string,
    /** Its encoded size in bytes. */
    readonly bytes: number,
    /** The maximum in bytes. */
    readonly maxBytes: number,
  ) {
    super('TW_TOO_LARGE', `${what} is ${bytes} bytes encoded, over the limit of ${maxBytes} bytes (maxMessageBytes, TASKWIRE_MAX_MESSAGE_BYTES)`);
  }
}

/** The store cannot be reached or refused an operation (the driver's own code, if any, is in `reason`). */
export class StoreError extends TaskwireError {
  constructor(
    message: string,
    /** The driver's error code (`ECONNREFUSED`, a SQLSTATE, ...), when there is one. */
    readonly reason?: string,
  ) {
    super('TW_STORE', message);
  }
}

/**
 * A row read back from a store is not what the store writes (not JSON, not an
 * object, a field missing or of the wrong type): the database was edited by
 * hand or is corrupt. Nothing of the run is returned.
 */
export class CorruptRowError extends StoreError {
  constructor(
    /** The table holding the row (`runs`, `nodes`, `activations`, `backlog`, `history`, `outbox`, `tasks`). */
    readonly table: string,
    /** The run the row belongs to (the task name for `tasks`). */
    readonly runId: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`corrupt ${table} row of ${table === 'tasks' ? 'task' : 'run'} "${runId}": ${message}; restore the row or delete the run`, 'corrupt-row');
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/**
 * `Client.notify` reached some of the runs listening to the event but not all:
 * says which were notified and why the others were not. Notifying again with
 * the same event id (`NotifyOptions.id`) reaches only those that were not.
 */
export class PartialNotifyError extends TaskwireError {
  constructor(
    /** The event notified. */
    readonly event: string,
    /** Runs that received the notification. */
    readonly notified: string[],
    /** Runs that did not, each with its error. */
    readonly failed: { runId: string; error: unknown }[],
  ) {
    const reasons = failed.map((f) => `${f.runId} (${f.error instanceof Error ? f.error.message : String(f.error)})`).join(', ');
    super('TW_PARTIAL', `event "${event}" notified ${notified.length} of ${notified.length + failed.length} runs; not notified: ${reasons}`);
  }
}

/**
 * Throw this from a task's apply to fail the node at once, without retries
 * (as BullMQ's `UnrecoverableError` or Temporal's `nonRetryable`).
 */
export class NonRetryableError extends Error {
  /** Always false: the engine does not retry this error. */
  readonly retryable = false;
  /** Optional stable code chosen by the task author. */
  readonly code: string | undefined;

  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(message, options);
    this.name = 'NonRetryableError';
    this.code = options?.code;
  }
}

/** A dashboard request without a known token (HTTP 401). */
export class UnauthorizedError extends TaskwireError {
  constructor(message = 'a dashboard token is required: Authorization: Bearer <token>') {
    super('TW_UNAUTHORIZED', message);
  }
}

/** A dashboard request its token's role may not make, or a cross-site one (HTTP 403). */
export class ForbiddenError extends TaskwireError {
  constructor(message: string) {
    super('TW_FORBIDDEN', message);
  }
}

/** A dashboard path or object that does not exist (HTTP 404), other than a run or a node (`TW_UNKNOWN_RUN`, `TW_UNKNOWN_NODE`). */
export class NotFoundError extends TaskwireError {
  constructor(message: string) {
    super('TW_NOT_FOUND', message);
  }
}

/**
 * A link's condition could not decide (its predicate threw, returned something
 * other than a boolean, or is not registered in the coordinator): the link's
 * listener fails with this code, naming the condition, the link and the run.
 */
export class ConditionError extends TaskwireError {
  constructor(
    /** The condition's registered name. */
    readonly condition: string,
    /** The link's source node id. */
    readonly from: string,
    /** The link's listener node id. */
    readonly to: string,
    /** The run. */
    readonly runId: string,
    /** What went wrong. */
    reason: string,
  ) {
    super('TW_CONDITION', `condition "${condition}" of link "${from}" -> "${to}" in run "${runId}" ${reason}`);
  }
}
