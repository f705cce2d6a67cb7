/**
 * Nodes: one use of a task, or of an event source, inside a flow.
 *
 * @packageDocumentation
 */
import { encodeValue } from '../codec/value.js';
import { ConfigError } from '../errors.js';
import type { JsonObject } from '../codec/json.js';
import type { NodeDefinition, RetryPolicy } from './definition.js';
import { resolveRetry, type RetryOption } from './retry.js';
import { checkInputNames, checkName } from './names.js';
import { resolveMapOptions, type MapFields, type MapOptions } from './map.js';
import { checkKeys, optionKeys } from './options.js';
import type { AnyTask, TaskInputs } from './task.js';
import { checkPriority, type Priority } from './flow-control.js';

/** Per-node options of `task.s(bound, options)`. */
export interface NodeOptions extends MapOptions {
  /**
   * Node id, unique in its flow.
   * @default the task's name
   */
  id?: string;
  /**
   * Run once per notification of any source, for as long as the run lives.
   * @default false
   */
  persistent?: boolean;
  /** Overrides the task's retry policy for this node. */
  retry?: RetryOption;
  /** Overrides the task's timeout for this node (milliseconds, 0 for none). */
  timeoutMs?: number;
  /** Overrides the task's queue for this node. */
  queue?: string;
  /**
   * How early its executions go before other waiting work (at a limit, and in
   * the queues): `high` overtakes queued `normal` and `low` work.
   * @default the run's priority (`start(..., { priority })`), else `normal`
   */
  priority?: Priority;
}

const NODE_KEYS = optionKeys<NodeOptions>({ id: true, persistent: true, retry: true, timeoutMs: true, queue: true, each: true, concurrency: true, collect: true, priority: true });

/** One use of a task in a flow. Create one with `task.s(...)`. */
export class TaskNode<I extends TaskInputs = TaskInputs, O = unknown> {
  /** Always `task`. */
  readonly kind = 'task' as const;
  /** Node id, unique in its flow. */
  readonly id: string;
  /** Bound inputs, already encoded as JSON. */
  readonly bound: JsonObject;
  /** Whether the node is a persistent listener. */
  readonly persistent: boolean;
  private readonly retry: RetryPolicy;
  private readonly timeoutMs: number;
  private readonly queue: string;
  private readonly priority: Priority | undefined;
  private readonly map: MapFields;
  /** Phantom field carrying the input and output types; never set. */
  declare readonly types?: { inputs: I; output: O };

  /** @internal use `task.s()` */
  constructor(
    /** The task this node runs. */
    readonly task: AnyTask,
    bound: Partial<I>,
    options: NodeOptions,
  ) {
    this.id = checkName(options.id ?? task.name, `node of task "${task.name}": id`);
    checkKeys(options, NODE_KEYS, `node "${this.id}"`);
    this.bound = checkInputNames(encodeValue(bound, `the bound inputs of node "${this.id}"`) as JsonObject, `node "${this.id}": bound`);
    this.persistent = options.persistent ?? false;
    this.retry = options.retry === undefined ? task.retry : resolveRetry(options.retry, `node "${this.id}"`);
    this.timeoutMs = options.timeoutMs ?? task.timeoutMs;
    if (!Number.isFinite(this.timeoutMs) || this.timeoutMs < 0) {
      throw new ConfigError(`node "${this.id}": timeoutMs expected a number from 0 and up, got ${String(this.timeoutMs)}`);
    }
    this.queue = options.queue === undefined ? task.queue : checkName(options.queue, `node "${this.id}": queue`);
    this.priority = checkPriority(options.priority, `node "${this.id}"`);
    this.map = {};
    this.map = resolveMapOptions(options, this.definition());
  }

  /** The node as plain data. */
  definition(): NodeDefinition {
    const definition: NodeDefinition = {
      id: this.id,
      kind: 'task',
      name: this.task.name,
      bound: this.bound,
      requires: [...this.task.requires],
      optional: [...this.task.optional],
      provides: [...this.task.provides],
      persistent: this.persistent,
      rollback: this.task.rollback !== undefined,
      retry: this.retry,
      timeoutMs: this.timeoutMs,
      queue: this.queue,
      ...this.map,
    };
    if (this.task.limit !== undefined) definition.limit = this.task.limit;
    if (this.task.rate !== undefined) definition.rate = this.task.rate;
    if (this.priority !== undefined) definition.priority = this.priority;
    return definition;
  }
}

/** Options of {@link event}. */
export interface EventOptions {
  /**
   * Node id in the flow.
   * @default the event's name
   */
  id?: string;
  /**
   * Payload fields this event provides, for validation. Left out, the event
   * provides whatever fields its payloads carry.
   */
  provides?: readonly string[];
}

const EVENT_KEYS = optionKeys<EventOptions>({ id: true, provides: true });

/** A named external source that anything may notify; nodes listen to it like to a task. */
export class EventNode<P extends TaskInputs = TaskInputs> {
  /** Always `event`. */
  readonly kind = 'event' as const;
  /** Node id in the flow. */
  readonly id: string;
  /** Declared payload fields, or undefined for open payloads. */
  readonly provides: readonly string[] | undefined;
  /** Phantom field carrying the payload type; never set. */
  declare readonly types?: { inputs: TaskInputs; output: P };

  /** @internal use {@link event} */
  constructor(
    /** The event name, as given to `notify`. */
    readonly name: string,
    options: EventOptions,
  ) {
    checkName(name, 'event name');
    checkKeys(options, EVENT_KEYS, `event "${name}"`);
    this.id = checkName(options.id ?? name, `event "${name}": id`);
    this.provides = options.provides === undefined ? undefined : [...options.provides];
  }

  /** The node as plain data. */
  definition(): NodeDefinition {
    return {
      id: this.id,
      kind: 'event',
      name: this.name,
      bound: {},
      requires: [],
      optional: [],
      provides: this.provides === undefined ? undefined : [...this.provides],
      persistent: true,
      rollback: false,
      retry: resolveRetry(0, `event "${this.name}"`),
      timeoutMs: 0,
      queue: 'default',
    };
  }
}

/**
 * Declares an external event source.
 *
 * @example
 * const serverCreated = event<{ ip: string }>('server.created', { provides: ['ip'] });
 */
export function event<P extends TaskInputs = TaskInputs>(name: string, options: EventOptions = {}): EventNode<P> {
  return new EventNode<P>(name, options);
}

/** Any node of a flow. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- variance: any typed node is accepted
export type AnyNode = TaskNode<any, any> | EventNode<any>;
