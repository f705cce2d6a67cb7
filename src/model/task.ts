/**
 * Tasks: named units of work. Only a task's name travels on the bus; its code is
 * registered in every process that executes it.
 *
 * @packageDocumentation
 */
import { ConfigError } from '../errors.js';
import { checkName, checkNames } from './names.js';
import type { RetryPolicy } from './definition.js';
import type { Failure } from './failure.js';
import { resolveRetry, type RetryOption } from './retry.js';
import { TaskNode, type NodeOptions } from './node.js';
import { checkKeys, optionKeys } from './options.js';
import { checkLimit, checkRate, type ConcurrencyLimit, type RateLimit } from './flow-control.js';

/** Inputs a task receives, by name. */
export type TaskInputs = Record<string, unknown>;

/** What a task's apply receives besides its inputs. */
export interface TaskContext {
  /** The run this execution belongs to. */
  readonly runId: string;
  /** The node being executed. */
  readonly nodeId: string;
  /** The task's registered name. */
  readonly task: string;
  /**
   * Attempt number, 1 for the first; a retry after a failure is the next number.
   * Execution is at least once: an attempt interrupted by a crash (or a lost
   * worker, or a redelivered dispatch) runs again with the same number, so one
   * attempt number may be seen more than once. Tell executions apart with
   * {@link TaskContext.executionId}.
   */
  readonly attempt: number;
  /** Unique to this execution: differs between two executions of the same attempt. */
  readonly executionId: string;
  /** For a persistent listener: the notification number this activation answers. */
  readonly activation: number | undefined;
  /** Fires when the run is cancelled or the attempt times out. */
  readonly signal: AbortSignal;
}

/** What a task's rollback receives besides the inputs its apply received. */
export interface RollbackContext<O> extends TaskContext {
  /** The result of apply, when apply succeeded (saga rollback); undefined when it failed. */
  readonly result: O | undefined;
  /** The failure of apply, when the rollback follows the task's own failure. */
  readonly error: Failure | undefined;
}

/** How a task is defined. */
export interface TaskSpec<I extends TaskInputs, O> {
  /**
   * Input names the task needs before it can run.
   * @default []
   */
  requires?: readonly (keyof I & string)[];
  /**
   * Input names passed when available, never waited for.
   * @default []
   */
  optional?: readonly (keyof I & string)[];
  /**
   * Names the result is published as. One name: the whole result; several: the
   * result is an object and each name takes its field.
   * @default the task's name
   */
  provides?: string | readonly string[];
  /** The work. May be sync or async; receives the inputs by name. */
  apply(inputs: I, context: TaskContext): O | Promise<O>;
  /** Undoes apply. Runs after the task's last failed attempt, and in a saga rollback. */
  rollback?(inputs: I, context: RollbackContext<O>): unknown;
  /**
   * Retries: a number (the limit) or a policy.
   * @default no retries
   */
  retry?: RetryOption;
  /**
   * Timeout of one attempt in milliseconds; 0 for none.
   * @default 0
   */
  timeoutMs?: number;
  /**
   * Work queue the task is dispatched to, so workers can specialise.
   * @default "default"
   */
  queue?: string;
  /**
   * At most `concurrency` executions at once in the whole deployment (every
   * worker, every coordinator, every run), per value of the input `key` if
   * given. Excess executions wait in order, not counted as running.
   * @default no limit
   * @example limit: { concurrency: 5, key: 'customer' }
   */
  limit?: ConcurrencyLimit;
  /**
   * At most `count` executions start in any `perMs` milliseconds (per value
   * of `limit.key`, if given).
   * @default no limit
   * @example rate: { count: 10, perMs: 1000 }
   */
  rate?: RateLimit;
}

/** A registered unit of work. Create one with {@link task}. */
export interface Task<N extends string = string, I extends TaskInputs = TaskInputs, O = unknown> {
  /** Registered name. */
  readonly name: N;
  /** Required input names. */
  readonly requires: readonly string[];
  /** Optional input names. */
  readonly optional: readonly string[];
  /** Names the result is published as. */
  readonly provides: readonly string[];
  /** The work. */
  apply(inputs: I, context: TaskContext): O | Promise<O>;
  /** The undo, if any. */
  rollback?(inputs: I, context: RollbackContext<O>): unknown;
  /** Resolved retry policy. */
  readonly retry: RetryPolicy;
  /** Timeout of one attempt in milliseconds (0: none). */
  readonly timeoutMs: number;
  /** Work queue. */
  readonly queue: string;
  /** Concurrency limit, if any. */
  readonly limit: ConcurrencyLimit | undefined;
  /** Rate limit, if any. */
  readonly rate: RateLimit | undefined;
  /**
   * A node (signature) of this task, with some inputs bound up front.
   * @example mult.s({ y: 3 })
   */
  s(bound?: Partial<I>, options?: NodeOptions): TaskNode<I, O>;
}

/** Any task, whatever its types. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- variance: a Task<I> must be usable where any task is accepted
export type AnyTask = Task<string, any, any>;

/** The default work queue. */
export const DEFAULT_QUEUE = 'default';

const TASK_KEYS = optionKeys<TaskSpec<TaskInputs, unknown>>({
  requires: true,
  optional: true,
  provides: true,
  apply: true,
  rollback: true,
  retry: true,
  timeoutMs: true,
  queue: true,
  limit: true,
  rate: true,
});

/**
 * Defines a task. Unknown fields of `spec` are refused (`TW_CONFIG`, naming the closest known one).
 *
 * @example
 * const add = task('add', {
 *   requires: ['x', 'y'],
 *   apply: ({ x, y }: { x: number; y: number }) => x + y,
 * });
 */
export function task<N extends string, I extends TaskInputs, O>(name: N, spec: TaskSpec<I, O>): Task<N, I, O> {
  checkName(name, 'task name');
  checkKeys(spec, TASK_KEYS, `task "${name}"`);
  if (typeof spec?.apply !== 'function') throw new ConfigError(`task "${name}": apply expected a function, got ${typeof spec?.apply}`);
  if (spec.rollback !== undefined && typeof spec.rollback !== 'function') {
    throw new ConfigError(`task "${name}": rollback expected a function, got ${typeof spec.rollback}`);
  }
  const requires = checkNames(spec.requires ?? [], `task "${name}": requires`);
  const optional = checkNames(spec.optional ?? [], `task "${name}": optional`);
  const both = requires.find((input) => optional.includes(input));
  if (both !== undefined) throw new ConfigError(`task "${name}": "${both}" is both required and optional`);
  const provides = checkNames(spec.provides === undefined ? [name] : typeof spec.provides === 'string' ? [spec.provides] : spec.provides, `task "${name}": provides`);
  const timeoutMs = spec.timeoutMs ?? 0;
  if (!Number.isFinite(timeoutMs) || timeoutMs < 0) {
    throw new ConfigError(`task "${name}": timeoutMs expected a number from 0 and up, got ${String(timeoutMs)}`);
  }
  const limit = checkLimit(spec.limit, `task "${name}"`);
  if (limit?.key !== undefined && !requires.includes(limit.key) && !optional.includes(limit.key)) {
    throw new ConfigError(`task "${name}": limit.key "${limit.key}" is not one of its inputs (requires or optional)`);
  }
  const self: Task<N, I, O> = {
    name,
    requires,
    optional,
    provides,
    apply: spec.apply.bind(spec),
    rollback: spec.rollback?.bind(spec),
    retry: resolveRetry(spec.retry, `task "${name}"`),
    timeoutMs,
    queue: checkName(spec.queue ?? DEFAULT_QUEUE, `task "${name}": queue`),
    limit,
    rate: checkRate(spec.rate, `task "${name}"`),
    s: (bound, options) => new TaskNode<I, O>(self, (bound ?? {}), options ?? {}),
  };
  return Object.freeze(self);
}
