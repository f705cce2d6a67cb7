/**
 * Schemas of the messages that cross RabbitMQ. Every body taken from a queue is
 * parsed with `parseJson` (size and depth limits) and then checked here before
 * any handler sees it; the checked value is a fresh object holding only the
 * known fields.
 *
 * @packageDocumentation
 */
import type { HistoryEntry, HistoryType } from '../../engine/events.js';
import { RUN_STATUSES } from '../../engine/state.js';
import type { Failure } from '../../model/failure.js';
import { boolean, integer, json, jsonObject, literal, number, object, optional, string, type Schema } from '../../codec/schema.js';
import { NameSchema } from '../../model/names.js';
import type { AbortMessage, DispatchMessage, SignalMessage } from '../port.js';

const id = NameSchema;
const attempt = integer({ min: 0 });
const activation = optional(integer({ min: 0 }));

const failureShape = {
  name: string(),
  message: string(),
  stack: optional(string()),
  code: optional(string()),
  retryable: boolean(),
  // Recursion through a thunk; depth is already bounded by parseJson's depth limit.
  cause: optional<Failure>({ expected: 'a failure', run: (value, path) => FailureSchema.run(value, path) }),
};

/** A {@link Failure}: an error as data, with its chain of causes. */
export const FailureSchema: Schema<Failure> = object(failureShape);

/** A {@link DispatchMessage}: a dispatch command plus tracing fields. */
export const DispatchSchema: Schema<DispatchMessage> = object({
  type: literal('dispatch'),
  kind: literal('apply', 'rollback'),
  runId: id,
  node: id,
  attempt,
  activation,
  task: id,
  inputs: jsonObject(),
  timeoutMs: integer({ min: 0 }),
  queue: id,
  result: optional(json()),
  error: optional(FailureSchema),
  traceparent: optional(string({ maxLength: 512 })),
  sentAt: optional(number()),
});

const signalBase = { runId: id, node: id, attempt, activation, worker: string() };

const signalVariants = {
  'task.succeeded': object({ ...signalBase, type: literal('task.succeeded'), result: json() }),
  'task.failed': object({ ...signalBase, type: literal('task.failed'), error: FailureSchema }),
  'rollback.succeeded': object({ ...signalBase, type: literal('rollback.succeeded') }),
  'rollback.failed': object({ ...signalBase, type: literal('rollback.failed'), error: FailureSchema }),
  'task.heartbeat': object({ ...signalBase, type: literal('task.heartbeat'), leaseMs: integer({ min: 1 }) }),
} satisfies Record<SignalMessage['type'], Schema<SignalMessage>>;

const signalType = object({ type: literal('task.succeeded', 'task.failed', 'rollback.succeeded', 'rollback.failed', 'task.heartbeat') });

/** A {@link SignalMessage}: the outcome of an apply or rollback, discriminated by `type`. */
export const SignalSchema: Schema<SignalMessage> = {
  expected: 'a signal',
  run(value, path) {
    const { type } = signalType.run(value, path);
    return signalVariants[type].run(value, path);
  },
};

/** An {@link AbortMessage}. */
export const AbortSchema: Schema<AbortMessage> = object({ runId: id, node: optional(id), attempt: optional(attempt), activation });

const HISTORY_TYPES = [
  'run.started',
  'run.resumed',
  'run.status',
  'node.started',
  'node.succeeded',
  'node.failed',
  'node.retrying',
  'node.cancelled',
  'node.skipped',
  'rollback.started',
  'rollback.succeeded',
  'rollback.failed',
  'event.notified',
  'change',
] as const satisfies readonly HistoryType[];

/** A {@link HistoryEntry}, as announced on the events exchange. */
export const HistoryEntrySchema: Schema<HistoryEntry> = object({
  runId: id,
  seq: integer({ min: 0 }),
  at: number(),
  type: literal(...HISTORY_TYPES),
  graphVersion: integer({ min: 0 }),
  node: optional(id),
  attempt: optional(attempt),
  activation,
  actor: optional(string()),
  status: optional(literal(...RUN_STATUSES)),
  detail: optional(jsonObject()),
});

// Compile-time guard: the list above must cover the union of events.ts.
type Missing<All, Listed> = Exclude<All, Listed>;
const historyTypesComplete: Missing<HistoryType, (typeof HISTORY_TYPES)[number]> extends never ? true : never = true;
void historyTypesComplete;
