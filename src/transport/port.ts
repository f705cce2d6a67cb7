/**
 * The transport port: how dispatches reach workers and signals come back to the
 * coordinators. One interface; adapters in-process (embedded) and AMQP
 * (RabbitMQ, distributed).
 *
 * @packageDocumentation
 */
import type { Json, JsonObject } from '../codec/json.js';
import type { Change, DispatchCommand, HistoryEntry } from '../engine/events.js';
import type { RunStatus } from '../engine/state.js';
import type { FlowDefinition } from '../model/definition.js';
import type { Failure } from '../model/failure.js';

/** A dispatch as it crosses the bus: the command plus tracing headers. */
export interface DispatchMessage extends DispatchCommand {
  /** W3C trace context of the dispatching span, if tracing is on. */
  traceparent?: string;
  /** When the dispatch was published (epoch ms), for dispatch-to-start latency. */
  sentAt?: number;
}

/** Fields every signal carries. */
interface SignalBase {
  /** Run id. */
  runId: string;
  /** Node id. */
  node: string;
  /** Attempt number. */
  attempt: number;
  /** Activation, for persistent listeners. */
  activation?: number;
  /** Worker identity (host/pid), for diagnostics. */
  worker: string;
}

/** The outcome of an apply or rollback, sent by a worker to the coordinators. */
export type SignalMessage =
  /** A worker started the execution at `startedAt` (its clock), sent once it has run a while (`WorkerOptions.reportStartAfterMs`). */
  | (SignalBase & { type: 'task.started'; startedAt: number })
  /** `startedAt`: when the worker started the execution (a start it has not reported yet, or reported). */
  | (SignalBase & { type: 'task.succeeded'; result: Json; startedAt?: number })
  | (SignalBase & { type: 'task.failed'; error: Failure; startedAt?: number })
  | (SignalBase & { type: 'rollback.succeeded' })
  | (SignalBase & { type: 'rollback.failed'; error: Failure })
  /** A long execution is still running: hold its lease for `leaseMs` more (see the worker's `leaseAfterMs`). */
  | (SignalBase & { type: 'task.heartbeat'; leaseMs: number });

/** Asks workers to abort executions of a run (or of one node, attempt or activation). */
export interface AbortMessage {
  /** Run id. */
  runId: string;
  /** Only this node, if set. */
  node?: string;
  /** Only this attempt of the node, if set (a node added in place of a removed one has other attempts). */
  attempt?: number;
  /** Only this activation, if set. */
  activation?: number;
}

/**
 * A client's event for the runs of one shard, sent to the shard's coordinator
 * (one writer per run, see docs/distributed.md). `eventId` makes it apply once
 * to each run (a start is idempotent by run id).
 */
export type RunRequest =
  /** Create and start run `runId` (the coordinator stamps its creation time). */
  /** `startAt`: a delayed start (epoch ms; the run is `scheduled` until then). */
  | { type: 'start'; runId: string; definition: FlowDefinition; inputs: JsonObject; validate: boolean; traceparent?: string; startAt?: number }
  /** Notifications, each of an event to its runs (every run of the request is of one shard): one outcome per run of each, in order. */
  | { type: 'notify'; notifications: Notification[] }
  /** Apply `changes` as one to run `runId`. */
  | { type: 'change'; runId: string; changes: Change[]; actor: string; eventId: string };

/** One notification of a notify request: event `event` with `payload` to the runs `runIds`, once per run by `eventId`. */
export interface Notification {
  /** The runs notified (at least one). */
  runIds: string[];
  /** The event's name. */
  event: string;
  /** The encoded payload. */
  payload: JsonObject;
  /** Applies once to each run. */
  eventId: string;
}

/** An error as it crosses the bus in a reply: rebuilt on the client by `name` and `code` (see `wire-error.ts`). */
export interface WireError {
  /** The error's class name (`ConflictError`). */
  name: string;
  /** Its stable code (`TW_CONFLICT`), if it has one. */
  code?: string;
  /** Its message. */
  message: string;
  /** Its other fields (`runId`, `problems`, ...), as JSON. */
  fields?: JsonObject;
}

/** What a request did to one run: the run after the step, or why it was refused. */
export type RunOutcome = { runId: string; status: RunStatus; graphVersion: number } | { runId: string; error: WireError };

/** The answer to a {@link RunRequest}: one outcome per run, in the request's order. */
export interface RunReply {
  /** One per run of the request. */
  outcomes: RunOutcome[];
}

/** A request taken by a shard's coordinator: settle it once, after replying (or give it back). */
export interface RequestDelivery extends Delivery<RunRequest> {
  /** Sends the answer to the client that asked (best effort: a client that gave up is gone). */
  reply(reply: RunReply): Promise<void>;
}

/** Options of {@link Transport.request}. */
export interface RequestOptions {
  /**
   * How long to wait for the answer, in ms: past it the request rejects with
   * `TW_TIMEOUT` (`RequestTimeoutError`), and a request no coordinator took by
   * then is dropped by the broker.
   */
  timeoutMs: number;
}

/** A message handed to a consumer; settle it exactly once. */
export interface Delivery<T> {
  /** The decoded body. */
  readonly body: T;
  /** True when the broker delivered it before (a worker died, a connection dropped). */
  readonly redelivered: boolean;
  /** Done with it: it will not come back. */
  ack(): void;
  /** Give it back to be delivered again (to this or another consumer). */
  requeue(): void;
  /**
   * Dead-letter it: it will not come back to a consumer, and the broker keeps it
   * in the dead-letter queue for an operator (in-process: logged and dropped).
   * For a message that can never be handled, so that redelivering it is pointless.
   */
  reject(): void;
}

/** A running consumer. */
export interface Subscription {
  /** Stops taking new messages; unsettled ones are given back by the broker. Resolves when handlers have returned. */
  cancel(): Promise<void>;
}

/** Options of {@link Transport.consumeDispatches}, {@link Transport.consumeSignals} and {@link Transport.consumeRequests}. */
export interface ConsumeOptions {
  /** Messages in flight at once (AMQP prefetch). Equal to the worker's concurrency. */
  prefetch: number;
  /**
   * {@link Transport.consumeSignals} and {@link Transport.consumeRequests}: the shard whose messages to consume
   * (0 to the transport's number of shards - 1, see `src/model/shard.ts`);
   * undefined: shard 0, the only one with one shard. A transport with one shard
   * (in-process) refuses any other. Ignored by {@link Transport.consumeDispatches}.
   */
  shard?: number;
}

/** How dispatches, signals, aborts and announcements travel. */
export interface Transport {
  /** A short name for logs (`inprocess`, `amqp`). */
  readonly kind: string;
  /** True when a published message survives a crash of the publisher (broker confirms). */
  readonly durable: boolean;
  /**
   * The largest encoded message carried, in bytes (see `src/transport/limits.ts`):
   * producers check what they make against it. Left out: `resolveMaxMessageBytes()`.
   */
  readonly maxMessageBytes?: number;
  /** Publishes dispatches to their queues; resolves when the broker holds them. */
  dispatch(messages: DispatchMessage[]): Promise<void>;
  /**
   * Publishes signals to the coordinators; resolves when the broker holds them.
   * Each signal goes to its run's shard, `shardOf(runId, shards)` (`src/model/shard.ts`),
   * whose consumer ({@link Transport.consumeSignals} with that `shard`) alone receives it.
   */
  signal(messages: SignalMessage[]): Promise<void>;
  /** Broadcasts aborts to every worker (best effort). */
  abort(messages: AbortMessage[]): Promise<void>;
  /** Publishes completion notifications on the topic exchange, routed by run and node (best effort). */
  announce(entries: HistoryEntry[]): Promise<void>;
  /** Worker side: takes dispatches from one work queue. */
  consumeDispatches(queue: string, options: ConsumeOptions, handler: (delivery: Delivery<DispatchMessage>) => void): Promise<Subscription>;
  /**
   * Coordinator side: takes the signals of shard `options.shard` (undefined: 0),
   * in batches of what has arrived. A durable transport also recovers signals
   * from its dead letters (see `delivery-limit.ts`) and sends each to its run's shard.
   */
  consumeSignals(options: ConsumeOptions, handler: (batch: Delivery<SignalMessage>[]) => void): Promise<Subscription>;
  /**
   * Client side: sends a request to the coordinator of shard `shard` and
   * resolves with its reply. Left out by transports whose clients step runs
   * themselves (in-process: the client's coordinator is the only writer).
   */
  request?(shard: number, request: RunRequest, options: RequestOptions): Promise<RunReply>;
  /**
   * Coordinator side: takes the requests of shard `options.shard` (undefined:
   * 0), in batches of what has arrived. Implemented with {@link Transport.request}.
   */
  consumeRequests?(options: ConsumeOptions, handler: (batch: RequestDelivery[]) => void): Promise<Subscription>;
  /** Worker side: receives aborts. */
  consumeAborts(handler: (message: AbortMessage) => void): Promise<Subscription>;
  /**
   * Outside listeners: receives announcements whose routing key matches
   * `pattern` (AMQP topic syntax; keys are `run.<runId>.<nodeId or $run>.<type>`).
   */
  subscribe(pattern: string, handler: (entry: HistoryEntry) => void): Promise<Subscription>;
  /**
   * Resolves once the signals published so far have been handed to the
   * coordinator's handler. Only transports that defer delivery in process
   * implement it (the in-process one); a coordinator closing calls it first.
   */
  flush?(): Promise<void>;
  /** Closes connections. Idempotent. */
  close(): Promise<void>;
}

/** The routing key of an announcement: `run.<runId>.<nodeId or $run>.<type>`. */
export function announcementKey(entry: HistoryEntry): string {
  return `run.${entry.runId}.${entry.node ?? '$run'}.${entry.type}`;
}
