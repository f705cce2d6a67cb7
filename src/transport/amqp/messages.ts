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
import { array, boolean, integer, json, jsonObject, literal, number, object, optional, string, type Schema } from '../../codec/schema.js';
import { ChangeSchema, FlowDefinitionSchema } from '../../codec/definitions.js';
import { DecodeError } from '../../errors.js';
import { NameSchema, NodeIdSchema } from '../../model/names.js';
import type { AbortMessage, DispatchMessage, RunOutcome, RunReply, RunRequest, SignalMessage, WireError } from '../port.js';

const id = NameSchema;
const nodeId = NodeIdSchema;
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
  node: nodeId,
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
  priority: optional(integer({ min: 0, max: 2 })),
});

const signalBase = { runId: id, node: nodeId, attempt, activation, worker: string() };

const signalVariants = {
  'task.started': object({ ...signalBase, type: literal('task.started'), startedAt: number() }),
  'task.succeeded': object({ ...signalBase, type: literal('task.succeeded'), result: json(), startedAt: optional(number()) }),
  'task.failed': object({ ...signalBase, type: literal('task.failed'), error: FailureSchema, startedAt: optional(number()) }),
  'rollback.succeeded': object({ ...signalBase, type: literal('rollback.succeeded') }),
  'rollback.failed': object({ ...signalBase, type: literal('rollback.failed'), error: FailureSchema }),
  'task.heartbeat': object({ ...signalBase, type: literal('task.heartbeat'), leaseMs: integer({ min: 1 }) }),
} satisfies Record<SignalMessage['type'], Schema<SignalMessage>>;

const signalType = object({ type: literal('task.started', 'task.succeeded', 'task.failed', 'rollback.succeeded', 'rollback.failed', 'task.heartbeat') });

/** A {@link SignalMessage}: the outcome of an apply or rollback, discriminated by `type`. */
export const SignalSchema: Schema<SignalMessage> = {
  expected: 'a signal',
  run(value, path) {
    const { type } = signalType.run(value, path);
    return signalVariants[type].run(value, path);
  },
};

/** An {@link AbortMessage}. */
export const AbortSchema: Schema<AbortMessage> = object({ runId: id, node: optional(nodeId), attempt: optional(attempt), activation });

const HISTORY_TYPES = [
  'run.scheduled',
  'run.started',
  'run.resumed',
  'run.status',
  'node.queued',
  'node.throttled',
  'gate.admitted',
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
  'scope.retrying',
  'scope.failed',
  'change',
] as const satisfies readonly HistoryType[];

/** A {@link HistoryEntry}, as announced on the events exchange. */
export const HistoryEntrySchema: Schema<HistoryEntry> = object({
  runId: id,
  seq: integer({ min: 0 }),
  at: number(),
  type: literal(...HISTORY_TYPES),
  graphVersion: integer({ min: 0 }),
  node: optional(nodeId),
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

const notification = object({ runIds: array(id), event: id, payload: jsonObject(), eventId: string({ minLength: 1, maxLength: 255 }) });
const notifyRequest = object({ type: literal('notify'), notifications: array(notification) });
const requestVariants = {
  start: object({ type: literal('start'), runId: id, definition: FlowDefinitionSchema, inputs: jsonObject(), validate: boolean(), traceparent: optional(string({ maxLength: 512 })), startAt: optional(number()) }),
  notify: {
    expected: 'a notify request',
    run(value, path) {
      const request = notifyRequest.run(value, path);
      if (request.notifications.length === 0) throw new DecodeError(`${path}.notifications: expected at least one notification`);
      request.notifications.forEach((n, i) => {
        if (n.runIds.length === 0) throw new DecodeError(`${path}.notifications[${i}].runIds: expected at least one run id`);
      });
      return request;
    },
  },
  change: object({ type: literal('change'), runId: id, changes: array(ChangeSchema), actor: string({ maxLength: 255 }), eventId: string({ minLength: 1, maxLength: 255 }) }),
} satisfies Record<RunRequest['type'], Schema<RunRequest>>;

const requestType = object({ type: literal('start', 'notify', 'change') });

/** A {@link RunRequest}, discriminated by `type`: the flow definition and changes checked as the client's decoders check them. */
export const RunRequestSchema: Schema<RunRequest> = {
  expected: 'a request',
  run(value, path) {
    const { type } = requestType.run(value, path);
    return requestVariants[type].run(value, path);
  },
};

/** A request as it travels: where to answer (`replyTo`, a reply queue of the prefix) and the id the answer carries. */
export interface RequestEnvelope {
  /** The client's reply queue. */
  replyTo: string;
  /** Matches the reply to its request. */
  correlationId: string;
  /** What is asked. */
  request: RunRequest;
}

/** A {@link RequestEnvelope}. */
export const RequestEnvelopeSchema: Schema<RequestEnvelope> = object({ replyTo: string({ minLength: 1, maxLength: 255 }), correlationId: string({ minLength: 1, maxLength: 64 }), request: RunRequestSchema });

const WireErrorSchema: Schema<WireError> = object({ name: string({ maxLength: 200 }), code: optional(string({ maxLength: 64 })), message: string(), fields: optional(jsonObject()) });
const failedOutcome = object({ runId: id, error: WireErrorSchema });
const steppedOutcome = object({ runId: id, status: literal(...RUN_STATUSES), graphVersion: integer({ min: 0 }) });

/** A {@link RunOutcome}: an error, or the run after the step. */
const RunOutcomeSchema: Schema<RunOutcome> = {
  expected: 'a run outcome',
  run(value, path) {
    return typeof value === 'object' && value !== null && 'error' in value ? failedOutcome.run(value, path) : steppedOutcome.run(value, path);
  },
};

/** An answer as it travels: the request's `correlationId` and the {@link RunReply}. */
export interface ReplyEnvelope {
  /** The `correlationId` of the request answered. */
  correlationId: string;
  /** The answer. */
  reply: RunReply;
}

/** A {@link ReplyEnvelope}. */
export const ReplyEnvelopeSchema: Schema<ReplyEnvelope> = object({ correlationId: string({ minLength: 1, maxLength: 64 }), reply: object({ outcomes: array(RunOutcomeSchema) }) });
